"""Per-supplier commission (kept on each order as sold) and the supplier's deposit (保证金) that chargebacks
beyond its available balance draw on."""

from decimal import Decimal

import pytest

from kameng.ledger.models import CommissionRateChange, Journal
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance
from kameng.orders.models import Order

from .conftest import ask, contested

APPEAL = {"description": "补充了兑换页面录屏，显示卡密不存在，请复核。"}


@pytest.fixture
def finance(make_user):
    return make_user("finance")


def figures(api_as, supplier):
    response = api_as(supplier).get("/supplier/balance")
    assert response.status_code == 200, response.content
    return response.json()


def set_rate(api_as, finance, supplier, rate):
    return api_as(finance)._call("put", f"/finance/suppliers/{supplier.id}/commission-rate", {"commission_rate": rate})


def lodge(api_as, finance, supplier, amount, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return api_as(finance).post(f"/finance/suppliers/{supplier.id}/deposits", {"amount": amount}, headers=headers)


def test_each_order_keeps_the_rate_it_was_sold_at(bought, api_as, supplier, finance, reviewer, settings):
    assert figures(api_as, supplier)["commission_rate"] == "0.05"  # none set: the platform's setting
    answer = set_rate(api_as, finance, supplier, "0.10")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"supplier_id": supplier.id, "commission_rate": "0.10", "deposit": "0.00"}
    api, first = bought(reveal=True)
    assert figures(api_as, supplier)["pending"] == "9.00"  # 10.00 less 10 %
    assert set_rate(api_as, finance, supplier, "0.2").status_code == 200
    settings.KAMENG_COMMISSION_RATE = "0.30"  # the setting moving changes no order either
    bought()
    assert figures(api_as, supplier)["pending"] == "17.00"  # 9.00 + 8.00: the second sold at 20 %
    assert [str(o.commission_rate) for o in Order.objects.order_by("id")] == ["0.1000", "0.2000"]
    # A refund of the first order, decided after both changes, gives back the first order's commission.
    refund = ask(api, first, "invalid_key", destination="wallet").json()
    contested(refund["id"])
    assert api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "属实"}).status_code == 200
    shown = figures(api_as, supplier)
    assert (shown["pending"], shown["chargebacks"]) == ("8.00", "9.00")
    assert list(CommissionRateChange.objects.order_by("id").values_list("previous_rate", "commission_rate")) == [
        (Decimal("0.05"), Decimal("0.10")), (Decimal("0.10"), Decimal("0.20"))]
    assert book_check().ok


def test_a_rate_is_set_by_finance_only_and_validated(api_as, supplier, finance, make_user):
    for bad in ("0.6", "-0.01", "0.12345", "abc", "", 0.1, "NaN", "Infinity"):
        answer = set_rate(api_as, finance, supplier, bad)
        assert answer.status_code == 422, (bad, answer.content)
        assert answer.json()["error"]["code"] in ("INVALID_RATE", "VALIDATION_ERROR"), answer.content
    assert set_rate(api_as, supplier, supplier, "0.00").status_code == 403  # not its own terms
    buyer = make_user("buyer")
    assert set_rate(api_as, finance, buyer, "0.01").status_code == 404  # not a supplier
    assert not CommissionRateChange.objects.exists()
    assert figures(api_as, supplier)["commission_rate"] == "0.05"
    assert set_rate(api_as, make_user("admin"), supplier, "0.0525").json()["commission_rate"] == "0.0525"


def test_a_deposit_is_recorded_once_through_the_ledger_and_shown_to_the_supplier(api_as, supplier, finance, client):
    for bad in ("0", "-5.00", "1.001", "abc", 5.5, "1e30", "100000000.01"):  # past ¥100,000,000 is a typo
        assert lodge(api_as, finance, supplier, bad).status_code == 422, bad
    assert lodge(api_as, supplier, supplier, "100.00").status_code == 403
    first = lodge(api_as, finance, supplier, "100.00", key="dep-1")
    again = lodge(api_as, finance, supplier, "100.00", key="dep-1")  # a retry: the same answer, once
    assert first.status_code == again.status_code == 201, first.content
    assert first.json() == again.json() == {"supplier_id": supplier.id, "commission_rate": "0.05", "deposit": "100.00"}
    assert Journal.objects.filter(kind="deposit_lodged").count() == 1
    assert figures(api_as, supplier)["deposit"] == "100.00"
    assert balance(Accounts.BANK_PAYOUTS).fen == 10_000
    client.force_login(supplier)
    page = client.get("/supplier/money/").content.decode()
    assert "保证金" in page and "¥100.00" in page and "缴纳保证金" in page
    assert book_check().ok


def _charged_after_maturity(bought, advance, api_as, reviewer, senior):
    """A sale that matured while its claim was rejected, then won on appeal: charged after maturity."""
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key", destination="wallet").json()
    contested(refund["id"])
    rejected = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/reject",
                                     {"reason_code": "insufficient_evidence", "note": "没有截图"})
    assert rejected.status_code == 200, rejected.content
    advance(73)  # the sale matures: 9.50 available
    return api, refund


def test_a_chargeback_beyond_available_draws_on_the_deposit(bought, advance, api_as, supplier, finance, reviewer,
                                                            senior, client):
    api, refund = _charged_after_maturity(bought, advance, api_as, reviewer, senior)
    assert figures(api_as, supplier)["available"] == "9.50"
    assert api_as(supplier).post("/supplier/withdrawals", {"amount": "9.00"}).status_code == 201
    assert lodge(api_as, finance, supplier, "5.00").status_code == 201
    assert api.post(f"/refunds/{refund['id']}/appeal", APPEAL).status_code == 200
    upheld = api_as(senior).post(f"/staff/refunds/{refund['id']}/approve", {"note": "录屏属实"})
    assert upheld.status_code == 200, upheld.content
    # 9.50 charged: 0.50 from available, 5.00 from the deposit, the last 4.00 owed (available below zero).
    shown = figures(api_as, supplier)
    assert (shown["available"], shown["deposit"], shown["chargebacks"]) == ("-4.00", "0.00", "9.50")
    journal = Journal.objects.get(kind="refund")
    lines = dict(journal.postings.values_list("account__code", "amount_fen"))
    assert lines[Accounts.deposit(supplier.id)] == 500 and lines[Accounts.available(supplier.id)] == 450
    client.force_login(supplier)
    assert "从保证金扣除" in client.get("/supplier/money/").content.decode()
    assert book_check().ok


def test_a_chargeback_within_available_leaves_the_deposit(bought, advance, api_as, supplier, finance, reviewer, senior):
    api, refund = _charged_after_maturity(bought, advance, api_as, reviewer, senior)
    assert lodge(api_as, finance, supplier, "50.00").status_code == 201
    assert api.post(f"/refunds/{refund['id']}/appeal", APPEAL).status_code == 200
    assert api_as(senior).post(f"/staff/refunds/{refund['id']}/approve", {"note": "属实"}).status_code == 200
    shown = figures(api_as, supplier)
    assert (shown["available"], shown["deposit"]) == ("0.00", "50.00")
    assert book_check().ok


def test_an_order_paid_after_a_rate_change_settles_at_the_rate_it_was_bought_at(api_as, buyer, make_product, supplier,
                                                                                   finance):
    assert set_rate(api_as, finance, supplier, "0.10").status_code == 200
    product = make_product(price="10.00", keys=2)
    api = api_as(buyer)
    order = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "alipay",
                                 "accept_terms": True}).json()
    assert set_rate(api_as, finance, supplier, "0.30").status_code == 200  # before the buyer pays
    assert api.post(f"/sandbox/payments/{order['payment']['payment_no']}/pay").status_code == 200
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "delivered"
    assert figures(api_as, supplier)["pending"] == "9.00"  # 10 %, as when it was bought
    assert book_check().ok
