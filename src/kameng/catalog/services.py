from django.db import transaction

from kameng.accounts.models import Role, User
from kameng.core import clock
from kameng.core.errors import Forbidden, Invalid, NotFound
from kameng.core.money import InvalidAmount, Money

from .models import Product, ProductKind
from .policies import RefundPolicy, product_text


def _money(value, field: str, *, positive: bool) -> Money:
    try:
        amount = Money.parse(value)
    except InvalidAmount as exc:
        raise Invalid(f"{field}: {exc}", code="INVALID_AMOUNT") from exc
    if amount.fen < 0 or (positive and amount.fen == 0):
        raise Invalid(f"{field} must be {'above' if positive else 'at least'} 0", code="INVALID_AMOUNT")
    if amount.fen > 10**11:
        raise Invalid(f"{field} is too large", code="INVALID_AMOUNT")
    return amount


def product_create(
    *,
    actor: User,
    name: str,
    kind: str,
    price,
    face_value,
    delivery_promise_minutes: int = 5,
    refund_policy: dict | None = None,
    description: str = "",
    is_manual: bool = False,
    supplier_id: int | None = None,
) -> Product:
    if actor.role not in (Role.SUPPLIER, Role.ADMIN):
        raise Forbidden("only suppliers and admins create products", code="ROLE_FORBIDDEN")
    if kind not in ProductKind.values:
        raise Invalid(f"kind is one of {', '.join(ProductKind.values)}", code="INVALID_KIND")
    name, description = product_text(name=name or "", description=description or "")
    if not 0 <= delivery_promise_minutes <= 60 * 24 * 7:
        raise Invalid("delivery_promise_minutes is from 0 to 10080", code="INVALID_DELIVERY_PROMISE")
    policy = RefundPolicy.from_input(refund_policy)
    supplier = actor
    if actor.role == Role.ADMIN and supplier_id is not None:
        supplier = User.objects.filter(id=supplier_id, role=Role.SUPPLIER).first()
        if supplier is None:
            raise NotFound("no such supplier", code="SUPPLIER_NOT_FOUND")
    now = clock.now()
    with transaction.atomic():
        return Product.objects.create(
            supplier=supplier,
            name=name,
            description=description,
            kind=kind,
            price_fen=_money(price, "price", positive=True).fen,
            face_value_fen=_money(face_value, "face_value", positive=False).fen,
            delivery_promise_minutes=delivery_promise_minutes,
            refund_policy=policy.to_stored(),
            is_manual=is_manual,
            created_at=now,
            updated_at=now,
        )
