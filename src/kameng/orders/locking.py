"""Locking an order and its rows, in the codebase's one lock order (see kameng.core.locks)."""

from kameng.core import locks

from .models import Order, OrderItem


def lock_order(order_id: int) -> Order:
    """The order's row: the gate every change to the order, its refunds, items or top-up passes first."""
    return locks.lock_one(Order.objects.filter(id=order_id))


def lock_items(item_ids) -> list[OrderItem]:
    """Items of an order (after the order and its refund), in id order."""
    return locks.lock_all(OrderItem.objects.filter(id__in=list(item_ids)))
