"""An unpaid order that lost the keys it held (their batch was quarantined): refill it, or close it.

Run by a job after the quarantine commits (inventory/quarantine.py), one order at a time under the
order's lock: the order is the gate in the one lock order, and the approval that quarantined the batch
already held another order's lock, so it could not take this one.
"""

from django.db import transaction

from kameng.core import clock
from kameng.inventory import services as inventory
from kameng.inventory.models import CardSecret, SecretStatus
from kameng.notifications.services import notify

from .events import order_event
from .locking import lock_order
from .models import OrderStatus


def order_refill_held_keys(*, order_id: int) -> str:
    """What happened: "refilled", "closed", or why nothing was needed. Idempotent."""
    with transaction.atomic():
        order = lock_order(order_id)
        if order.status != OrderStatus.PENDING_PAYMENT:
            return "not_unpaid"  # paid meanwhile (its keys were taken fresh from stock), expired or cancelled
        if order.expires_at <= clock.now():
            return "expiring"  # the expiry sweep closes it and releases what it still holds
        held = CardSecret.objects.filter(reserved_order=order, status=SecretStatus.RESERVED).count()
        missing = order.quantity - held
        if missing <= 0:
            return "held"
        if inventory.secrets_reserve(product=order.product, order=order, quantity=missing):
            order_event(order=order, event="stock_replaced",
                        note=f"{missing} held key(s) of a quarantined batch replaced from other stock")
            return "refilled"
        order.close()
        order.save(update_fields=["status"])
        released = inventory.secrets_release(order=order)
        order_event(order=order, event="closed_out_of_stock",
                    note=f"held keys of a quarantined batch, no other stock; released {released} other held key(s)")
        notify(user=order.buyer, title=f"订单 {order.order_no} 已关闭",
               body=f"您的订单 {order.order_no}（{order.snapshot['name']}）预留的卡密所属批次已暂停销售，"
                    f"且暂无其他库存，订单已关闭。您尚未付款，无需任何操作；如已付款，款项不会丢失："
                    f"系统将自动发货或全额退回。")
        return "closed"
