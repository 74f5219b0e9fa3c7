from django.db.models import Count, Q

from kameng.accounts.models import Role, User
from kameng.core.errors import Forbidden, NotFound

from .models import Product


def products_with_stock(*, active_only: bool = True):
    """Products annotated with `available_keys` (stock for card and link products)."""
    qs = Product.objects.select_related("supplier").annotate(
        available_keys=Count("secrets", filter=Q(secrets__status="available"))
    )
    if active_only:
        qs = qs.filter(is_active=True)
    return qs.order_by("id")


def product_stock(product: Product, available_keys: int | None = None) -> int | None:
    """Keys that can be sold now; None means not limited by stock (top-ups, manual goods)."""
    if not product.uses_stock:
        return None
    if available_keys is None:
        available_keys = product.secrets.filter(status="available").count()
    return available_keys


def product_get(product_id: int, *, active_only: bool = True) -> Product:
    qs = products_with_stock(active_only=active_only)
    product = qs.filter(id=product_id).first()
    if product is None:
        raise NotFound("no such product", code="PRODUCT_NOT_FOUND")
    return product


def product_for_manager(*, actor: User, product_id: int) -> Product:
    """A product the actor may manage: an admin any, a supplier only its own (others look missing)."""
    if actor.role not in (Role.SUPPLIER, Role.ADMIN):
        raise Forbidden("only suppliers and admins manage products", code="ROLE_FORBIDDEN")
    qs = Product.objects.all()
    if actor.role == Role.SUPPLIER:
        qs = qs.filter(supplier=actor)
    product = qs.filter(id=product_id).first()
    if product is None:
        raise NotFound("no such product", code="PRODUCT_NOT_FOUND")
    return product
