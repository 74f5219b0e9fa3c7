"""Domain objects to the contract's JSON. Money as decimal strings, times in Asia/Shanghai."""

from django.utils import timezone, translation

from kameng.catalog.policies import RefundPolicy, summary
from kameng.catalog.selectors import product_stock
from kameng.core.money import fen_str


def iso(moment):
    return timezone.localtime(moment).isoformat() if moment else None


def product_out(product, *, in_list: bool = False) -> dict:
    """A product; `in_list` gives its description's summary only (the full text is on GET /products/{id})."""
    policy = RefundPolicy.from_stored(product.refund_policy)
    return {
        "id": product.id,
        "name": product.name,
        "description": summary(product.description) if in_list else product.description,
        "description_truncated": in_list and summary(product.description) != product.description,
        "kind": product.kind,
        "price": fen_str(product.price_fen),
        "face_value": fen_str(product.face_value_fen),
        "delivery_promise_minutes": product.delivery_promise_minutes,
        "is_manual": product.is_manual,
        "supplier_id": product.supplier_id,
        "stock": product_stock(product, getattr(product, "available_keys", None)),
        "refund_policy": policy.to_api(translation.get_language() or "zh-hans"),
    }


def order_out(order, *, payment=None) -> dict:
    items = getattr(order, "created_items", None) or sorted(order.items.all(), key=lambda item: item.position)
    payment = payment or getattr(order, "created_payment", None) or order.payments.order_by("-id").first()
    body = {
        "order_no": order.order_no,
        "status": order.status,
        "amount": fen_str(order.amount_fen),
        "refunded_amount": fen_str(order.refunded_fen),
        "quantity": order.quantity,
        "unit_price": fen_str(order.unit_price_fen),
        "items": [
            {
                "id": item.id,
                "status": item.status,
                "delivered_at": iso(item.delivered_at),
                "revealed": item.first_revealed_at is not None,
            }
            for item in items
        ],
        "product_id": order.product_id,
        "product_name": order.snapshot.get("name"),
        "kind": order.snapshot.get("kind"),
        "channel": order.channel,
        "created_at": iso(order.created_at),
        "expires_at": iso(order.expires_at),
        "paid_at": iso(order.paid_at),
        "delivered_at": iso(order.delivered_at),
        "snapshot": order.snapshot,
        "terms_accepted_at": iso(order.terms_accepted_at),
        "payment": {"payment_no": payment.payment_no, "channel": payment.channel, "status": payment.status}
        if payment
        else None,
    }
    topup = getattr(order, "topup", None) if order.snapshot.get("kind") == "topup" else None
    if topup is not None:
        body["topup"] = {"status": topup.status, "upstream_ref": topup.upstream_ref, "account": topup.account}
    return body
