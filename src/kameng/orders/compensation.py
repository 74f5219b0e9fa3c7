"""Late-delivery compensation (refund policy `late_delivery_compensation_rate`).

An item delivered after its promise (`paid_at + delivery_promise_minutes`, both from the order and its
snapshot) earns the buyer the snapshot's rate × the item's price in the wallet, at the moment it is
delivered, whatever delivered it: stock at payment, a backorder filled after a restock, the supplier by
hand, a top-up or source order that succeeded late. `deliver_items` and `_deliver_after_refund` call
this under the order's row lock, for exactly the items that just went from pending to delivered, so a
delivery reported twice or by two workers at once compensates once; the journal's unique reference
(one per item) is the database's guarantee behind that.

Locks: the buyer's wallet row is written (its running balance) after the order's lock, as every wallet
credit is. On a backorder the order's new keys were locked just before (inventory, outside
kameng.core.locks): those keys are reached only through this order, whose lock is held, so no other
transaction can hold them while waiting for this wallet.

Who pays: the supplier. The delivery promise is the supplier's own figure (it set it on the product and
it is the one who delivers late), and so is the rate — it chose to offer it. The platform only carries it
out, as it carries out the supplier's refund rules.
"""

from django.db.models import Sum

from kameng.catalog.policies import RefundPolicy, percent
from kameng.core.money import Money
from kameng.ledger.models import Journal, Posting
from kameng.ledger.services import Accounts, Line, journal_post
from kameng.ledger.supplier_money import supplier_account
from kameng.notifications.services import notify

from .events import order_event
from .policies import late_compensation_fen, promised_by

KIND = "late_delivery_compensation"


def reference(order, item) -> str:
    return f"late:{order.order_no}:{item.position}"


def late_delivery_compensate(*, order, items) -> Money:
    """Credit the buyer for those of `items` (just delivered) that came after the promise; what was paid.

    The caller holds the order's lock and has just marked `items` delivered.
    """
    deadline = promised_by(order)
    late = [item for item in items if deadline is not None and item.delivered_at and item.delivered_at > deadline]
    if not late:  # the usual case, known before the order's rules are read
        return Money.zero()
    rate = RefundPolicy.from_stored(order.snapshot["refund_policy"]).late_delivery_compensation_rate
    if rate <= 0:
        return Money.zero()
    already = set(Journal.objects.filter(reference__in=[reference(order, item) for item in late])
                  .values_list("reference", flat=True))
    supplier = supplier_account(order)  # pending, or available once the sale matured (ledger.supplier_money)
    wallet = Accounts.wallet(order.buyer_id)
    total = 0
    for item in late:
        fen = late_compensation_fen(unit_price_fen=order.unit_price_fen, rate=rate)
        if fen <= 0 or reference(order, item) in already:
            continue
        journal_post(reference=reference(order, item), kind=KIND, order=order,
                     lines=[Line(supplier, fen), Line(wallet, -fen)],
                     memo=f"item {item.position} delivered after its promise; borne by the supplier")
        total += fen
    if not total:
        return Money.zero()
    amount = Money(total)
    delivered_at = max(item.delivered_at for item in late)
    order_event(order=order, event="late_delivery_compensated",
                note=f"¥{amount} to the buyer's wallet for {len(late)} late item(s), borne by the supplier")
    notify(user=order.buyer, code="order.late_compensation",
           params={"order_no": order.order_no, "product": order.snapshot.get("name", ""), "promised_by": deadline,
                   "delivered_at": delivered_at, "rate": percent(rate), "amount": amount})
    return amount


def compensation_paid(order) -> Money:
    """What late delivery of this order has put in the buyer's wallet so far (for the order page)."""
    total = (Posting.objects.filter(journal__order=order, journal__kind=KIND,
                                    account__code=Accounts.wallet(order.buyer_id))
             .aggregate(total=Sum("amount_fen"))["total"] or 0)
    return Money(-total)


def compensation_paid_for(order, item_ids) -> Money:
    """What late delivery put in the buyer's wallet for these items of the order."""
    from .models import OrderItem

    positions = OrderItem.objects.filter(order=order, id__in=list(item_ids)).values_list("position", flat=True)
    total = (Posting.objects.filter(journal__reference__in=[f"late:{order.order_no}:{p}" for p in positions],
                                    account__code=Accounts.wallet(order.buyer_id))
             .aggregate(total=Sum("amount_fen"))["total"] or 0)
    return Money(-total)
