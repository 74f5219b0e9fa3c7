from django.db.models import Exists, OuterRef

from kameng.accounts.models import User
from kameng.catalog.models import Product
from kameng.core import compiled
from kameng.core.errors import NotFound

from .models import ItemStatus, Order, OrderItem

_PRODUCT = compiled.Query(lambda product_id: Product.objects.filter(id=product_id))


def product_of(order: Order) -> Product:
    """The order's product, read once (compiled: every payment reads it) and kept on the order."""
    field = Order._meta.get_field("product")
    if not field.is_cached(order):
        field.set_cached_value(order, _PRODUCT.first(product_id=order.product_id))
    return order.product


def order_for_buyer(*, user: User, order_no: str) -> Order:
    """The buyer's own order; anyone else's looks exactly like a missing one (404)."""
    order = Order.objects.select_related("product").filter(order_no=str(order_no)[:32], buyer=user).first()
    if order is None:
        raise NotFound("no such order", code="ORDER_NOT_FOUND")
    return order


def orders_for_buyer(*, user: User, limit: int = 50, before_id: int | None = None):
    qs = Order.objects.filter(buyer=user).select_related("product").prefetch_related("items").order_by("-id")
    if before_id:
        qs = qs.filter(id__lt=before_id)
    return qs[:limit]


def orders_awaiting_manual_delivery(*, supplier: User):
    """Paid manual orders with an item still to deliver (not one a refund holds or took)."""
    owed = OrderItem.objects.filter(order=OuterRef("pk"), status=ItemStatus.PENDING)
    return (
        Order.objects.filter(Exists(owed), product__supplier=supplier, product__is_manual=True, status="paid")
        .select_related("product", "buyer")
        .order_by("paid_at")
    )
