"""What the platform itself knows about an order, attached to every refund as evidence.

The buyer never has to screenshot what is already in our records: the purchase-time snapshot,
payments, deliveries (and whether each key was ever issued to anyone else), and the reveal log.
"""

from kameng.core.money import fen_str
from kameng.core.times import iso_beijing
from kameng.inventory.models import KeyIssue, RevealRecord


def _iso(moment):
    return iso_beijing(moment)


def deliveries(order) -> list[dict]:
    rows = []
    for issue in KeyIssue.objects.filter(order_item__order=order).select_related("order_item").order_by("id"):
        elsewhere = KeyIssue.objects.filter(secret_id=issue.secret_id).exclude(id=issue.id)
        rows.append({
            "item_id": issue.order_item_id,
            "key_ref": f"S{issue.secret_id}",  # a reference, never the key itself
            "issued_at": _iso(issue.issued_at),
            "returned_at": _iso(issue.returned_at),
            "issued_to_other_orders": [
                {"order_item_id": other.order_item_id, "issued_at": _iso(other.issued_at)} for other in elsewhere
            ],
        })
    return rows


def reveals(order) -> list[dict]:
    return [
        {"item_id": r.order_item_id, "user_id": r.user_id, "at": _iso(r.revealed_at), "ip": r.ip_address,
         "user_agent": r.user_agent}
        for r in RevealRecord.objects.filter(order_item__order=order).order_by("id")
    ]


def payments(order) -> list[dict]:
    return [
        {"payment_no": p.payment_no, "channel": p.channel, "amount": fen_str(p.amount_fen), "status": p.status,
         "trade_no": p.trade_no, "paid_at": _iso(p.paid_at)}
        for p in order.payments.order_by("id")
    ]


def platform_record(*, order, items=None) -> dict:
    topup = getattr(order, "topup", None) if order.snapshot.get("kind") == "topup" or order.snapshot.get("on_demand") else None
    return {
        "order_no": order.order_no,
        "status": order.status,
        "amount": fen_str(order.amount_fen),
        "quantity": order.quantity,
        "created_at": _iso(order.created_at),
        "paid_at": _iso(order.paid_at),
        "delivered_at": _iso(order.delivered_at),
        "terms_text": order.terms_text,
        "terms_accepted_at": _iso(order.terms_accepted_at),
        "snapshot": order.snapshot,
        "items": [
            {"id": i.id, "position": i.position, "status": i.status, "delivered_at": _iso(i.delivered_at),
             "first_revealed_at": _iso(i.first_revealed_at)}
            for i in order.items.order_by("position")
        ],
        "payments": payments(order),
        "deliveries": deliveries(order),
        "reveals": reveals(order),
        "topup": {"status": topup.status, "upstream_ref": topup.upstream_ref, "account": topup.account,
                  "dispatched_at": _iso(topup.dispatched_at), "finished_at": _iso(topup.finished_at),
                  "failure_reason": topup.failure_reason} if topup else None,
        "events": [
            {"at": _iso(e.at), "actor": e.actor, "event": e.event, "note": e.note} for e in order.events.order_by("id")
        ],
    }
