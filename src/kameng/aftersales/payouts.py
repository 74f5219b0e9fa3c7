"""Paying refunds back: wallet at once, original path through the gateway — and never twice.

The payout row (with its unique request number) commits before the gateway is called; a retry
reuses the number, which the gateway dedupes; the gateway's notification is deduplicated by the
payout's state under a row lock; a crash between the call and our commit is repaired by
`payouts_reconcile`, which asks the gateway about that request number before calling again.
"""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction

from kameng.core import clock
from kameng.core.money import Money
from kameng.core.workdays import add_workdays
from kameng.inventory.models import CardSecret, KeyIssue, SecretStatus
from kameng.inventory.quarantine import secret_returned
from kameng.ledger.models import Journal
from kameng.ledger.services import Accounts, Line, journal_post
from kameng.ledger.supplier_money import chargeback_lines
from kameng.orders.compensation import compensation_paid_for
from kameng.orders.locking import lock_items
from kameng.orders.models import ItemStatus, Order
from kameng.orders.policies import order_commission_fen
from kameng.payments import audit as payment_audit
from kameng.payments import errors as payment_errors
from kameng.payments import services as payment_services
from kameng.payments.gateways import sandbox, sandbox_refunds

from . import gateway_payouts
from .events import refund_event, tell_buyer
from .locking import lock_payout, lock_refund
from .models import Refund, RefundPayout, RefundStatus
from .policies import KEY_REASONS, PERSONAL_REASONS

logger = logging.getLogger(__name__)

ARRIVAL_WORKDAYS = {"wallet": 0, "alipay": 2, "wechat": 2, "bank": 5}
RECONCILE_AFTER = timedelta(minutes=2)
QUERY_SENT_AFTER = timedelta(minutes=5)  # a real gateway's refund notification this late is asked about


def expected_arrival(channel: str, now):
    days = ARRIVAL_WORKDAYS.get(channel, 5)
    return now if days == 0 else add_workdays(now, days)


def payout_start(*, refund: Refund, order: Order, tell: bool = True) -> RefundPayout:
    """approved → refunding: reserve the amount on the order, settle the keys, create the payout.

    `tell=False`: the caller's own notice already says where the money goes and when (the platform's own
    refund, an automatic approval), so the buyer gets one message, and one SMS, for the one event."""
    now = clock.now()
    total = refund.refund_amount_fen
    if total > order.amount_fen - order.refunded_fen:
        from kameng.core.errors import Conflict

        raise Conflict("this would refund more than was paid", code="REFUND_EXCEEDS_PAID")
    order.refunded_fen += total  # the database refuses anything above the amount paid
    order.save(update_fields=["refunded_fen"])
    channel = "wallet" if refund.destination == "wallet" or order.channel == "wallet" else order.channel
    payout = RefundPayout.objects.create(
        refund=refund, request_no=f"RF{refund.refund_no}", channel=channel, amount_fen=total,
        created_at=now, expected_arrival_by=expected_arrival(channel, now),
    )
    refund.start_refund()
    refund.expected_arrival_by = payout.expected_arrival_by
    refund.save()
    refund_event(refund=refund, event="refunding", note=f"{Money(total)} via {channel}, request {payout.request_no}")
    if channel == "wallet":
        payout_complete(payout=payout, refund=refund, order=order, gateway_ref="WALLET", tell=tell)
    else:
        from .tasks import send_payout

        send_payout.enqueue(payout.id)  # the job row commits with the payout row, never before
        if tell:
            tell_buyer(refund, "payout.sent", amount=Money(total), channel=channel, arrival=payout.expected_arrival_by)
    _settle_keys(refund, now)  # last: a returned key may lock its batch, which comes after the items (core.locks)
    return payout


def _settle_keys(refund: Refund, now) -> None:
    """Never revealed → back to stock; revealed, or claimed bad (invalid, already used) → voided for ever."""
    item_ids = list(refund.items.values_list("order_item_id", flat=True))
    for issue in KeyIssue.objects.select_related("order_item").filter(order_item_id__in=item_ids, returned_at__isnull=True):
        if issue.order_item.first_revealed_at is None and refund.reason not in KEY_REASONS:
            KeyIssue.objects.filter(id=issue.id).update(returned_at=now)
            secret_returned(secret_id=issue.secret_id)  # on sale again, unless its batch is quarantined or voided
        else:
            CardSecret.objects.filter(id=issue.secret_id).update(status=SecretStatus.VOIDED)


def _ledger_lines(refund: Refund, order: Order, payout: RefundPayout) -> list[Line]:
    gross = refund.refund_amount_fen + refund.fee_fen
    destination = Accounts.wallet(order.buyer_id) if payout.channel == "wallet" else Accounts.clearing(payout.channel)
    credits = [Line(destination, -refund.refund_amount_fen), Line("refund_fees", -refund.fee_fen)]
    settled = Journal.objects.filter(reference=f"settle:{order.order_no}").exists()
    if not settled:
        # The money never left escrow, and these items close now: all of their price leaves it. What
        # the buyer is not given back (a partial approval: the buyer kept that much value) is settled
        # as a sale, to the supplier less the platform's commission — as it stays after a delivered
        # order's partial refund — so nothing is stranded in escrow.
        kept = refund.amount_fen - gross
        commission = order_commission_fen(order, kept) if kept > 0 else 0
        return [Line(Accounts.ESCROW, refund.amount_fen), *credits,
                Line(Accounts.payable(order.snapshot["supplier_id"]), -(kept - commission)),
                Line(Accounts.COMMISSION, -commission)]
    if refund.liable == "supplier" or refund.reason in PERSONAL_REASONS:
        # A personal-reason return kept back the late-delivery compensation the supplier paid on these
        # items (see services._refund_open): the supplier is charged the sale it gave up less that, so
        # it ends where it would without the sale; the commission reversed is the sale's.
        held_back = min(compensation_paid_for(order, refund.items.values_list("order_item_id", flat=True)).fen,
                        refund.amount_fen - gross) if refund.reason in PERSONAL_REASONS else 0
        commission = order_commission_fen(order, gross + held_back)
        # Pending while the sale is; after it matured, from what the supplier may withdraw (supplier_money).
        # Past maturity, what `available` cannot cover comes from the supplier's deposit (supplier_money).
        return [*chargeback_lines(order, gross - commission), Line(Accounts.COMMISSION, commission), *credits]
    return [Line("losses", gross), *credits]


def payout_complete(*, payout: RefundPayout, refund: Refund, order: Order, gateway_ref: str, tell: bool = True) -> None:
    """The money is back with the buyer (caller holds the locks): book it, close the items and the order."""
    now = clock.now()
    payout.status = RefundPayout.Status.SUCCEEDED
    payout.gateway_ref = gateway_ref
    payout.completed_at = now
    payout.save()
    # The items before the wallet the journal credits: the codebase's one lock order (kameng.core.locks).
    items = lock_items(refund.items.filter(active=True).values_list("order_item_id", flat=True))
    journal_post(reference=f"refund:{refund.refund_no}", kind="refund", lines=_ledger_lines(refund, order, payout),
                 order=order, memo=f"{refund.reason}, borne by {refund.liable}")
    refund.complete_refund()
    refund.refunded_at = now
    refund.save()
    for item in items:
        item.mark_refunded()
        item.save()
    refund.items.update(active=False)
    if not order.items.exclude(status=ItemStatus.REFUNDED).exists():
        order.mark_refunded()
    else:
        order.mark_partially_refunded()
    order.save()
    refund_event(refund=refund, event="refunded", note=f"{Money(payout.amount_fen)} via {payout.channel} ({gateway_ref})")
    if tell:
        tell_buyer(refund, "payout.arrived", amount=Money(payout.amount_fen), channel=payout.channel,
                   fee=Money(refund.fee_fen), sms=True)


def payout_send(*, payout_id: int) -> None:
    """Call the gateway for a committed payout. Safe to repeat: the request number is reused."""
    payout = RefundPayout.objects.select_related("refund").get(id=payout_id)
    if payout.status != RefundPayout.Status.PENDING:
        return
    gateway_payouts.payout_send(payout)


def refund_notification_receive(fields: dict) -> RefundPayout:
    """The gateway says a refund arrived. Signed, fresh, matching a payout we sent — and only once.

    Every notification is recorded in the payments' audit trail, accepted or refused; a refusal
    changes nothing else.
    """
    record = partial(payment_audit.record, gateway=sandbox.NAME, kind="refund", fields=fields,
                     expected=sandbox_refunds.FIELDS)
    try:
        fields = payment_services.notification_fields(fields)
        payout = _refund_notification_apply(fields)
    except payment_errors.DomainError as exc:
        record(outcome=exc.code)
        logger.warning("refund notification refused: %s request_no=%s", exc.code,
                       payment_audit.clean(fields.get("request_no", ""), 40))
        raise
    except Exception:
        payment_audit.record_failure(record)
        raise
    record(outcome=payment_audit.ACCEPTED)
    return payout


def _refund_notification_apply(fields: dict) -> RefundPayout:
    if not settings.KAMENG_SANDBOX:
        raise payment_errors.sandbox_off()
    missing = [n for n in (*sandbox_refunds.FIELDS, "sign") if not fields.get(n)]
    if missing:
        raise payment_errors.BadNotification(f"missing fields: {', '.join(missing)}")
    if not sandbox.verify(fields):
        raise payment_errors.bad_signature()
    if fields["status"] != "REFUND_SUCCESS":
        raise payment_errors.BadNotification("only REFUND_SUCCESS completes a refund", code="UNSUPPORTED_STATUS")
    if not payment_services.is_fresh(fields["ts"]):
        raise payment_errors.stale()
    try:
        amount = Money.parse(fields["amount"])
    except Exception as exc:
        raise payment_errors.amount_mismatch() from exc
    with transaction.atomic():
        found = RefundPayout.objects.filter(request_no=fields["request_no"]).values_list("refund_id", "id").first()
        if found is None:
            raise payment_errors.payout_not_found()
        order, refund = lock_refund(found[0])  # the codebase's one lock order: order, refund, payout
        payout = lock_payout(found[1])
        if amount.fen != payout.amount_fen:
            raise payment_errors.amount_mismatch()
        if payout.gateway_ref and fields["refund_ref"] != payout.gateway_ref:
            raise payment_errors.refund_ref_mismatch()
        if payout.status == RefundPayout.Status.SUCCEEDED:
            raise payment_errors.already_processed()
        # Only a refund the gateway accepted from us can complete: one still pending is settled by
        # `payouts_reconcile` first (the gateway retries its notification meanwhile).
        if payout.status != RefundPayout.Status.SENT or refund.status != RefundStatus.REFUNDING:
            raise payment_errors.payout_not_sent()
        payout_complete(payout=payout, refund=refund, order=order, gateway_ref=fields["refund_ref"])
    return payout


def payouts_reconcile(*, limit: int = 200) -> int:
    """Repair payouts whose gateway call or notification may have been lost: ask the gateway about the
    request number, then settle, mark sent, or send again with the same number."""
    stale = RefundPayout.objects.filter(status=RefundPayout.Status.PENDING, created_at__lte=clock.now() - RECONCILE_AFTER)
    repaired = 0
    for payout in stale.select_related("refund").order_by("id")[:limit]:
        gateway_payouts.payout_query(payout)
        repaired += 1
    repaired += gateway_payouts.payouts_query_sent(older_than=QUERY_SENT_AFTER, limit=limit)
    if repaired:
        logger.info("reconciled %d refund payouts", repaired)
    return repaired


def gateway_refunds_notify_due() -> int:
    """Sandbox only: the gateway sends the notifications of refunds it has completed by now."""
    if not settings.KAMENG_SANDBOX:
        return 0
    return sandbox_refunds.send_due(refund_notification_receive)
