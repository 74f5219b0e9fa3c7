"""Orders at goods sources (货源): placing them, taking their signed result callbacks, asking about silent ones.

The order's state lives in `orders` (TopupDispatch and `fulfilment.topup_settle`); here is everything
that talks to a source: which source an order went to (`SupplierOrder`), the callbacks' audit trail
(`SupplierNotification`), and the sweep that asks a source about top-ups past their promise with no
callback and ends the ones silent past the hard limit in a refund.
"""

import logging
import os
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.payments.audit import clean

from .models import SupplierNotification, SupplierOrder, SupplierSource
from .suppliers import adapter_for, adapter_for_source, protocol
from .suppliers.base import (
    CallbackRefused,
    NotConfigured,
    SupplierRefused,
    SupplyKind,
    SupplyOrder,
    SupplyResult,
    SupplyState,
    UnknownOutcome,
)

logger = logging.getLogger(__name__)

__all__ = ["NotPlaced", "SupplyState", "callback_receive", "order_submit", "result_settle", "supply_query_due"]

NOTIFY_PATH = "/api/v1/suppliers/notify/{source_id}"
# A submit whose answer we never read is asked about once no copy of it can still arrive (the source
# refuses requests older than the freshness window): from then on "no such order" is the truth.
UNKNOWN_SUBMIT_QUERY_AFTER = protocol.FRESHNESS + timedelta(minutes=1)
QUERY_INTERVALS = (timedelta(minutes=2), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30))
CALLBACK_FIELDS = ("out_order_no", "order_no", "status", "face_value", "quantity", "cards", "nonce")


class NotPlaced(Exception):
    """The order was not placed at its source and never will be: it ends in a refund."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason[:200]


def hard_limit() -> timedelta:
    """How long past its promise a top-up may stay without a result before it is refunded as timed out."""
    return timedelta(hours=float(getattr(settings, "KAMENG_TOPUP_TIMEOUT_HOURS", 48)))


def notify_url(source: SupplierSource | None) -> str:
    if source is None:
        return ""
    base = (getattr(settings, "KAMENG_PUBLIC_URL", "") or os.environ.get("KAMENG_PUBLIC_URL", "")).rstrip("/")
    return (base or "http://127.0.0.1:8000") + NOTIFY_PATH.format(source_id=source.id)


def source_label(order) -> str:
    supply = SupplierOrder.objects.filter(order=order).select_related("source").first()
    return supply.source.name if supply and supply.source else "sandbox"


def _promised_at(order):
    return order.paid_at + timedelta(minutes=order.snapshot.get("delivery_promise_minutes", 0))


# ---- placing ----------------------------------------------------------------------------------------


def order_submit(*, order, account: str) -> SupplyResult:
    """Place the order at its product's source (the caller holds the order's lock). Raises NotPlaced.

    An outcome we cannot know (timeout, garbage) is not a failure: the order counts as placed with no
    reference, and is asked about once no copy of the request can still arrive.
    """
    product = order.product
    try:
        adapter = adapter_for(product)
    except NotConfigured as exc:
        logger.error("top-up %s not sent: %s", order.order_no, exc)
        raise NotPlaced(f"no source to send it to: {exc}") from None
    request = SupplyOrder(
        order_no=order.order_no, kind=SupplyKind.TOPUP if product.kind == "topup" else SupplyKind.CARD,
        sku=product.source_sku, face_value_fen=product.face_value_fen, quantity=order.quantity, account=account,
        notify_url=notify_url(product.source),
    )
    now = clock.now()
    supply, _ = SupplierOrder.objects.get_or_create(
        order=order, defaults={"source": product.source, "kind": str(request.kind), "sku": request.sku,
                               "submitted_at": now})
    try:
        result = adapter.submit(request)
    except SupplierRefused as exc:
        logger.warning("source %s refused order %s: %s", adapter.name, order.order_no, exc.code)
        SupplierOrder.objects.filter(id=supply.id).update(last_answer=f"refused {exc.code}"[:60], next_query_at=None)
        raise NotPlaced(f"refused by the source: {exc.code} {exc.message}") from None
    except UnknownOutcome as exc:
        logger.warning("order %s at source %s: outcome unknown (%s); will ask", order.order_no, adapter.name, exc)
        SupplierOrder.objects.filter(id=supply.id).update(
            last_answer="unknown", next_query_at=max(now + UNKNOWN_SUBMIT_QUERY_AFTER, _promised_at(order)))
        return SupplyResult(order_no=order.order_no, state=SupplyState.PROCESSING)
    SupplierOrder.objects.filter(id=supply.id).update(
        last_answer=str(result.state), next_query_at=max(now + QUERY_INTERVALS[0], _promised_at(order)))
    return result


# ---- results ----------------------------------------------------------------------------------------


def _amount_problem(order, result: SupplyResult) -> str:
    face = order.product.face_value_fen
    try:
        face = protocol.fen(order.snapshot["face_value"])
    except (KeyError, ValueError):
        pass
    if result.face_value_fen is not None and result.face_value_fen != face:
        return "face value differs"
    if result.quantity is not None and result.quantity != order.quantity:
        return "quantity differs"
    return ""


def result_settle(*, order, result: SupplyResult, actor: str) -> None:
    """Apply a source's success or failure to the order (the caller holds the order's lock)."""
    from kameng.core.errors import Invalid
    from kameng.orders.fulfilment import topup_settle

    problem = _amount_problem(order, result)
    if problem:
        raise Invalid(f"the result does not match the order: {problem}", code="AMOUNT_MISMATCH")
    succeeded = result.state == SupplyState.SUCCEEDED
    topup_settle(order=order, succeeded=succeeded, actor=actor, cards=result.cards,
                 reason="" if succeeded else f"reported failed by the source: {result.message}"[:200])


def _record(*, source, source_ref: str, outcome: str, fields: dict, nonce: str = "", spent: bool = False,
            order_no: str = "") -> SupplierNotification:
    safe = {name: clean(fields[name]) for name in CALLBACK_FIELDS if name in fields}
    return SupplierNotification.objects.create(
        source=source, source_ref=clean(source_ref, 32), order_no=clean(order_no or safe.get("out_order_no", ""), 64),
        nonce=clean(nonce, 64), nonce_spent=spent, fields=safe, outcome=clean(outcome, 40), received_at=clock.now())


def _record_verified_refusal(*, source, source_ref: str, outcome: str, fields: dict) -> None:
    """A signed callback we still cannot take: recorded with its nonce spent, so a replay of it is one."""
    try:
        with transaction.atomic():
            _record(source=source, source_ref=source_ref, outcome=outcome, fields=fields, nonce=fields["nonce"],
                    spent=True)
    except IntegrityError:  # the same message, raced in twice
        _record(source=source, source_ref=source_ref, outcome="REPLAYED", fields=fields)


def answer(code: str) -> tuple[int, dict]:
    from kameng.core.error_texts import text_for

    status, protocol_code = protocol.ANSWERS.get(code, (400, "1005"))
    body = {"code": protocol_code, "message": protocol.CODES.get(protocol_code, "")}
    if protocol_code != protocol.OK:
        body["error"] = {"code": code, "message": text_for(code, protocol.CODES.get(protocol_code, code))}
    return status, body


def _find_source(source_ref: str) -> SupplierSource | None:
    if not (source_ref.isascii() and source_ref.isdigit() and len(source_ref) < 12):
        return None
    return SupplierSource.objects.filter(id=int(source_ref)).first()


def callback_receive(*, source_ref: str, headers, body: bytes) -> tuple[int, dict]:
    """A source's signed result callback → (HTTP status, answer). Refused ones change nothing but the trail.

    Checked: the source exists, the signature (its notify secret), freshness, the nonce never used
    before, our order number placed at this very source, face value and quantity. Never raises.
    """
    source = None
    fields: dict = {}
    try:
        source = _find_source(source_ref)
        if source is None:
            raise CallbackRefused("SOURCE_NOT_FOUND")
        callback = adapter_for_source(source).parse_callback(headers=headers, body=body)
        fields = {**callback.log_fields, "nonce": callback.nonce}
        outcome = _apply_callback(source=source, source_ref=source_ref, callback=callback, fields=fields)
    except CallbackRefused as exc:
        fields = fields or exc.log_fields
        _record(source=source, source_ref=source_ref, outcome=exc.code, fields=fields)
        logger.warning("supplier callback refused: %s source=%s", exc.code, clean(source_ref, 32))
        return answer(exc.code)
    except DomainError as exc:
        _record_verified_refusal(source=source, source_ref=source_ref, outcome=exc.code, fields=fields)
        logger.warning("supplier callback refused: %s source=%s order=%s", exc.code, clean(source_ref, 32),
                       fields.get("out_order_no", ""))
        return answer(exc.code)
    except Exception:
        logger.exception("supplier callback failed unexpectedly (source %s)", clean(source_ref, 32))
        try:
            _record(source=source, source_ref=source_ref, outcome="INTERNAL_ERROR", fields=fields)
        except Exception:
            logger.exception("could not record a failed supplier callback")
        return answer("INTERNAL_ERROR")
    return answer(outcome)


def callback_too_large(*, source_ref: str) -> None:
    _record(source=_find_source(source_ref), source_ref=source_ref, outcome="PAYLOAD_TOO_LARGE", fields={})


def _apply_callback(*, source, source_ref: str, callback, fields: dict) -> str:
    from kameng.orders.locking import lock_order

    result = callback.result
    with transaction.atomic():
        try:
            with transaction.atomic():  # the nonce is spent with the result, or not at all
                note = _record(source=source, source_ref=source_ref, outcome="ACCEPTED", fields=fields,
                               nonce=callback.nonce, spent=True)
        except IntegrityError:
            raise CallbackRefused("REPLAYED") from None
        supply = SupplierOrder.objects.filter(order__order_no=result.order_no, source=source).first()
        if supply is None:
            raise DomainError("no order with this number was placed at this source", code="ORDER_NOT_FOUND",
                              status=404)
        order = lock_order(supply.order_id)
        try:
            result_settle(order=order, result=result, actor=f"supplier:{source.name}"[:160])
            outcome = "ACCEPTED"
        except DomainError as exc:
            if exc.code != "TOPUP_FINISHED":
                raise
            outcome = "DUPLICATE"  # already settled (an earlier callback or the query): nothing changes
        SupplierNotification.objects.filter(id=note.id).update(outcome=outcome)
    return outcome


# ---- the sweep --------------------------------------------------------------------------------------


def supply_query_due(*, limit: int = 100) -> int:
    """Ask the source about in-flight orders past their promise with no result; settle from the answer.

    Success delivers, failure refunds; `not_found` once no request copy can arrive means never placed
    (refunded); no answer, or still processing, past promise + `KAMENG_TOPUP_TIMEOUT_HOURS` ends in a
    refund as timed out. The network call is made holding no lock; the answer is applied under the
    order's lock, after checking the top-up is still in flight.
    """
    now = clock.now()
    due = list(SupplierOrder.objects.filter(next_query_at__lte=now, order__topup__status="dispatched")
               .select_related("source", "order").order_by("next_query_at", "id")[:limit])
    for supply in due:
        _query_one(supply, now)
    return len(due)


def _query_one(supply: SupplierOrder, now) -> None:
    from kameng.orders.fulfilment import topup_settle
    from kameng.orders.locking import lock_order
    from kameng.orders.models import TopupDispatch, TopupStatus

    order = supply.order
    adapter = adapter_for_source(supply.source)
    try:
        result = adapter.query(order.order_no)
        answered = str(result.state)
    except (UnknownOutcome, SupplierRefused) as exc:
        result, answered = None, f"no answer: {exc}"[:60]
        logger.warning("query of %s at %s: %s", order.order_no, adapter.name, exc)
    actor = f"supplier-query:{adapter.name}"[:160]
    interval = QUERY_INTERVALS[min(supply.queries, len(QUERY_INTERVALS) - 1)]
    try:
        with transaction.atomic():
            order = lock_order(order.id)
            if not TopupDispatch.objects.filter(order=order, status=TopupStatus.DISPATCHED).exists():
                return
            timed_out = now >= _promised_at(order) + hard_limit()
            if result is not None and result.state in (SupplyState.SUCCEEDED, SupplyState.FAILED):
                result_settle(order=order, result=result, actor=actor)
            elif (result is not None and result.state == SupplyState.NOT_FOUND
                  and now - supply.submitted_at >= UNKNOWN_SUBMIT_QUERY_AFTER):
                topup_settle(order=order, succeeded=False, actor=actor,
                             reason="the source has no such order: it was never placed")
            elif timed_out:
                topup_settle(order=order, succeeded=False, actor=actor, timed_out=True,
                             reason=f"no result from the source within {hard_limit()} past the promise")
    except DomainError as exc:  # an answer we cannot apply (amount differs, unusable keys): ask again later
        answered = f"unusable: {exc.code}"[:60]
        logger.error("query of %s at %s: answer not applied (%s)", order.order_no, adapter.name, exc.code)
    SupplierOrder.objects.filter(id=supply.id).update(next_query_at=now + interval, queries=supply.queries + 1,
                                                       last_answer=answered)


def balance_fen(source: SupplierSource) -> int:
    """What we hold at the source; raises UnknownOutcome or SupplierRefused when it cannot say."""
    return adapter_for_source(source).balance_fen()


def source_create(*, name: str, endpoint_url: str, merchant_id: str, api_secret: str, notify_secret: str,
                  timeout_seconds: int = 10, is_active: bool = True) -> SupplierSource:
    now = clock.now()
    source = SupplierSource(name=name, endpoint_url=endpoint_url, merchant_id=merchant_id,
                            timeout_seconds=timeout_seconds, is_active=is_active, created_at=now, updated_at=now)
    source.set_secrets(api_secret=api_secret, notify_secret=notify_secret)
    source.full_clean()
    source.save()
    return source

