"""Refunds the platform makes without being asked: when we failed, the buyer should not have to notice.

Three facts, read from our own records, each refunds the items still owed:
- a top-up (or an order placed at a goods source) reported failed, or ended as timed out;
- a paid order that can never be delivered: its product sells keys from stock and was taken off sale,
  so no stock is coming (one merely waiting for a restock waits — until its promise passes);
- an item still undelivered when the order's delivery promise passes (paid_at + the snapshot's
  `delivery_promise_minutes`).

A failure report starts the refund at once (a job committed with the report, see orders.tasks); the
deadline sweep `refunds_proactive_due` covers the clock and anything a lost job missed. Both come through
`refund_if_due`, which locks the order (kameng.core.locks), re-reads the facts and acts once: two sweeps,
or a sweep and the job, make exactly one refund. The refund is the system's (first timeline entry actor
`system`), approved at once, paid to the buyer's default destination (`User.refund_destination`), and the
buyer is told by 站内信 and SMS what failed, how much comes back, where to and by when.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from kameng.accounts.models import User
from kameng.catalog.models import Product
from kameng.catalog.policies import RefundPolicy
from kameng.core import clock
from kameng.core.models import reloaded
from kameng.core.money import Money
from kameng.core.workdays import add_workdays
from kameng.notifications.services import notify
from kameng.orders.locking import lock_items, lock_order
from kameng.orders.models import ItemStatus, Order, OrderItem, OrderStatus, TopupDispatch, TopupStatus
from kameng.orders.policies import promised_by

from . import figure_facts
from .decisions import approve_now
from .events import refund_event
from .evidence import evidence_record
from .models import Refund, RefundItem
from .policies import liable_party
from .records import platform_record

WAITING = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)  # paid, and may still owe items
# With the source (or about to be sent): its result, or the source's own time limit, decides — not our clock.
TOPUP_UNDECIDED = (TopupStatus.QUEUED, TopupStatus.DISPATCHED)
EVENT = "platform_refund"  # the first timeline entry of a refund nobody asked for

# Why the platform refunds, as the buyer reads it (no internal codes).
TOPUP_FAILED, TOPUP_TIMED_OUT, UNDELIVERABLE, LATE = "topup_failed", "topup_timed_out", "undeliverable", "late"


@dataclass(frozen=True)
class Facts:
    """What decides whether an order's undelivered items are refunded now."""

    topup_status: str | None
    timed_out: bool  # the source never answered: the top-up was ended by its time limit
    off_sale_stock: bool  # a stocked product taken off sale: no key is coming
    promised_by: datetime | None


def cause(facts: Facts, now: datetime) -> str | None:
    """The platform's failure to put right now, or None. Pure: the sweep and the locked re-check share it."""
    if facts.topup_status == TopupStatus.FAILED:
        return TOPUP_TIMED_OUT if facts.timed_out else TOPUP_FAILED
    if facts.topup_status is not None:
        return None  # in flight or queued: the source decides; succeeded or cancelled: nothing is owed
    if facts.off_sale_stock:
        return UNDELIVERABLE
    if facts.promised_by is not None and now >= facts.promised_by:
        return LATE
    return None


def _promised_by(paid_at, promise_minutes) -> datetime | None:
    """orders.policies.promised_by on the sweep's light row (the locked re-check uses the real one)."""
    return paid_at + timedelta(minutes=int(promise_minutes or 0)) if paid_at else None


def _facts(order: Order) -> Facts:
    topup = TopupDispatch.objects.filter(order=order).values_list("status", flat=True).first()
    timed_out = topup == TopupStatus.FAILED and order.events.filter(event="topup_timed_out").exists()
    product = order.product
    return Facts(topup_status=topup, timed_out=timed_out, off_sale_stock=product.uses_stock and not product.is_active,
                 promised_by=promised_by(order))


def refund_if_due(*, order_id: int) -> Refund | None:
    """Refund the order's undelivered items if one of our failures says so; None when nothing is due.

    Safe to call any number of times, from any number of workers: under the order's lock, items already
    refunded or in a request are not pending any more, so a second call finds nothing to do.
    """
    with transaction.atomic():
        order = lock_order(order_id)
        if order.status not in WAITING or order.paid_at is None:
            return None
        why = cause(_facts(order), clock.now())
        if why is None:
            return None
        pending = list(order.items.filter(status=ItemStatus.PENDING).values_list("id", flat=True))
        if not pending:
            return None
        refund = _open(order=order, item_ids=pending, why=why)
    return reloaded(refund) if refund else None


REASON_TEXT = {
    TOPUP_FAILED: "上游报告充值失败",
    TOPUP_TIMED_OUT: "上游超时未确认充值结果",
    UNDELIVERABLE: "商品已下架且无库存，无法发货",
    LATE: "超过承诺发货时间仍未发货",
}


def _open(*, order: Order, item_ids: list[int], why: str) -> Refund | None:
    """Create, approve and start paying the system's refund (the caller holds the order's lock)."""
    now = clock.now()
    buyer = User.objects.get(id=order.buyer_id)
    amount = min(order.unit_price_fen * len(item_ids), order.amount_fen - order.refunded_fen)
    if amount <= 0:
        return None
    reason = "topup_not_received" if order.snapshot.get("kind") == "topup" and why != LATE else "not_delivered"
    from .services import new_refund_no  # services imports the flows that use this module

    refund = Refund.objects.create(
        refund_no=new_refund_no(), order=order, buyer=buyer, reason=reason,
        description=f"平台主动退款：{REASON_TEXT[why]}，未发货的商品全额退款。",
        destination=buyer.refund_destination, amount_fen=amount, fee_fen=0, refund_amount_fen=amount, fee_rate="0.00",
        liable=liable_party(reason), submitted_at=now,
        # Decided at once, so well within the review deadline every refund carries (the figures count on it).
        sla_due_at=add_workdays(now, RefundPolicy.from_stored(order.snapshot["refund_policy"]).review_sla_workdays),
    )
    figure_facts.refund_opened(refund)
    items = lock_items(item_ids)
    RefundItem.objects.bulk_create([RefundItem(refund=refund, order_item_id=i, amount_fen=order.unit_price_fen)
                                    for i in item_ids])
    for item in items:
        item.hold_for_refund()
        item.save()
    refund_event(refund=refund, event=EVENT, actor="system",
                 note=f"{REASON_TEXT[why]}：{len(item_ids)} 件，{Money(amount)} 元")
    evidence_record(refund=refund, name="platform_record.json",
                    payload=platform_record(order=order, items=items))
    approve_now(refund=refund, order=order, actor=None, note=f"平台主动退款：{REASON_TEXT[why]}。", tell_payout=False)
    _tell(refund=refund, order=order, why=why, count=len(item_ids))
    return refund


def _failure(order: Order, why: str) -> str:
    """Which `platform_failure` phrase of the message catalogue says what went wrong."""
    if why in (LATE, UNDELIVERABLE):
        return why
    what = "topup" if order.snapshot.get("kind") == "topup" else "supply"
    return f"{what}_timed_out" if why == TOPUP_TIMED_OUT else f"{what}_failed"


def _tell(*, refund: Refund, order: Order, why: str, count: int) -> None:
    """站内信 and SMS: what failed, how much comes back, where to, and when it arrives — the one notice of
    this event (approve_now is told to keep the payout's own notices quiet)."""
    payout = refund.payout
    notify(user=refund.buyer, code="refund.by_platform", refund=refund, sms=True, params={
        "refund_no": refund.refund_no, "failure": _failure(order, why), "order_no": order.order_no,
        "product": order.snapshot.get("name", ""), "promised_by": promised_by(order) if why == LATE else None,
        "amount": Money(refund.refund_amount_fen), "count": count,
        "to": "wallet" if payout.channel == "wallet" else "original", "channel": payout.channel,
        "arrival": payout.expected_arrival_by})


# ---- the deadline sweep ------------------------------------------------------------------------------


def refunds_proactive_due(*, limit: int = 200) -> int:
    """Find orders one of our failures has made due for a refund and refund each once (see refund_if_due).

    Reads a light row per paid order that still owes an item (few: most orders deliver at once), decides
    with `cause` on it, and acts through the locked re-check. A top-up still with its source is left to it.
    """
    now = clock.now()
    owed = OrderItem.objects.filter(order=OuterRef("pk"), status=ItemStatus.PENDING)
    rows = (
        Order.objects.filter(Exists(owed), status__in=WAITING, paid_at__isnull=False)
        .exclude(topup__status__in=TOPUP_UNDECIDED)
        .order_by("paid_at", "id")
        .values_list("id", "paid_at", "snapshot_version__data__delivery_promise_minutes", "topup__status", "product_id")
    )
    rows = list(rows)
    products = Product.objects.in_bulk({row[4] for row in rows})
    done = 0
    for order_id, paid_at, promise, topup, product_id in rows:
        product = products[product_id]
        facts = Facts(topup_status=topup, timed_out=False,  # only the wording depends on it
                      off_sale_stock=product.uses_stock and not product.is_active,
                      promised_by=_promised_by(paid_at, promise))
        if cause(facts, now) is None:
            continue
        if refund_if_due(order_id=order_id) is not None:
            done += 1
            if done >= limit:
                break
    return done


# ---- reading ----------------------------------------------------------------------------------------


def by_platform():
    """An annotation for a refund queryset: True for refunds the platform made on its own."""
    from .models import RefundEvent

    return Exists(RefundEvent.objects.filter(refund=OuterRef("pk"), event=EVENT))
