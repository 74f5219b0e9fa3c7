"""The buyer's 取消订单: one call for an order in any state, one rule for what it may do.

Unpaid, the order simply closes (kameng.orders). Paid but not delivered yet — a manual product waiting
for its supplier, a backorder waiting for stock, a top-up still queued — it is refunded in full, at once,
without a fee or a review (Taobao's 未发货仅退款): an after-sales refund like any other, so it shows under
`GET /refunds`, is paid back on the original path (or the wallet) and can never be paid twice. Whether an
order may be cancelled so is the after-sales policy's decision (`policies._before_delivery`), the same rule
that answers `changed_mind` on those items. Delivered, or already with the supplier: 409 CANCEL_NOT_ALLOWED.
"""

from kameng.core import clock
from kameng.core.errors import Conflict
from kameng.core.models import reloaded
from kameng.core.money import Money
from kameng.orders import services as orders
from kameng.orders.models import Order, OrderStatus
from kameng.orders.selectors import order_for_buyer

from . import policies
from .selectors import order_facts
from .services import refund_cancel_before_delivery

WAITING = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)  # paid, and may still have items to deliver


def order_cancel(*, user, order_no: str, destination: str | None = None) -> Order:
    """`destination` None: the buyer's default refund destination (`PATCH /me refund_destination`)."""
    order = order_for_buyer(user=user, order_no=order_no)
    if order.status == OrderStatus.PENDING_PAYMENT:
        try:
            return orders.order_cancel(user=user, order_no=order_no)
        except Conflict:
            order = reloaded(order)  # paid in the meantime: cancelled as a paid order, below
            if order.status not in WAITING:
                raise
    if order.status not in WAITING:
        raise Conflict(f"订单当前为“{order.get_status_display()}”，不能取消；已发货的订单如有问题请申请售后。"
                       "This order cannot be cancelled in its present state; after delivery, apply for after-sales.",
                       code="CANCEL_NOT_ALLOWED")
    refund_cancel_before_delivery(buyer=user, order=order,
                                  destination=destination or getattr(user, "refund_destination", "") or "original")
    return reloaded(order)


def cancel_offer(order: Order) -> Money | None:
    """What cancelling the order now would give back (zero for an unpaid order), or None when it cannot be
    cancelled: for the order page's 取消订单 button, decided by the same rule as the cancel itself."""
    if order.status == OrderStatus.PENDING_PAYMENT:
        return Money.zero()
    if order.status not in WAITING:
        return None
    facts = order_facts(order)
    items = policies.cancellable_items(facts)
    if not items:
        return None
    option = policies.option("changed_mind", facts, items, clock.now())
    if not (option.eligible and option.before_delivery):
        return None
    return min(Money(order.unit_price_fen) * len(items), Money(order.amount_fen - order.refunded_fen))
