"""The published figures on a dataset whose answers are worked out by hand (see each refund's comment)."""

from datetime import timedelta

import pytest
from django.core.cache import cache

from kameng.aftersales import figure_facts
from kameng.aftersales.models import Refund, RefundEvent
from kameng.aftersales.transparency import percentile_cont, transparency_report
from kameng.core import clock
from kameng.orders.models import Order
from kameng.orders.policies import terms_text
from kameng.orders.services import product_snapshot

H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture(autouse=True)
def _no_cached_figures():
    cache.clear()
    yield
    cache.clear()


def _order(buyer, product, n):
    now = clock.now()
    return Order.objects.create(order_no=f"T{product.id}{n:06d}", buyer=buyer, product=product, quantity=1,
                                unit_price_fen=1000, amount_fen=1000, channel="wallet",
                                snapshot=product_snapshot(product), terms_text=terms_text(), terms_accepted_at=now,
                                created_at=now, expires_at=now)


def _refund(buyer, product, n, reason, submitted, events=(), status="submitted", appealed=None, decided=None):
    """A refund submitted at `submitted` with timeline `events`: (time, event, actor)."""
    refund = Refund.objects.create(refund_no=f"RT{product.id}{n:06d}", order=_order(buyer, product, n), buyer=buyer,
                                   reason=reason, description="…", destination="wallet", amount_fen=1000,
                                   refund_amount_fen=1000, submitted_at=submitted)
    Refund.objects.filter(id=refund.id).update(status=status, appealed_at=appealed, decided_at=decided)
    refund = Refund.objects.get(id=refund.id)
    figure_facts.refund_opened(refund)  # as refund_create and refund_event keep them
    RefundEvent.objects.create(refund=refund, at=submitted, actor=f"buyer:{buyer.username}", event="submitted")
    for at, event, actor in events:
        RefundEvent.objects.create(refund=refund, at=at, actor=actor, event=event)
        figure_facts.event_recorded(refund=refund, event=event, actor=actor, at=at)
    return refund


@pytest.fixture
def dataset(make_user, make_product):
    shop = make_user("supplier")
    shop.first_name = "好运卡铺"
    shop.save()
    quiet = make_user("supplier")  # no shop name: shown by number only
    buyer = make_user("buyer")
    a, b = make_product(owner=shop), make_product(owner=quiet)
    now = clock.now()
    staff = "reviewer:r1"
    # 1. A invalid_key: approved by a reviewer after 2 h.
    _refund(buyer, a, 1, "invalid_key", now - 10 * D, [(now - 10 * D + 2 * H, "approved", staff)], "refunded",
            decided=now - 10 * D + 2 * H)
    # 2. A invalid_key: rejected after 4 h, appealed, approved on appeal (upheld).
    _refund(buyer, a, 2, "invalid_key", now - 10 * D,
            [(now - 10 * D + 4 * H, "rejected", staff), (now - 9 * D, "appealed", "buyer:x"),
             (now - 8 * D, "appeal_approved", "senior_reviewer:s1")], "refunded", appealed=now - 9 * D, decided=now - 8 * D)
    # 3. B changed_mind: approved at once by our own rule (system, 0 h).
    _refund(buyer, b, 3, "changed_mind", now - 5 * D, [(now - 5 * D, "approved", "system")], "refunded",
            decided=now - 5 * D)
    # 4. B not_delivered: escalated at 72 h, approved by the platform at 96 h (late, automatic).
    _refund(buyer, b, 4, "not_delivered", now - 20 * D,
            [(now - 17 * D, "escalated", "system"), (now - 16 * D, "auto_approved", "system")], "refunded",
            decided=now - 16 * D)
    # 5. A not_as_described: submitted, undecided.
    _refund(buyer, a, 5, "not_as_described", now - 3 * D)
    # 6. A invalid_key: submitted and decided before the window — in no figure.
    _refund(buyer, a, 6, "invalid_key", now - 40 * D, [(now - 39 * D, "approved", staff)], "refunded",
            decided=now - 39 * D)
    # 7. B changed_mind: submitted before the window, rejected inside it after 48 h; appeal rejected.
    _refund(buyer, b, 7, "changed_mind", now - 31 * D,
            [(now - 29 * D, "rejected", staff), (now - 28 * D, "appealed", "buyer:x"),
             (now - 27 * D, "appeal_rejected", "senior_reviewer:s1")], "rejected_final",
            appealed=now - 28 * D, decided=now - 27 * D)
    # 8. B invalid_key: rejected after 1 h; the appeal escalated, then approved by the platform (upheld).
    #    Its auto_approved belongs to the appeal: the first decision is the rejection, in time.
    _refund(buyer, b, 8, "invalid_key", now - 15 * D,
            [(now - 15 * D + H, "rejected", staff), (now - 14 * D, "appealed", "buyer:x"),
             (now - 11 * D, "escalated", "system"), (now - 10 * D, "auto_approved", "system")], "refunded",
            appealed=now - 14 * D, decided=now - 10 * D)
    return {"shop": shop, "quiet": quiet}


def test_figures_on_a_known_dataset(dataset, api_as):
    body = api_as().get("/transparency").json()  # public: no token
    overall = body["overall"]
    assert overall == {
        "submitted": 6,  # 1 2 3 4 5 8
        "decided": 6,  # first decisions in the window: 1 2 3 4 7 8
        "approved_share": "0.5000",  # 1 3 4
        "median_hours_to_decision": 3.0,  # 0 1 2 4 48 96
        "p90_hours_to_decision": 72.0,  # between 48 and 96
        "within_deadline_share": "0.8333",  # all but 4
        "automatic_share": "0.3333",  # 3 4
        "appeals": 3,  # 2 7 8
        "appeals_decided": 3,
        "appeals_upheld_share": "0.6667",  # 2 8
    }
    assert body["window_days"] == 30 and body["until"].endswith("+08:00")
    reasons = {row["reason"]: row for row in body["by_reason"]}
    assert set(reasons) == {"invalid_key", "changed_mind", "not_delivered", "not_as_described"}
    assert reasons["invalid_key"]["label"] == "卡密无效"
    assert (reasons["invalid_key"]["submitted"], reasons["invalid_key"]["decided"]) == (3, 3)  # 1 2 8
    assert reasons["invalid_key"]["approved_share"] == "0.3333"
    assert reasons["invalid_key"]["median_hours_to_decision"] == 2.0
    assert reasons["changed_mind"]["submitted"] == 1 and reasons["changed_mind"]["decided"] == 2  # 3; 3 7
    assert reasons["not_as_described"]["decided"] == 0
    assert reasons["not_as_described"]["approved_share"] is None
    assert reasons["not_as_described"]["median_hours_to_decision"] is None
    suppliers = {row["supplier"]: row for row in body["by_supplier"]}
    quiet = f"#{dataset['quiet'].id}"
    assert set(suppliers) == {"好运卡铺", quiet}
    assert (suppliers["好运卡铺"]["submitted"], suppliers["好运卡铺"]["decided"]) == (3, 2)  # 1 2 5; 1 2
    assert (suppliers[quiet]["submitted"], suppliers[quiet]["decided"]) == (3, 4)  # 3 4 8; 3 4 7 8
    assert suppliers[quiet]["within_deadline_share"] == "0.7500"
    assert suppliers[quiet]["appeals_upheld_share"] == "0.5000"  # 7 no, 8 yes
    # Nothing private: no login name of a supplier anywhere in the answer.
    text = str(body)
    assert dataset["shop"].username not in text and dataset["quiet"].username not in text


def test_nothing_to_report_is_zero_and_no_shares(db, api_as):
    body = api_as().get("/transparency").json()
    assert body["overall"]["submitted"] == 0 and body["overall"]["approved_share"] is None
    assert body["by_reason"] == [] and body["by_supplier"] == []


def test_one_query_per_figure_whatever_the_data(dataset, django_assert_max_num_queries, is_postgres):
    # 4 figures (x 3 groupings on SQLite; one GROUPING SETS query each on PostgreSQL), the suppliers'
    # names, the sandbox's test clock, and the transaction's savepoint (and JIT off on PostgreSQL)
    with django_assert_max_num_queries(16) as captured:
        report = transparency_report(use_cache=False)
    if is_postgres:
        assert sum("GROUPING SETS" in q["sql"] for q in captured.captured_queries) == 4
    assert report.overall.decided == 6


def test_cached_for_a_minute(dataset, django_assert_num_queries):
    transparency_report()
    with django_assert_num_queries(1):  # the sandbox's test clock only
        transparency_report()


@pytest.mark.parametrize("values, fraction, expected", [([5], 0.9, 5), ([1, 2, 3, 4], 0.5, 2.5), ([0, 10], 0.9, 9)])
def test_percentile_interpolates_like_postgresql(values, fraction, expected):
    assert percentile_cont(values, fraction) == pytest.approx(expected)
