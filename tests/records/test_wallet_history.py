"""The buyer's wallet history (流水), from the ledger: newest first, labelled, signed, paged."""

from .conftest import ask


def test_lines_newest_first_with_labels_signs_balances_and_their_order(bought, buyer, api_as, fund_wallet):
    api, order = bought()  # granted 1000.00, then paid 10.00 from the wallet
    refund = ask(api, order, "changed_mind", destination="wallet").json()
    body = api.get("/wallet/history").json()
    lines = body["items"]
    assert body["next_before"] is None
    labels = [line["label"] for line in lines]
    assert labels[-2:] == ["购买商品", "平台赠送"] and lines[-1]["amount"] == "+1000.00"
    purchase = lines[-2]
    assert purchase["amount"] == "-10.00" and purchase["order_no"] == order["order_no"]
    assert purchase["balance_after"] == "990.00" and purchase["at"].endswith("+08:00")
    if refund.get("status") == "refunded":  # a never-revealed key is refunded at once, to the wallet
        assert lines[0]["label"] == "退款到余额" and lines[0]["refund_no"] == refund["refund_no"]
        assert lines[0]["amount"].startswith("+")
    assert lines[0]["balance_after"] == api.get("/wallet").json()["balance"]
    assert all(line["kind"] not in line["label"] for line in lines)  # a person reads the label, not the code


def test_paged_by_before(buyer, api_as, fund_wallet):
    for _ in range(5):
        fund_wallet(buyer, 100)
    api = api_as(buyer)
    first = api.get("/wallet/history?limit=2").json()
    assert [line["balance_after"] for line in first["items"]] == ["5.00", "4.00"]
    second = api.get(f"/wallet/history?limit=2&before={first['next_before']}").json()
    assert [line["balance_after"] for line in second["items"]] == ["3.00", "2.00"]
    last = api.get(f"/wallet/history?limit=2&before={second['next_before']}").json()
    assert [line["balance_after"] for line in last["items"]] == ["1.00"] and last["next_before"] is None


def test_empty_and_roles(buyer, api_as, make_user):
    assert api_as(buyer).get("/wallet/history").json() == {"items": [], "next_before": None}
    assert api_as(make_user("supplier")).get("/wallet/history").status_code == 403
    assert api_as(buyer).get("/wallet/history?before=abc").status_code == 422
