"""From paid to delivered: keys from stock, top-ups through the supplier, manual goods by hand.

Everything here runs inside the payment's transaction or under the order's row lock, so an order
is delivered once whatever retries or races happen around it.
"""

from decimal import Decimal

from django.conf import settings
from django.db import transaction

from kameng.catalog.models import ProductKind
from kameng.core import clock
from kameng.core.errors import Conflict, Forbidden, Invalid, NotFound
from kameng.inventory import services as inventory
from kameng.ledger.services import Accounts, Line, journal_post

from .events import actor_label, order_event
from .models import ItemStatus, Order, OrderStatus, TopupDispatch, TopupStatus
from .policies import commission_fen


def order_paid(*, order: Order, payment, items: list | None = None) -> Order:
    """The order's money arrived (the caller holds the order's row lock): deliver what can be."""
    was_expired = order.status in (OrderStatus.EXPIRED, OrderStatus.CLOSED)
    order.mark_paid(at=payment.paid_at)
    order.save(update_fields=["status", "paid_at"])
    order_event(order=order, event="paid", actor=f"gateway:{payment.channel}", note=payment.payment_no)
    if was_expired:
        order_event(order=order, event="late_payment", note="paid after the order expired or was cancelled; delivery attempted")
    product = order.product
    if product.uses_stock:
        _deliver_from_stock(order, items)
    elif product.kind == ProductKind.TOPUP:
        TopupDispatch.objects.create(order=order, account=order.recharge_account, created_at=clock.now())
        from .tasks import dispatch_topup

        dispatch_topup.enqueue(order.id)
    else:
        order_event(order=order, event="awaiting_manual_delivery")
    return order


def _deliver_from_stock(order: Order, items: list | None = None) -> bool:
    if items is None:
        items = list(order.items.filter(status=ItemStatus.PENDING).order_by("position"))
    if not inventory.secrets_issue(order=order, items=items):
        order_event(order=order, event="delivery_failed", note="out of stock: paid, not delivered")
        return False
    deliver_items(order=order, items=items)
    return True


def deliver_items(*, order: Order, items) -> None:
    """Mark items delivered; when the whole order is, settle it to the supplier and the platform."""
    now = clock.now()
    for item in items:
        item.mark_delivered(at=now)
        item.save(update_fields=["status", "delivered_at"])
    # Given every item of the order, none can be left pending; otherwise ask the database.
    if len(items) < order.quantity and order.items.filter(status=ItemStatus.PENDING).exists():
        return
    order.mark_delivered(at=now)
    order.save(update_fields=["status", "delivered_at"])
    order_event(order=order, event="delivered", note=f"{len(items)} item(s)")
    commission = commission_fen(order.amount_fen, Decimal(settings.KAMENG_COMMISSION_RATE))
    journal_post(
        reference=f"settle:{order.order_no}",
        kind="order_settled",
        lines=[
            Line(Accounts.ESCROW, order.amount_fen),
            Line(Accounts.payable(order.product.supplier_id), -(order.amount_fen - commission)),
            Line(Accounts.COMMISSION, -commission),
        ],
        order=order,
    )


def backorders_deliver(*, product_id: int) -> int:
    """Fill paid-but-undelivered orders of a product from new stock, oldest payment first."""
    delivered = 0
    candidates = Order.objects.filter(product_id=product_id, status=OrderStatus.PAID).order_by("paid_at", "id")
    for order_id in candidates.values_list("id", flat=True):
        with transaction.atomic():
            order = Order.objects.select_for_update().select_related("product").get(id=order_id)
            if order.status != OrderStatus.PAID or not order.product.uses_stock:
                continue
            if not _deliver_from_stock(order):
                break
            delivered += 1
    return delivered


def topup_dispatch(*, order_id: int) -> None:
    """Send a queued top-up to the supplier's system. Safe to run twice: only a queued one is sent."""
    from kameng.catalog.suppliers import adapter_for

    with transaction.atomic():
        topup = TopupDispatch.objects.select_for_update().select_related("order__product").get(order_id=order_id)
        if topup.status != TopupStatus.QUEUED:
            return
        topup.attempts += 1
        ref = adapter_for(topup.order.product).submit(order_no=topup.order.order_no, account=topup.account,
                                                      face_value_fen=topup.order.product.face_value_fen,
                                                      quantity=topup.order.quantity)
        topup.mark_dispatched(ref=ref, at=clock.now())
        topup.save()
        order_event(order=topup.order, event="topup_dispatched", note=ref)


def topup_report(*, actor, order_no: str, status: str) -> TopupDispatch:
    """The supplier's system reports a top-up's result."""
    if actor.role not in ("admin", "supplier"):
        raise Forbidden("only the supplier or an admin reports top-up results", code="ROLE_FORBIDDEN")
    if status not in ("success", "failed"):
        raise Invalid("status is success or failed", code="INVALID_STATUS")
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("product").filter(order_no=order_no).first()
        if order is None or (actor.role == "supplier" and order.product.supplier_id != actor.id):
            raise NotFound("no such order", code="ORDER_NOT_FOUND")
        topup = TopupDispatch.objects.select_for_update().filter(order=order).first()
        if topup is None:
            raise Conflict("this order has no top-up in progress", code="NO_TOPUP")
        if topup.status not in (TopupStatus.QUEUED, TopupStatus.DISPATCHED):
            raise Conflict(f"the top-up is already {topup.status}", code="TOPUP_FINISHED")
        now = clock.now()
        if status == "success":
            topup.mark_succeeded(at=now)
            topup.save()
            order_event(order=order, event="topup_succeeded", actor=actor_label(actor))
            deliver_items(order=order, items=list(order.items.filter(status=ItemStatus.PENDING)))
        else:
            topup.mark_failed(reason="reported failed by the supplier", at=now)
            topup.save()
            order_event(order=order, event="topup_failed", actor=actor_label(actor))
        return topup


def manual_deliver(*, actor, order_no: str, contents: list) -> Order:
    """A supplier hands over the goods of a manual product, one content per item."""
    if actor.role not in ("admin", "supplier"):
        raise Forbidden("only the supplier or an admin delivers by hand", code="ROLE_FORBIDDEN")
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("product").filter(order_no=order_no).first()
        if order is None or (actor.role == "supplier" and order.product.supplier_id != actor.id):
            raise NotFound("no such order", code="ORDER_NOT_FOUND")
        if not order.product.is_manual:
            raise Conflict("this product is delivered automatically", code="NOT_MANUAL")
        if order.status != OrderStatus.PAID:
            raise Conflict(f"the order is {order.status}, not awaiting delivery", code="ORDER_NOT_AWAITING_DELIVERY")
        items = list(order.items.filter(status=ItemStatus.PENDING).order_by("position"))
        if not isinstance(contents, list) or len(contents) != len(items) or not all(isinstance(c, str) for c in contents):
            raise Invalid(f"give exactly {len(items)} content(s), one per item", code="INVALID_KEYS")
        for item, content in zip(items, contents, strict=True):
            inventory.secret_issue_manual(product=order.product, item=item, secret_text=content)
        order_event(order=order, event="manually_delivered", actor=actor_label(actor))
        deliver_items(order=order, items=items)
        return order
