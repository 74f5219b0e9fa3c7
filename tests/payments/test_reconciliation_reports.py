"""`GET /finance/reconciliation` (contract) and the finance page: the latest runs and their unmatched lines."""

import pytest

from kameng.payments.models import ReconciliationRun
from kameng.payments.reconciliation import reconcile

from .test_reconciliation import _order, _paid_alipay_order, _today


@pytest.fixture
def production(settings, monkeypatch):
    settings.KAMENG_SANDBOX = False
    monkeypatch.setenv("KAMENG_PUBLIC_URL", "https://shop.example")


@pytest.fixture
def two_runs(production, alipay_env, api_as, buyer, make_product):
    """An empty day that balances, then a day with a payment Alipay took that we never heard of."""
    balanced = reconcile(channel="alipay", day=_today())
    api = api_as(buyer)
    _paid_alipay_order(api, alipay_env, make_product(keys=1))
    lost = _order(api, make_product(keys=1), "alipay")
    alipay_env.pay(lost["payment"]["payment_no"], deliver=False)
    alipay_env.trades[lost["payment"]["payment_no"]]["total_fen"] = 1200  # and Alipay's amount differs
    differences = reconcile(channel="alipay", day=_today())
    return balanced, differences, lost


def test_finance_and_admins_read_the_latest_runs_newest_first(two_runs, api_as, make_user, admin):
    balanced, differences, lost = two_runs
    for reader in (make_user("finance"), admin):
        answer = api_as(reader).get("/finance/reconciliation")
        assert answer.status_code == 200, answer.content
        runs = answer.json()["runs"]
        assert [r["id"] for r in runs] == [differences.id, balanced.id]
        latest = runs[0]
        assert (latest["channel"], latest["channel_name"], latest["date"], latest["source"], latest["status"]) == (
            "alipay", "支付宝", _today().isoformat(), "gateway", "differences")
        assert latest["counts"] == {"matched": 1, "missing_here": 0, "missing_there": 0, "amount_differs": 1,
                                    "repaired": 0}
        assert latest["unmatched"] == [{
            "kind": "payment", "category": "amount_differs", "our_no": lost["payment"]["payment_no"],
            "their_no": latest["unmatched"][0]["their_no"], "order_no": lost["order_no"], "statement_amount": "12.00",
            "our_amount": "10.00", "at": latest["unmatched"][0]["at"], "reason": "AMOUNT_DIFFERS",
            "reason_text": "账单金额与平台记录不符", "repair": None}]
        assert runs[1]["status"] == "balanced" and runs[1]["unmatched"] == []
    limited = api_as(admin).get("/finance/reconciliation?limit=1&channel=alipay").json()["runs"]
    assert [r["id"] for r in limited] == [differences.id]
    assert api_as(admin).get("/finance/reconciliation?channel=wechat").json() == {"runs": []}


def test_nobody_else_reads_them_and_bad_parameters_get_a_clear_422(two_runs, api_as, buyer, supplier, reviewer, admin):
    for other in (buyer, supplier, reviewer):
        refused = api_as(other).get("/finance/reconciliation?limit=abc")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "ROLE_FORBIDDEN"
    assert api_as(None).get("/finance/reconciliation").status_code == 401
    for query, code in (("limit=0", "VALIDATION_ERROR"), ("limit=101", "VALIDATION_ERROR"), ("limit=%EF%BC%91", "VALIDATION_ERROR"),
                        ("channel=wallet", "INVALID_CHANNEL"), ("channel=ALIPAY", "INVALID_CHANNEL")):
        answer = api_as(admin).get(f"/finance/reconciliation?{query}")
        assert answer.status_code == 422 and answer.json()["error"]["code"] == code, (query, answer.content)
    assert ReconciliationRun.objects.count() == 2


def test_the_finance_page_shows_runs_to_finance_only(two_runs, client, make_user, buyer):
    balanced, differences, lost = two_runs
    client.force_login(buyer)
    assert client.get("/finance/reconciliation/").status_code == 403
    client.force_login(make_user("finance"))
    page = client.get("/finance/reconciliation/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "支付宝" in html and "¥12.00" in html and "¥10.00" in html and lost["payment"]["payment_no"] in html
    assert "金额不符" in html and "全部相符" in html
