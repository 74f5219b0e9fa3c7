"""Locking an order and its rows, in the codebase's one lock order (see kameng.core.locks)."""

from kameng.core import compiled, locks

from .models import Order, OrderItem

_ORDER_FOR_UPDATE = compiled.Query(lambda order_id: Order.objects.filter(id=order_id).select_for_update(of=("self",)))


def lock_order(order_id: int) -> Order:
    """The order's row: the gate every change to the order, its refunds, items or top-up passes first."""
    order = locks.lock_first_compiled(_ORDER_FOR_UPDATE, order_id=order_id)
    if order is None:
        raise Order.DoesNotExist(f"no order {order_id}")
    return order


def lock_items(item_ids) -> list[OrderItem]:
    """Items of an order (after the order and its refund), in id order."""
    return locks.lock_all(OrderItem.objects.filter(id__in=list(item_ids)))
