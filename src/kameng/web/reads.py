"""Small reads the pages need that no domain selector offers (yet). Read-only, scoped to the user."""

from kameng.catalog.models import Product
from kameng.catalog.selectors import product_stock, products_with_stock
from kameng.core.errors import NotFound
from kameng.inventory.models import ImportBatch
from kameng.payments.models import Payment


def payment_for_payer(*, user, payment_no: str) -> Payment:
    payment = Payment.objects.select_related("order").filter(payment_no=str(payment_no)[:32], payer=user).first()
    if payment is None:
        raise NotFound("no such payment", code="PAYMENT_NOT_FOUND")
    return payment


def pending_payment_of(order) -> Payment | None:
    return order.payments.filter(status="pending").order_by("-id").first()


def products_of_supplier(*, supplier) -> list[Product]:
    products = list(products_with_stock(active_only=False).filter(supplier=supplier))
    for product in products:
        product.stock = product_stock(product, product.available_keys)
    return products


def batch_for_supplier(*, supplier, batch_id: int) -> ImportBatch:
    batch = ImportBatch.objects.select_related("product").filter(id=batch_id, product__supplier=supplier).first()
    if batch is None:
        raise NotFound("no such import", code="IMPORT_NOT_FOUND")
    return batch


def order_items(order):
    return list(order.items.order_by("position"))


def orders_in_aftersales(orders) -> set[int]:
    """The ids among `orders` with an after-sales request still open (the list shows 售后中); one query."""
    from kameng.aftersales.models import OPEN_STATUSES, Refund

    ids = [order.id for order in orders]
    return set(Refund.objects.filter(order_id__in=ids, status__in=OPEN_STATUSES).values_list("order_id", flat=True))
