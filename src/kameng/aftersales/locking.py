"""Locking a refund: its order first, then the refund (the codebase's one lock order, kameng.core.locks).

Buyer and reviewer paths both come through here, so a buyer withdrawing while a reviewer decides
queue on the order instead of each holding the row the other wants.
"""

from kameng.core import locks
from kameng.orders.locking import lock_order
from kameng.orders.models import Order

from .models import Refund, RefundPayout


def lock_refund(refund_id) -> tuple[Order, Refund]:
    order_id = Refund.objects.filter(id=refund_id).values_list("order_id", flat=True).get()  # never changes
    order = lock_order(order_id)
    refund = locks.lock_one(Refund.objects.select_related("buyer").filter(id=refund_id))
    refund.order = order  # the locked row, not a second copy
    return order, refund


def lock_payout(payout_id) -> RefundPayout:
    """After the payout's order and refund."""
    return locks.lock_one(RefundPayout.objects.filter(id=payout_id))
