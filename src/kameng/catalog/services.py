"""Writes on the catalogue: creating a product, changing its terms, putting it on or off sale.

Every write of a product's terms goes through the same checks (`catalog.policies`) and leaves a
ProductChange row (who, when, old → new), so the page as it stood at any moment can be shown again.
Orders copy the product when placed (orders.services.product_snapshot): a change here applies to new
orders only, whatever it changes.
"""

import re

from django.db import transaction

from kameng.accounts.models import Role, User
from kameng.core import clock
from kameng.core.errors import Conflict, Forbidden, Invalid, NotFound
from kameng.core.locks import lock_one
from kameng.core.money import InvalidAmount, Money

from .models import Product, ProductChange, ProductKind
from .policies import (
    MAX_DELIVERY_PROMISE_MINUTES,
    product_text,
    refund_policy_validated,
    stored_policy_or_none,
)
from .selectors import product_for_manager, terms_of

MAX_PRICE_FEN = 10**11
_YUAN = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?")  # places are counted by Money.parse, which says how many

# What a supplier may change after creating a product. The kind and the way it is delivered are not
# among them: stock, orders and after-sales depend on those; a different kind is a new product.
EDITABLE = ("name", "description", "price", "face_value", "delivery_promise_minutes", "refund_policy")


def _money(value, field: str, *, positive: bool) -> Money:
    """A price or face value as sent: yuan with at most two places (never a float), above 0 for a price."""
    details = {"field": field}
    if isinstance(value, str) and not _YUAN.fullmatch(value.strip()):
        # Decimal alone would read "1e3" as a thousand yuan: a price is written as people write prices.
        raise Invalid(f"{field} is yuan with at most two decimal places, such as \"9.80\"", code="INVALID_AMOUNT",
                      details=details)
    try:
        amount = Money.parse(value)
    except InvalidAmount as exc:
        raise Invalid(f"{field}: {exc}", code="INVALID_AMOUNT", details=details) from exc
    if amount.fen < 0 or (positive and amount.fen == 0):
        raise Invalid(f"{field} must be {'above' if positive else 'at least'} 0", code="INVALID_AMOUNT",
                      details=details)
    if amount.fen > MAX_PRICE_FEN:
        raise Invalid(f"{field} is too large", code="INVALID_AMOUNT", details=details)
    return amount


def _promise(minutes) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_DELIVERY_PROMISE_MINUTES:
        raise Invalid(f"delivery_promise_minutes is a whole number from 0 to {MAX_DELIVERY_PROMISE_MINUTES}",
                      code="INVALID_DELIVERY_PROMISE", details={"field": "delivery_promise_minutes"})
    return minutes


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
        raise Invalid(f"kind is one of {', '.join(ProductKind.values)}", code="INVALID_KIND", details={"field": "kind"})
    name, description = product_text(name=name or "", description=description or "")
    delivery_promise_minutes = _promise(delivery_promise_minutes)
    policy = refund_policy_validated(refund_policy)
    price_fen = _money(price, "price", positive=True).fen
    face_value_fen = _money(face_value, "face_value", positive=False).fen
    supplier = actor
    if actor.role == Role.ADMIN and supplier_id is not None:
        supplier = User.objects.filter(id=supplier_id, role=Role.SUPPLIER).first()
        if supplier is None:
            raise NotFound("no such supplier", code="SUPPLIER_NOT_FOUND")
    now = clock.now()
    with transaction.atomic():
        product = Product.objects.create(
            supplier=supplier,
            name=name,
            description=description,
            kind=kind,
            price_fen=price_fen,
            face_value_fen=face_value_fen,
            delivery_promise_minutes=delivery_promise_minutes,
            refund_policy=policy,
            is_manual=is_manual,
            created_at=now,
            updated_at=now,
        )
        # The first page as it stood: every later change is read back from here.
        terms = terms_of(product)
        ProductChange.objects.create(product=product, actor=actor, at=now, event=ProductChange.Event.CREATED,
                                     changes={field: [None, value] for field, value in terms.items()})
    return product


def _checked_terms(product: Product, changes: dict) -> dict:
    """The product's terms after `changes`, each checked as at creation; refund rules merge field by field."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise Invalid(f"these fields cannot be changed: {', '.join(unknown)}", code="FIELD_NOT_EDITABLE",
                      details={"fields": unknown})
    terms = terms_of(product)
    name, description = product_text(name=changes.get("name", terms["name"]),
                                     description=changes.get("description", terms["description"]))
    terms.update(name=name, description=description)
    if "price" in changes:
        terms["price"] = str(_money(changes["price"], "price", positive=True))
    if "face_value" in changes:
        terms["face_value"] = str(_money(changes["face_value"], "face_value", positive=False))
    if "delivery_promise_minutes" in changes:
        terms["delivery_promise_minutes"] = _promise(changes["delivery_promise_minutes"])
    if "refund_policy" in changes:
        sent = changes["refund_policy"]
        if not isinstance(sent, dict):
            raise Invalid("refund_policy is an object", code="INVALID_REFUND_POLICY", details={"field": "refund_policy"})
        # A rule left out keeps its current value (a stored policy that is itself broken is not merged in).
        current = product.refund_policy if stored_policy_or_none(product.refund_policy) else {}
        terms["refund_policy"] = refund_policy_validated({**current, **sent})
    return terms


def product_update(*, actor: User, product_id: int, changes: dict) -> Product:
    """Change a product's terms (the EDITABLE fields; any subset). Applies to orders placed from now on.

    A supplier changes only its own products (another's is 404, like a missing one). Every value is
    checked before anything is written, with the rules of creation; nothing changes on a refusal. The
    change is recorded with the values before and after; a change to the same values records nothing.
    """
    product = product_for_manager(actor=actor, product_id=product_id)
    if not isinstance(changes, dict) or not changes:
        raise Invalid("send at least one field to change", code="NOTHING_TO_CHANGE")
    _checked_terms(product, changes)  # refuse bad input before taking any lock
    with transaction.atomic():
        # Under the row lock, from the row as it is now: two edits at once record what each really changed.
        product = lock_one(Product.objects.filter(id=product.id))
        after = _checked_terms(product, changes)
        before = terms_of(product)
        diff = {field: [before[field], after[field]] for field in EDITABLE if before[field] != after[field]}
        if not diff:
            return product
        now = clock.now()
        product.name, product.description = after["name"], after["description"]
        product.price_fen = Money.parse(after["price"]).fen
        product.face_value_fen = Money.parse(after["face_value"]).fen
        product.delivery_promise_minutes = after["delivery_promise_minutes"]
        product.refund_policy = after["refund_policy"]
        product.updated_at = now
        product.save(update_fields=["name", "description", "price_fen", "face_value_fen", "delivery_promise_minutes",
                                    "refund_policy", "updated_at"])
        ProductChange.objects.create(product=product, actor=actor, at=now, event=ProductChange.Event.EDITED,
                                     changes=diff)
    return product


def product_set_on_sale(*, actor: User, product_id: int, on_sale: bool) -> Product:
    """上架 / 下架. Off sale, a product is not listed or sold; orders already placed go on as bought.

    Putting on sale a product already on sale (or off sale one already off) changes and records nothing.
    """
    if not isinstance(on_sale, bool):
        raise Invalid("on_sale is true or false", code="INVALID_ON_SALE", details={"field": "on_sale"})
    product = product_for_manager(actor=actor, product_id=product_id)
    with transaction.atomic():
        product = lock_one(Product.objects.filter(id=product.id))
        if product.is_active == on_sale:
            return product
        if on_sale and stored_policy_or_none(product.refund_policy) is None:
            # Orders copy the rules; a product whose stored rules are broken cannot be sold until fixed.
            raise Conflict("fix the product's refund rules before putting it on sale", code="REFUND_POLICY_BROKEN")
        now = clock.now()
        product.is_active, product.updated_at = on_sale, now
        product.save(update_fields=["is_active", "updated_at"])
        ProductChange.objects.create(
            product=product, actor=actor, at=now,
            event=ProductChange.Event.ON_SALE if on_sale else ProductChange.Event.OFF_SALE,
            changes={"on_sale": [not on_sale, on_sale]})
    return product


def product_change_record(*, actor: User, product: Product, before: dict) -> ProductChange | None:
    """Record a change saved outside `product_update` (the Django admin's product form), so the history
    still shows who changed what: `before` is `terms_state(product)` read before the save. Nothing changed:
    nothing recorded."""
    after = terms_state(product)
    diff = {field: [before.get(field), value] for field, value in after.items() if before.get(field) != value}
    if not diff:
        return None
    event = ProductChange.Event.EDITED
    if set(diff) == {"on_sale"}:
        event = ProductChange.Event.ON_SALE if after["on_sale"] else ProductChange.Event.OFF_SALE
    return ProductChange.objects.create(product=product, actor=actor, at=clock.now(), event=event, changes=diff)


def terms_state(product: Product) -> dict:
    """The terms and 上架 state as a change record compares them (what `product_change_record` takes)."""
    return {**terms_of(product), "on_sale": product.is_active}
