"""Orders: placing them (with the product snapshot and the terms), revealing keys, expiring them."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction

from kameng.accounts.models import User
from kameng.catalog.models import Product, ProductKind
from kameng.catalog.policies import RefundPolicy, stored_policy_or_none
from kameng.core import clock, compiled, locks
from kameng.core.errors import Conflict, Forbidden, Invalid, NotFound
from kameng.core.money import Money
from kameng.core.times import in_beijing, iso_beijing
from kameng.inventory import services as inventory
from kameng.ledger.services import wallet_debit_check
from kameng.ledger.supplier_terms import rate_at_sale, rate_subquery
from kameng.payments import services as payments

from .events import actor_label, order_event
from .locking import lock_order
from .models import Channel, ItemStatus, Order, OrderItem, OrderStatus
from .phone_topup import CARRIER_EN, check_number, product_carrier
from .policies import terms_text
from .selectors import order_for_buyer

RECHARGE_ACCOUNT_MAX = 64

# The product on sale, with its supplier's commission rate in the same read: the order keeps the rate it
# was sold at. Compiled once per connection (kameng.core.compiled): it is read on every purchase.
PRODUCT_ON_SALE = compiled.Query(
    lambda product_id: Product.objects.filter(id=product_id, is_active=True).annotate(supplier_rate=rate_subquery())
)


def new_order_no() -> str:
    return "K" + in_beijing(clock.now()).strftime("%Y%m%d%H%M") + secrets.token_hex(5).upper()


def product_snapshot(product: Product) -> dict:
    policy = RefundPolicy.from_stored(product.refund_policy)
    return {
        "product_id": product.id,
        "name": product.name,
        "description": product.description,
        "kind": product.kind,
        "is_manual": product.is_manual,
        "on_demand": product.bought_on_demand,  # keys bought from the source when paid, not from stock
        "price": str(Money(product.price_fen)),
        "face_value": str(Money(product.face_value_fen)),
        "delivery_promise_minutes": product.delivery_promise_minutes,
        "supplier_id": product.supplier_id,
        "refund_policy": policy.to_stored(),
        "refund_policy_text": {"zh-hans": policy.text("zh-hans"), "en": policy.text("en")},
        "captured_at": iso_beijing(clock.now()),
    }


def created_note(now) -> str:
    return f"terms accepted at {iso_beijing(now)}"


def _validate(*, buyer: User, product_id, quantity, channel, recharge_account, accept_terms) -> Product:
    if not buyer.is_buyer:
        raise Forbidden("only buyers place orders", code="ROLE_FORBIDDEN")
    if accept_terms is not True:
        raise Invalid(
            "confirm that digital goods are excluded from 7-day no-reason returns (accept_terms)",
            code="TERMS_NOT_ACCEPTED",
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise Invalid("quantity is a whole number of at least 1", code="INVALID_QUANTITY")
    if quantity > settings.KAMENG_MAX_QUANTITY:
        raise Invalid(f"at most {settings.KAMENG_MAX_QUANTITY} per order", code="INVALID_QUANTITY")
    if channel not in Channel.values:
        raise Invalid(f"channel is one of {', '.join(Channel.values)}", code="INVALID_CHANNEL")
    if isinstance(product_id, bool) or not isinstance(product_id, int):
        raise NotFound("no such product", code="PRODUCT_NOT_FOUND")
    product = PRODUCT_ON_SALE.first(product_id=product_id)
    if product is None:
        raise NotFound("no such product", code="PRODUCT_NOT_FOUND")
    if stored_policy_or_none(product.refund_policy) is None:
        # Stored rules that do not read (written before every write was checked): an order copies the rules
        # it is sold under, and there are none to copy. Refused until the supplier fixes them, never a 500.
        raise Conflict("this product's refund rules are being fixed; it cannot be bought now",
                       code="REFUND_POLICY_BROKEN")
    if product.kind == ProductKind.TOPUP:
        account = (recharge_account or "").strip() if isinstance(recharge_account, str) else ""
        if not account or len(account) > RECHARGE_ACCOUNT_MAX or not account.isprintable():
            raise Invalid("a top-up needs the account to recharge (recharge_account)", code="INVALID_RECHARGE_ACCOUNT")
        expected = product_carrier(product.name)
        if expected is not None:
            check = check_number(account, expected)
            if check.problem == "not_mobile":
                raise Invalid(f"{account!r} is not a mainland mobile number (11 digits starting with 1)",
                              code="INVALID_PHONE_NUMBER", details={"field": "recharge_account"})
            if check.problem == "wrong_carrier":
                raise Invalid(f"{check.number} is a {CARRIER_EN.get(check.carrier, 'different carrier')} number; "
                              f"this product recharges {CARRIER_EN.get(expected, expected)} numbers only",
                              code="WRONG_CARRIER", details={"field": "recharge_account", "carrier": check.carrier,
                                                             "expected": expected})
    return product


def _account_to_send(product: Product, recharge_account) -> str:
    """The account as the supplier will get it: a phone number as its 11 digits (spaces and +86 dropped)."""
    if product.kind != ProductKind.TOPUP:
        return ""
    account = (recharge_account or "").strip()
    return check_number(account).number if product_carrier(product.name) is not None else account


def order_create(
    *, buyer: User, product_id, quantity, channel, accept_terms, recharge_account: str | None = None
) -> Order:
    product = _validate(
        buyer=buyer,
        product_id=product_id,
        quantity=quantity,
        channel=channel,
        recharge_account=recharge_account,
        accept_terms=accept_terms,
    )
    now = clock.now()
    amount = Money(product.price_fen) * quantity
    if channel == Channel.WALLET and product.uses_stock:
        from .wallet_purchase import wallet_purchase

        return wallet_purchase(buyer=buyer, product=product, quantity=quantity, amount=amount, now=now)
    with transaction.atomic():
        if channel == Channel.WALLET:
            wallet_debit_check(user_id=buyer.id, amount=amount)
        else:
            _check_unpaid_limit(buyer, now)
        [order] = compiled.insert([Order(
            order_no=new_order_no(),
            buyer=buyer,
            product=product,
            quantity=quantity,
            unit_price_fen=product.price_fen,
            amount_fen=amount.fen,
            channel=channel,
            recharge_account=_account_to_send(product, recharge_account),
            snapshot=product_snapshot(product),
            commission_rate=rate_at_sale(product),
            terms_text=terms_text(),
            terms_accepted_at=now,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.KAMENG_ORDER_TTL_MINUTES),
        )])
        # The stock check is the reservation itself: it cannot go stale between checking and taking.
        if product.uses_stock and not inventory.secrets_reserve(product=product, order=order, quantity=quantity):
            raise Conflict("not enough stock for this quantity", code="OUT_OF_STOCK")
        items = compiled.insert([OrderItem(order=order, position=i) for i in range(1, quantity + 1)])
        order_event(order=order, event="created", actor=actor_label(buyer), note=created_note(now))
        if channel == Channel.WALLET:
            payment = payments.wallet_payment_create(payer=buyer, amount=amount, order=order)
            payments.payment_capture(payment=payment, order=order, items=items)
        else:
            payment = payments.payment_create(payer=buyer, channel=channel, amount=amount, order=order)
    order.created_items = items  # the answer needs them; spare a query
    order.created_payment = payment
    return order


_BUYER_FOR_UPDATE = compiled.Query(lambda buyer_id: User.objects.filter(id=buyer_id).select_for_update(of=("self",)))


def _check_unpaid_limit(buyer: User, now) -> None:
    """Unpaid orders hold stock for their payment window: a buyer cannot corner it with open orders.

    Counted under the buyer's row lock, in the transaction that creates the order, so racing requests
    of one buyer queue here and each sees the orders the others made (the limit once let 20 racing
    requests hold 18 orders). Wallet orders are paid at once and hold nothing.
    """
    locks.lock_first_compiled(_BUYER_FOR_UPDATE, buyer_id=buyer.id)
    with connection.cursor() as cursor:  # in SQL: counted on every gateway order
        cursor.execute(f"SELECT count(*) FROM {Order._meta.db_table} WHERE buyer_id = %s AND status = %s "
                       "AND expires_at > %s",
                       [buyer.id, OrderStatus.PENDING_PAYMENT.value,
                        Order._meta.get_field("expires_at").get_db_prep_value(now, connection)])
        unpaid = cursor.fetchone()[0]
    if unpaid >= settings.KAMENG_MAX_UNPAID_ORDERS:
        raise Conflict(f"pay or let expire your {settings.KAMENG_MAX_UNPAID_ORDERS} unpaid orders first",
                       code="TOO_MANY_UNPAID_ORDERS")


def order_reveal(
    *, user: User, order_no: str, item_ids: list[int] | None = None, ip_address: str | None = None, user_agent: str = ""
) -> list[tuple[int, str]]:
    """Decrypt the buyer's keys. Only the owner; every reveal is recorded."""
    order = order_for_buyer(user=user, order_no=order_no)
    with transaction.atomic():
        order = lock_order(order.id)
        # An item under a refund request is not revealed: "never revealed" must stay true while it is decided.
        items = order.items.filter(status=ItemStatus.DELIVERED).order_by("position")
        if item_ids is not None:
            items = items.filter(id__in=item_ids)
        items = list(items)
        if not items:
            raise Conflict("nothing delivered to reveal yet", code="NOT_DELIVERED")
        revealed = inventory.secrets_reveal(user=user, items=items, ip_address=ip_address, user_agent=user_agent)
        if not revealed:
            raise Conflict("these items carry no key to reveal (a top-up is not revealed)", code="NOTHING_TO_REVEAL")
        now = clock.now()
        OrderItem.objects.filter(id__in=[item_id for item_id, _ in revealed], first_revealed_at__isnull=True).update(
            first_revealed_at=now
        )
        order_event(order=order, event="revealed", actor=actor_label(user), note=f"items {[i for i, _ in revealed]}")
    return revealed


def order_expire(*, order_id: int) -> bool:
    """Expire one unpaid order past its deadline and release what it held. Idempotent."""
    with transaction.atomic():
        order = locks.lock_first(Order.objects.filter(id=order_id))
        if order is None or order.status != OrderStatus.PENDING_PAYMENT or order.expires_at > clock.now():
            return False
        order.expire()
        order.save(update_fields=["status"])
        released = inventory.secrets_release(order=order)
        order_event(order=order, event="expired", note=f"released {released} held key(s)")
    return True


def order_cancel(*, user: User, order_no: str) -> Order:
    """The buyer gives up an unpaid order: it closes and its keys go back to stock at once."""
    order = order_for_buyer(user=user, order_no=order_no)
    with transaction.atomic():
        order = lock_order(order.id)
        if order.status != OrderStatus.PENDING_PAYMENT:
            # Bilingual like the after-sales rules (kameng.aftersales.cancellation answers paid orders).
            raise Conflict(f"订单当前为“{order.get_status_display()}”，不能取消。"
                           "This order cannot be cancelled in its present state.", code="CANCEL_NOT_ALLOWED")
        order.close()
        order.save(update_fields=["status"])
        released = inventory.secrets_release(order=order)
        order_event(order=order, event="cancelled", actor=actor_label(user), note=f"released {released} held key(s)")
    return order


def orders_expire_due(*, limit: int = 500) -> int:
    due = Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, expires_at__lte=clock.now()).order_by("expires_at")
    return sum(order_expire(order_id=order_id) for order_id in list(due.values_list("id", flat=True)[:limit]))
