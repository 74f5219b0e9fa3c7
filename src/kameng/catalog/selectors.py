from django.db.models import Count, Q

from kameng.accounts.models import Role, User
from kameng.core.errors import Forbidden, NotFound
from kameng.core.money import Money

from .models import Product, ProductChange

# Staff who may read any product's change history: a dispute is decided by them.
HISTORY_READERS = (Role.ADMIN, Role.REVIEWER, Role.SENIOR_REVIEWER, Role.FINANCE)


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


def terms_of(product: Product) -> dict:
    """A product's editable terms in the API's words (prices as yuan strings): what a change record compares."""
    return {
        "name": product.name,
        "description": product.description,
        "price": str(Money(product.price_fen)),
        "face_value": str(Money(product.face_value_fen)),
        "delivery_promise_minutes": product.delivery_promise_minutes,
        "refund_policy": product.refund_policy,
    }


def _product_for_history(*, actor: User, product_id: int) -> Product:
    if getattr(actor, "role", None) in HISTORY_READERS:
        product = Product.objects.filter(id=product_id).first() if isinstance(product_id, int) else None
        if product is None:
            raise NotFound("no such product", code="PRODUCT_NOT_FOUND")
        return product
    return product_for_manager(actor=actor, product_id=product_id)


def product_changes(*, actor: User, product_id: int, limit: int = 200) -> list[ProductChange]:
    """A product's changes, newest first: its supplier's own, or any product's for staff (others: 404)."""
    product = _product_for_history(actor=actor, product_id=product_id)
    return list(product.changes.select_related("actor").order_by("-at", "-id")[:limit])


def product_as_of(*, actor: User, product_id: int, at) -> dict | None:
    """The product's terms and 上架 state as they stood at `at`, or None if it did not exist yet.

    Read back from the product as it is now, undoing each recorded change made after `at`: for a
    dispute about what the page said when the buyer looked (the order's own snapshot says what was bought).
    """
    product = _product_for_history(actor=actor, product_id=product_id)
    if product.created_at > at:
        return None
    state = {**terms_of(product), "on_sale": product.is_active}
    for change in product.changes.filter(at__gt=at).order_by("-at", "-id"):
        for field, (old, _new) in change.changes.items():
            state[field] = old
    return state
