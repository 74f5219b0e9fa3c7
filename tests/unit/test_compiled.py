"""kameng.core.compiled: hot-path statements compiled once must write and read exactly what the ORM would."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from kameng.core import compiled
from kameng.ledger.models import SupplierTerms
from kameng.orders.models import OrderEvent
from kameng.orders.services import PRODUCT_ON_SALE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def order(buyer, make_product, fund_wallet, api_as):
    product = make_product(price="1.00", keys=2)
    fund_wallet(buyer, 1000)
    answer = api_as(buyer).post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet",
                                            "accept_terms": True})
    assert answer.status_code == 201
    from kameng.orders.models import Order

    return Order.objects.get(order_no=answer.json()["order_no"])


def _event_rows(order):
    return list(OrderEvent.objects.filter(order=order).order_by("id").values_list("event", "actor", "note", "at"))


def test_insert_writes_the_rows_bulk_create_writes_and_gives_each_its_id(order):
    at = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    before = _event_rows(order)
    one = [OrderEvent(order=order, at=at, actor="system", event="note", note="一")]
    many = [OrderEvent(order=order, at=at, actor=f"buyer:{i}", event="note", note=f"第{i}条") for i in range(3)]
    compiled.insert(one)
    compiled.insert(many)
    assert all(e.pk and not e._state.adding for e in one + many)
    rows = _event_rows(order)[len(before):]
    assert rows == [("note", "system", "一", at)] + [("note", f"buyer:{i}", f"第{i}条", at) for i in range(3)]
    assert [e.pk for e in one + many] == list(
        OrderEvent.objects.filter(order=order).order_by("id").values_list("id", flat=True))[len(before):]


def test_insert_compiles_its_statement_once_per_row_count(order, monkeypatch):
    at = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    compiles = []
    original = compiled._compile_insert
    monkeypatch.setattr(compiled, "_compile_insert", lambda *a: compiles.append(len(a[2])) or original(*a))
    fallbacks = []  # rows the compiled form could not take would go through bulk_create: none here
    monkeypatch.setattr(QuerySet, "bulk_create", lambda self, objs, **kw: fallbacks.append(objs))
    connections["default"].__dict__.pop(compiled._CACHE_ATTR, None)
    for note in ("first", "second", "third"):
        with CaptureQueriesContext(connection) as one_insert:
            compiled.insert([OrderEvent(order=order, at=at, actor="system", event="note", note=note)])
        assert len(one_insert.captured_queries) == 1
    compiled.insert([OrderEvent(order=order, at=at, actor="system", event="note", note=n) for n in "ab"])
    compiled.insert([OrderEvent(order=order, at=at, actor="system", event="note", note=n) for n in "cd"])
    assert compiles == [1, 2] and fallbacks == []
    assert [row[2] for row in _event_rows(order)[-7:]] == ["first", "second", "third", "a", "b", "c", "d"]


def test_a_compiled_read_answers_what_the_orm_answers_with_its_annotation_converted(order, supplier):
    product = order.product
    found = PRODUCT_ON_SALE.first(product_id=product.id)
    assert found.pk == product.pk and found.name == product.name and found.price_fen == product.price_fen
    assert found.supplier_rate is None  # no terms set: the default rate applies
    SupplierTerms.objects.update_or_create(supplier=supplier, defaults={"commission_rate": Decimal("0.0725"), "updated_at": datetime.now(UTC)})
    again = PRODUCT_ON_SALE.first(product_id=product.id)
    assert again.supplier_rate == Decimal("0.0725") and isinstance(again.supplier_rate, Decimal)
    assert PRODUCT_ON_SALE.first(product_id=product.id + 10_000) is None
    assert PRODUCT_ON_SALE.first(product_id=10**30) is None  # beyond any id column: none, not a database error
    product.is_active = False
    product.save(update_fields=["is_active"])
    assert PRODUCT_ON_SALE.first(product_id=product.id) is None


def test_each_thread_compiles_on_its_own_connection(order):
    product_id = order.product_id
    seen = {}

    def read():
        try:
            seen["product"] = PRODUCT_ON_SALE.first(product_id=product_id)
            seen["cached"] = PRODUCT_ON_SALE in connections["default"].__dict__[compiled._CACHE_ATTR]
        finally:
            connections.close_all()

    PRODUCT_ON_SALE.first(product_id=product_id)
    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen["product"].pk == product_id and seen["cached"]


@pytest.fixture
def pending_payments(buyer, make_product, api_as):
    """Two gateway payments awaiting their money, as a buyer's checkout leaves them."""
    from kameng.payments.models import Payment

    product = make_product(price="1.00", keys=2)
    api = api_as(buyer)
    numbers = []
    for _ in range(2):
        answer = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "alipay", "accept_terms": True})
        assert answer.status_code == 201
        numbers.append(answer.json()["payment"]["payment_no"])
    return [Payment.objects.get(payment_no=n) for n in numbers]


def test_save_fields_writes_a_transition_as_save_does_compiled_once(pending_payments, monkeypatch):
    from kameng.payments.models import Payment

    at = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    compiles = []
    original = compiled._compile_update
    monkeypatch.setattr(compiled, "_compile_update", lambda *a: compiles.append(a[0]) or original(*a))
    connections["default"].__dict__.pop(compiled._CACHE_ATTR, None)
    for i, payment in enumerate(pending_payments):
        payment.succeed(trade_no=f"T-{i}", at=at)
        with CaptureQueriesContext(connection) as one_update:
            compiled.save_fields(payment, ["status", "trade_no", "paid_at"])
        assert len(one_update.captured_queries) == 1
    assert compiles == [Payment]
    rows = Payment.objects.filter(id__in=[p.id for p in pending_payments]).order_by("id")
    assert [(p.status, p.trade_no, p.paid_at) for p in rows] == [("succeeded", "T-0", at), ("succeeded", "T-1", at)]


def test_save_fields_refuses_a_transition_from_a_state_that_changed_underneath(pending_payments):
    from django_fsm import ConcurrentTransition

    from kameng.payments.models import Payment

    at = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    first, second = pending_payments[0], Payment.objects.get(id=pending_payments[0].id)  # one row, read twice
    first.succeed(trade_no="FIRST", at=at)
    compiled.save_fields(first, ["status", "trade_no", "paid_at"])
    second.succeed(trade_no="SECOND", at=at)  # still believes the payment pending
    with pytest.raises(ConcurrentTransition):
        compiled.save_fields(second, ["status", "trade_no", "paid_at"])
    assert Payment.objects.get(id=first.id).trade_no == "FIRST"
    # A field no transition is about is written whatever the state now is, when asked.
    second.pay_url = "https://pay.example/checkout"
    compiled.save_fields(second, ["pay_url"], guard_state=False)
    assert Payment.objects.get(id=first.id).pay_url == "https://pay.example/checkout"
    # The state it was saved in is the one the next guarded save starts from, as after save().
    first.pay_url = "https://pay.example/again"
    compiled.save_fields(first, ["pay_url"])
    assert Payment.objects.get(id=first.id).pay_url == "https://pay.example/again"


def test_save_fields_leaves_a_model_with_save_receivers_to_save(pending_payments):
    from django.db.models.signals import post_save

    from kameng.payments.models import Payment

    heard = []

    def receiver(sender, instance, update_fields, **kwargs):
        heard.append((instance.pk, sorted(update_fields)))

    post_save.connect(receiver, sender=Payment)
    try:
        payment = pending_payments[0]
        payment.pay_url = "https://pay.example/heard"
        compiled.save_fields(payment, ["pay_url"], guard_state=False)
    finally:
        post_save.disconnect(receiver, sender=Payment)
    assert heard == [(payment.pk, ["pay_url"])]
    assert Payment.objects.get(id=payment.id).pay_url == "https://pay.example/heard"
