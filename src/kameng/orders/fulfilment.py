"""From paid to delivered: keys from stock, top-ups through the supplier, manual goods by hand.

Everything here runs inside the payment's transaction or under the order's row lock, so an order
is delivered once whatever retries or races happen around it.
"""

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Sum

from kameng.core import clock, compiled, locks
from kameng.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from kameng.core.money import Money
from kameng.inventory import services as inventory
from kameng.ledger.services import Accounts, Line, journal_post

from .compensation import KIND as COMPENSATION_KIND
from .compensation import late_delivery_compensate
from .events import actor_label, order_event, order_events
from .locking import lock_order
from .models import ItemStatus, Order, OrderItem, OrderStatus, TopupDispatch, TopupStatus
from .policies import order_commission_fen
from .selectors import product_of

logger = logging.getLogger(__name__)


def order_paid(*, order: Order, payment, items: list | None = None, taken=None) -> Order:
    """The order's money arrived (the caller holds the order's row lock): deliver what can be.

    Delivered from stock at once (the common case), the order row is written once (paid and delivered
    together), its events in one INSERT, and — given `taken` (payments.TakenMoney, the payment not yet
    booked) — its settlement draws on the payment's channel in one journal: round trips are what a
    purchase waits on.
    """
    was_expired = order.status in (OrderStatus.EXPIRED, OrderStatus.CLOSED)
    order.mark_paid(at=payment.paid_at)
    events = [("paid", f"gateway:{payment.channel}", payment.payment_no)]
    if was_expired:
        events.append(("late_payment", "system", "paid after the order expired or was cancelled; delivery attempted"))
    product = product_of(order)
    if product.uses_stock and _deliver_from_stock(order, items, events=events, order_fields=("status", "paid_at"),
                                                  taken=taken):
        return order  # saved, and its events written, with the delivery
    order.save(update_fields=["status", "paid_at"])
    if not product.uses_stock:
        if product.sent_to_source:  # a top-up, or card keys bought from the source now
            TopupDispatch.objects.create(order=order, account=order.recharge_account, created_at=clock.now())
            from .tasks import dispatch_topup

            dispatch_topup.enqueue(order.id)
        else:
            events.append(("awaiting_manual_delivery", "system", ""))
    order_events(order=order, events=events)
    return order


_PENDING_ITEMS = compiled.Query(
    lambda order_id: OrderItem.objects.filter(order_id=order_id, status=ItemStatus.PENDING).order_by("position"))


def _deliver_from_stock(order: Order, items: list | None = None, *, events: list | None = None,
                        order_fields=(), taken=None) -> bool:
    """Keys from stock for the order's pending items. Delivered: True, the order saved with `order_fields`
    and `events` written. Out of stock: False, `delivery_failed` added to `events` for the caller to write."""
    own_events = events is None
    events = [] if own_events else events
    if items is None:
        items = _PENDING_ITEMS.all(order_id=order.id)
    if not inventory.secrets_issue(order=order, items=items):
        events.append(("delivery_failed", "system", "out of stock: paid, not delivered"))
        if own_events:
            order_events(order=order, events=events)
        from .tasks import refund_undelivered

        refund_undelivered.enqueue(order.id)  # off sale, no stock coming: refunded at once (after-sales decides)
        return False
    deliver_items(order=order, items=items, events=events, order_fields=order_fields, taken=taken)
    return True


def deliver_items(*, order: Order, items, events: list | None = None, order_fields=(), taken=None) -> None:
    """Mark items delivered; when the whole order is, settle it to the supplier and the platform.

    Items delivered after the order's promise earn the buyer its late-delivery compensation, here, once:
    every delivery path (stock, backorder, by hand, top-up or source result) comes through this function.
    `events` (written here) and `order_fields` (saved here) are what the caller changed and left to write
    with the delivery, so the order row and its history cost one statement each. `taken`: see `order_paid`.
    """
    now = clock.now()
    _items_delivered(items, now)
    events = list(events or [])
    fields = set(order_fields)
    _settle_delivered(order=order, items=items, now=now, events=events, fields=fields, taken=taken)
    if fields:
        compiled.save_fields(order, sorted(fields))
    if events:
        order_events(order=order, events=events)
    late_delivery_compensate(order=order, items=items)


def _items_delivered(items, now) -> None:
    """Every item pending → delivered in one UPDATE; refused (rolled back) if any was not pending."""
    for item in items:
        item.mark_delivered(at=now)
    # In SQL: it runs on every gateway purchase (kameng.core.compiled says why the ORM's build is avoided).
    marks = ", ".join(["%s"] * len(items))
    at = OrderItem._meta.get_field("delivered_at").get_db_prep_value(now, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {OrderItem._meta.db_table} SET status = %s, delivered_at = %s "
                       f"WHERE id IN ({marks}) AND status = %s",
                       [ItemStatus.DELIVERED.value, at, *(item.id for item in items), ItemStatus.PENDING.value])
        changed = cursor.rowcount
    if changed != len(items):  # what ConcurrentTransitionMixin would refuse item by item
        raise Conflict("an item changed while it was being delivered; try again", code="CONCURRENT_CHANGE")
    for item in items:
        item._update_initial_state()  # saved: later saves check against the delivered state


def settlement_lines(*, order: Order, settled_fen: int, source: str = Accounts.ESCROW) -> list[Line]:
    """A delivered sale paid out of `source` (escrow; the buyer's wallet when paid and delivered at once):
    to the supplier less the platform's commission."""
    commission = order_commission_fen(order, settled_fen)  # the rate the order was sold at
    return [
        Line(source, settled_fen),
        Line(Accounts.payable(order.product.supplier_id), -(settled_fen - commission)),
        Line(Accounts.COMMISSION, -commission),
    ]


def _settle_delivered(*, order: Order, items, now, events: list, fields: set, taken=None) -> None:
    # Given every item of the order, none can be left pending; otherwise ask the database.
    if len(items) < order.quantity and order.items.filter(status=ItemStatus.PENDING).exists():
        return
    source, payment = Accounts.ESCROW, None
    if order.status == OrderStatus.PARTIALLY_REFUNDED:
        # Some items were refunded before the rest could be delivered (a backorder): the order keeps its
        # status, and only what escrow still holds for it is settled — the refunds took their share out.
        if taken is not None:
            taken.book()  # (never so at a first payment) into escrow first, where the share is counted
        settled_fen = max(0, _credited(order, Accounts.ESCROW))
        order.delivered_at = now
        fields.add("delivered_at")
    else:
        settled_fen = order.amount_fen
        order.mark_delivered(at=now)
        fields.update(("status", "delivered_at"))
        drawn = taken.settle_from(settled_fen) if taken is not None else None
        if drawn is not None:  # paid and delivered at once: straight from the channel, one journal
            source, payment = drawn, taken.payment
    events.append(("delivered", "system", f"{len(items)} item(s)"))
    journal_post(reference=f"settle:{order.order_no}", kind="order_settled",
                 lines=settlement_lines(order=order, settled_fen=settled_fen, source=source), order=order,
                 payment=payment)


def backorders_deliver(*, product_id: int) -> int:
    """Fill paid-but-undelivered orders of a product from new stock, oldest payment first.

    An order whose other items were refunded meanwhile (`partially_refunded`) still waits for the rest.
    """
    delivered = 0
    waiting = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)
    pending = OrderItem.objects.filter(order=OuterRef("pk"), status=ItemStatus.PENDING)
    candidates = (Order.objects.filter(Exists(pending), product_id=product_id, status__in=waiting)
                  .order_by("paid_at", "id"))
    for order_id in candidates.values_list("id", flat=True):
        with transaction.atomic():
            order = lock_order(order_id)
            if order.status not in waiting or not order.product.uses_stock:
                continue
            if not order.items.filter(status=ItemStatus.PENDING).exists():
                continue
            if not _deliver_from_stock(order):
                break
            delivered += 1
    return delivered


# A queued top-up whose job was lost (or that waited on a refund request since withdrawn) is sent by the
# sweep after this long; the job itself normally sends it within a second.
TOPUP_RESEND_AFTER = timedelta(minutes=2)


def topup_dispatch(*, order_id: int) -> None:
    """Send a queued top-up (or on-demand card order) to its source. Safe to run twice: only a queued one is sent.

    Under the order's lock (the lock a refund request takes first), so a refund and a send never cross:
    a top-up refunded while queued is cancelled, never sent; one held by an open refund request waits.
    The source dedupes on our order number, so a re-run after a crash here never tops up twice.
    """
    from kameng.catalog import supply

    with transaction.atomic():
        order = lock_order(order_id)
        topup = locks.lock_one(TopupDispatch.objects.filter(order=order))
        if topup.status != TopupStatus.QUEUED:
            return
        statuses = set(order.items.values_list("status", flat=True))
        if ItemStatus.REFUNDED in statuses:
            topup.cancel(reason="refunded before it was sent", at=clock.now())
            topup.save()
            order_event(order=order, event="topup_cancelled", note="refunded before it was sent; never sent")
            return
        if statuses != {ItemStatus.PENDING}:
            return  # an open refund request holds it; sent by topups_send_due if the request is let go
        topup.attempts += 1
        try:
            sent = supply.order_submit(order=order, account=topup.account)
        except supply.NotPlaced as exc:  # a signed refusal, or no source to send to: it never will be placed
            topup.save(update_fields=["attempts"])
            topup_settle(order=order, succeeded=False, actor="system", reason=exc.reason)
            return
        topup.mark_dispatched(ref=sent.supplier_ref, at=clock.now())
        topup.save()
        order_event(order=order, event="topup_dispatched", note=sent.supplier_ref or "outcome unknown: will ask")
        if sent.state in (supply.SupplyState.SUCCEEDED, supply.SupplyState.FAILED):  # some sources answer at once
            try:
                with transaction.atomic():
                    supply.result_settle(order=order, result=sent, actor=f"supplier:{supply.source_label(order)}")
            except DomainError as exc:  # an answer we cannot apply: stays in flight for the query (or timeout)
                logger.error("result of %s in the submit answer not applied: %s", order.order_no, exc.code)


def topup_cancel_queued(*, order: Order, reason: str) -> bool:
    """A queued top-up (or source order) whose every item is refunded or being refunded is cancelled now,
    never sent. The caller holds the order's lock and has approved those refunds. False: nothing to cancel."""
    # Not locked again: the order's lock (held) is the gate every change to its top-up passes, and the
    # refund's items (a higher rank) are already locked, so a TopupDispatch lock here would break the order.
    topup = TopupDispatch.objects.filter(order=order, status=TopupStatus.QUEUED).first()
    if topup is None or order.items.exclude(status__in=(ItemStatus.REFUND_PENDING, ItemStatus.REFUNDED)).exists():
        return False
    topup.cancel(reason=reason, at=clock.now())
    topup.save()
    order_event(order=order, event="topup_cancelled", note=f"{reason}; never sent")
    return True


def topups_send_due(*, limit: int = 200) -> int:
    """Queued top-ups not sent in time (lost job, released refund request): send or cancel them now."""
    due = (
        TopupDispatch.objects.filter(status=TopupStatus.QUEUED, created_at__lte=clock.now() - TOPUP_RESEND_AFTER)
        .exclude(order__items__status=ItemStatus.REFUND_PENDING)
        .order_by("id")
        .values_list("order_id", flat=True)
    )
    done = 0
    for order_id in list(due[:limit]):
        topup_dispatch(order_id=order_id)
        done += 1
    return done


def topup_report(*, actor, order_no: str, status: str) -> TopupDispatch:
    """The sandbox supplier's result, reported by hand: recorded once, whatever happened meanwhile."""
    if actor.role not in ("admin", "supplier"):
        raise Forbidden("only the supplier or an admin reports top-up results", code="ROLE_FORBIDDEN")
    if status not in ("success", "failed"):
        raise Invalid("status is success or failed", code="INVALID_STATUS")
    with transaction.atomic():
        order_id = Order.objects.filter(order_no=order_no).values_list("id", flat=True).first()
        order = lock_order(order_id) if order_id else None
        if order is None or (actor.role == "supplier" and order.product.supplier_id != actor.id):
            raise NotFound("no such order", code="ORDER_NOT_FOUND")
        from kameng.catalog.models import SupplierOrder

        if SupplierOrder.objects.filter(order=order, source__isnull=False).exists():
            raise Conflict("this order went to a configured source: its result comes only from that source",
                           code="NOT_SANDBOX_TOPUP")
        return topup_settle(order=order, succeeded=status == "success", actor=actor_label(actor),
                            reason="reported failed by the supplier")


def topup_settle(*, order: Order, succeeded: bool, actor: str, reason: str = "", cards: tuple[str, ...] = (),
                 timed_out: bool = False) -> TopupDispatch:
    """A result for the order's top-up (or on-demand card order), from wherever it came. The caller holds the order's lock.

    Success delivers (the keys, for cards) — even after a refund, which the platform then bears; failure
    refunds the buyer automatically. A result for a top-up already finished raises TOPUP_FINISHED.
    """
    topup = locks.lock_first(TopupDispatch.objects.filter(order=order))
    if topup is None:
        raise Conflict("this order has no top-up in progress", code="NO_TOPUP")
    finished = (TopupStatus.SUCCEEDED,) if succeeded else (
        TopupStatus.SUCCEEDED, TopupStatus.FAILED, TopupStatus.CANCELLED)
    if topup.status in finished:
        raise Conflict(f"the top-up is already {topup.status}", code="TOPUP_FINISHED")
    now = clock.now()
    if succeeded:
        items = list(order.items.order_by("position"))
        if order.product.bought_on_demand:
            _issue_bought_keys(order=order, items=items, cards=cards)
        topup.mark_succeeded(at=now)
        topup.save()
        order_event(order=order, event="topup_succeeded", actor=actor)
        if all(item.status == ItemStatus.PENDING for item in items):
            deliver_items(order=order, items=items)
        else:
            _deliver_after_refund(order=order, items=items, actor=actor)
    else:
        topup.mark_failed(reason=reason or "failed", at=now)
        topup.save()
        order_event(order=order, event="topup_timed_out" if timed_out else "topup_failed", actor=actor,
                    note=reason[:200])
        from .tasks import refund_failed_topup

        refund_failed_topup.enqueue(order.id, timed_out)  # commits with the failure, or neither happened
    from kameng.catalog.models import SupplierOrder

    SupplierOrder.objects.filter(order=order).update(next_query_at=None)  # nothing left to ask the source
    return topup


def _issue_bought_keys(*, order: Order, items: list, cards: tuple[str, ...]) -> None:
    """Keys bought from the source go to every item still owed one, stored encrypted like stocked keys."""
    owed = [item for item in items if item.status in (ItemStatus.PENDING, ItemStatus.REFUND_PENDING)]
    if len(cards) != order.quantity:
        raise Invalid(f"the source sent {len(cards)} key(s) for {order.quantity} item(s)", code="CARDS_UNUSABLE")
    for item, card in zip(owed, cards, strict=False):
        inventory.secret_issue_manual(product=order.product, item=item, secret_text=card)


def _credited(order: Order, code: str) -> int:
    """Net credit this order's journals put on an account (escrow still held, supplier already paid...)."""
    from kameng.ledger.models import Posting

    # Late-delivery compensation is the supplier's penalty, not part of the sale being settled.
    return -(Posting.objects.filter(journal__order=order, account__code=code)
             .exclude(journal__kind=COMPENSATION_KIND).aggregate(total=Sum("amount_fen"))["total"] or 0)


def _deliver_after_refund(*, order: Order, items: list, actor: str) -> None:
    """The supplier topped up an order that was (being) refunded: the buyer has both the top-up and the money.

    The supplier did the work and is paid as for any delivery. What the buyer already got back is no longer
    in escrow, so the platform bears it (`losses`), and the case is flagged in the order's history for the
    platform to recover from the buyer if it chooses; nothing is taken from the buyer automatically.
    """
    now = clock.now()
    delivered_now = []
    for item in items:
        if item.status == ItemStatus.PENDING:
            item.mark_delivered(at=now)
            item.save(update_fields=["status", "delivered_at"])
            delivered_now.append(item)
        elif item.status == ItemStatus.REFUND_PENDING:
            # Still held by a refund: if that request is turned down the item returns to delivered.
            OrderItem.objects.filter(id=item.id).update(delivered_at=now)
    if order.status == OrderStatus.PAID:
        order.mark_delivered(at=now)
        order.save(update_fields=["status", "delivered_at"])
    # The supplier is owed the whole sale less commission, minus anything a refund already settled to it.
    supplier = Accounts.payable(order.product.supplier_id)
    commission = order_commission_fen(order, order.amount_fen)
    supplier_due = order.amount_fen - commission - _credited(order, supplier)
    commission_due = commission - _credited(order, Accounts.COMMISSION)
    held = max(0, _credited(order, Accounts.ESCROW))
    borne = supplier_due + commission_due - held  # what the buyer got back: no longer in escrow
    journal_post(
        reference=f"settle:{order.order_no}",
        kind="order_settled",
        lines=[Line(Accounts.ESCROW, held), Line("losses", borne), Line(supplier, -supplier_due),
               Line(Accounts.COMMISSION, -commission_due)],
        order=order,
        memo="top-up delivered after a refund; the platform bears what the buyer got back",
    )
    order_event(
        order=order, event="topup_succeeded_after_refund", actor=actor,
        note=(f"上游报告充值成功，但订单已退款或退款中：平台承担 {Money(borne)} 元（已退回买家部分），"
              f"供货商照常结算；待平台核实后可向买家追偿。"
              f"refunded before the supplier's success: the platform bears {Money(borne)}"),
    )
    logger.warning("top-up %s succeeded after a refund; flagged for the platform", order.order_no)
    # Only items the buyer now has and was not refunded for were delivered late to them.
    late_delivery_compensate(order=order, items=delivered_now)


def manual_deliver(*, actor, order_no: str, contents: list) -> Order:
    """A supplier hands over the goods of a manual product, one content per item."""
    if actor.role not in ("admin", "supplier"):
        raise Forbidden("only the supplier or an admin delivers by hand", code="ROLE_FORBIDDEN")
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("product").filter(order_no=order_no).first()
        if order is None or (actor.role == "supplier" and order.product.supplier_id != actor.id):
            raise NotFound("no such order", code="ORDER_NOT_FOUND")
        if not order.product.is_manual:
            raise Conflict("this product is delivered automatically", code="NOT_MANUAL")
        if order.status != OrderStatus.PAID:
            raise Conflict(f"the order is {order.status}, not awaiting delivery", code="ORDER_NOT_AWAITING_DELIVERY")
        items = list(order.items.filter(status=ItemStatus.PENDING).order_by("position"))
        if not isinstance(contents, list) or len(contents) != len(items) or not all(isinstance(c, str) for c in contents):
            raise Invalid(f"give exactly {len(items)} content(s), one per item", code="INVALID_KEYS")
        for item, content in zip(items, contents, strict=True):
            inventory.secret_issue_manual(product=order.product, item=item, secret_text=content)
        order_event(order=order, event="manually_delivered", actor=actor_label(actor))
        deliver_items(order=order, items=items)
        return order
