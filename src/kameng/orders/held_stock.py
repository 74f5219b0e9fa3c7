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
        notify(user=order.buyer, code="order.closed_out_of_stock",
               params={"order_no": order.order_no, "product": order.snapshot["name"]})
        return "closed"
