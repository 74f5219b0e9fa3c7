"""A wallet purchase of stocked keys: created, paid and delivered in one transaction, in the fewest round trips.

The general path (`order_create` → `payment_capture` → `order_paid` → `deliver_items`) walks an order
through every state one write at a time, because a gateway's payment arrives later. A wallet purchase
of keys in stock has nothing to wait for, so its end state is known before the first write: the
order, its items and its payment are inserted as they end (delivered, succeeded), and each table is
written once:

    wallet      UPDATE   lock, check and debit the running balance (ledger.wallet_spend)
    keys        UPDATE … RETURNING   available → issued, SKIP LOCKED (inventory.secrets_take)
    order       INSERT   delivered, with paid_at and delivered_at
    items       INSERT   all of them, delivered
    key issues  INSERT   one per item
    payment     INSERT   succeeded
    journal     INSERT   ONE journal: wallet → supplier (less commission) and commission; the money
                         never rests in escrow (a gateway payment delivered in its own transaction
                         settles the same way, from its clearing account: payments.TakenMoney)
    postings    INSERT   its lines
    events      INSERT   created, paid, delivered

Out of stock or short of balance: the transaction rolls back whole and nothing happened. The rules
stay where they are: the snapshot and terms (orders.services), the settlement split
(fulfilment.settlement_lines), the journal (ledger), the keys (inventory).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from kameng.core import compiled
from kameng.core.errors import Conflict
from kameng.core.money import Money
from kameng.inventory import services as inventory
from kameng.ledger.services import journal_post, wallet_spend
from kameng.ledger.supplier_terms import rate_at_sale
from kameng.payments import services as payments

from .events import actor_label, order_events
from .fulfilment import settlement_lines
from .models import Channel, ItemStatus, Order, OrderItem, OrderStatus
from .policies import terms_text


def wallet_purchase(*, buyer, product, quantity: int, amount: Money, now) -> Order:
    from .services import created_note, new_order_no, product_snapshot

    with transaction.atomic():
        wallet = wallet_spend(user_id=buyer.id, amount=amount)
        keys = inventory.secrets_take(product=product, quantity=quantity)
        if not keys:
            raise Conflict("not enough stock for this quantity", code="OUT_OF_STOCK")
        [order] = compiled.insert([Order(
            order_no=new_order_no(), buyer=buyer, product=product, quantity=quantity,
            unit_price_fen=product.price_fen, amount_fen=amount.fen, channel=Channel.WALLET,
            snapshot=product_snapshot(product), commission_rate=rate_at_sale(product), terms_text=terms_text(),
            terms_accepted_at=now,
            created_at=now, expires_at=now + timedelta(minutes=settings.KAMENG_ORDER_TTL_MINUTES),
            status=OrderStatus.DELIVERED, paid_at=now, delivered_at=now,
        )])
        items = compiled.insert([
            OrderItem(order=order, position=i, status=ItemStatus.DELIVERED, delivered_at=now)
            for i in range(1, quantity + 1)
        ])
        inventory.keys_issue_record(ids=keys, items=items)
        payment = payments.wallet_payment_create(payer=buyer, amount=amount, order=order)
        lines = settlement_lines(order=order, settled_fen=amount.fen, source=wallet)
        journal_post(reference=f"settle:{order.order_no}", kind="order_settled", lines=lines, order=order,
                     payment=payment, running_moved=frozenset({wallet}))
        order_events(order=order, events=[
            ("created", actor_label(buyer), created_note(now)),
            ("paid", "gateway:wallet", payment.payment_no),
            ("delivered", "system", f"{quantity} item(s)"),
        ])
    order.created_items = items  # the answer needs them; spare a query
    order.created_payment = payment
    return order
