import pytest

from kameng.aftersales.models import Refund
from kameng.core import clock
from kameng.ledger.selectors import book_check

from .conftest import GOOD, ask


def reasons(api, order):
    return {r["code"]: r for r in api.get(f"/orders/{order['order_no']}/refund-options").json()["reasons"]}


def test_options_say_why_fee_and_evidence_for_a_delivered_unrevealed_key(bought):
    api, order = bought()
    options = reasons(api, order)
    assert not options["not_delivered"]["eligible"] and options["not_delivered"]["why"]
    assert options["invalid_key"]["eligible"] and options["invalid_key"]["needs_evidence"]
    assert options["invalid_key"]["fee_rate"] == "0.00"
    assert options["changed_mind"]["eligible"] and options["changed_mind"]["fee_rate"] == "0.05"
    assert not options["topup_not_received"]["eligible"]
    body = api.get(f"/orders/{order['order_no']}/refund-options").json()
    assert body["max_amount"] == "10.00" and body["deadline"]


def test_after_a_reveal_personal_reasons_are_closed_with_the_reason(bought):
    api, order = bought(reveal=True)
    options = reasons(api, order)
    assert not options["changed_mind"]["eligible"] and "查看" in options["changed_mind"]["why"]
    assert "revealed" not in options["changed_mind"]["why"]  # one language at a time
    english = api.get(f"/orders/{order['order_no']}/refund-options", headers={"Accept-Language": "en"}).json()
    why = {r["code"]: r["why"] for r in english["reasons"]}["changed_mind"]
    assert "revealed" in why and "查看" not in why
    response = ask(api, order, "changed_mind", "买错了游戏区服，想换另一个区的点卡，还没有使用。")
    assert response.status_code == 409 and response.json()["error"]["code"] == "REASON_NOT_ELIGIBLE"
    assert Refund.objects.count() == 0


def test_outside_the_window_evidence_reasons_are_closed(bought, advance):
    api, order = bought()
    advance(73)
    assert not reasons(api, order)["invalid_key"]["eligible"]
    assert ask(api, order, "invalid_key").json()["error"]["code"] == "REASON_NOT_ELIGIBLE"


@pytest.mark.parametrize("text", ["不好用", "不好用不好用不好用不好用", "垃圾 骗子 退款!!!!", "bad"])
def test_vague_descriptions_are_refused_with_what_a_good_one_says(bought, text):
    api, order = bought()
    response = ask(api, order, "invalid_key", text)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "DESCRIPTION_TOO_VAGUE" and "提示" in error["message"]
    assert Refund.objects.count() == 0


def test_a_short_personal_reason_is_enough_and_a_keyboard_mash_is_not(bought):
    api, order = bought()
    mash = ask(api, order, "changed_mind", "啊啊啊啊啊啊啊啊啊啊啊啊")
    assert mash.status_code == 422 and mash.json()["error"]["code"] == "DESCRIPTION_TOO_VAGUE"
    assert "买错了" in mash.json()["error"]["message"]  # the hint fits the reason: one plain sentence
    vague = ask(api, order, "invalid_key", "东西不好用，想要退款")
    assert vague.status_code == 422 and "提示" in vague.json()["error"]["message"]
    assert Refund.objects.count() == 0
    assert ask(api, order, "changed_mind", "买错了，不需要了。").status_code == 201


def test_a_request_for_an_evidence_reason_waits_for_review_with_a_working_day_deadline(bought):
    api, order = bought()
    response = ask(api, order, "invalid_key")
    assert response.status_code == 201, response.content
    refund = response.json()
    assert refund["status"] == "submitted" and refund["amount"] == "10.00" and refund["fee"] == "0.00"
    assert refund["sla_due_at"] and refund["timeline"][0]["event"] == "submitted"
    # The platform attaches its own record: the buyer never screenshots what we already know.
    assert [e["source"] for e in refund["evidence"]] == ["platform"]
    assert api.get(f"/orders/{order['order_no']}").json()["items"][0]["status"] == "refund_pending"


def test_one_open_request_per_item(bought):
    api, order = bought()
    assert ask(api, order, "invalid_key").status_code == 201
    again = ask(api, order, "not_as_described")
    assert again.status_code == 409


def test_partial_request_for_chosen_items_with_the_personal_fee(bought):
    api, order = bought(quantity=3)
    first = order["items"][0]["id"]
    refund = ask(api, order, "changed_mind", "买多了，只需要两张，这一张还没有查看过卡密。", item_ids=[first]).json()
    assert refund["amount"] == "10.00" and refund["fee"] == "0.50" and refund["refund_amount"] == "9.50"
    assert refund["item_ids"] == [first]
    bad = ask(api, order, "changed_mind", "买多了，只需要两张，这一张还没有查看过卡密。", item_ids=[first])
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "ITEMS_NOT_REFUNDABLE"


def test_another_buyers_refund_is_404(bought, api_as, make_user):
    api, order = bought()
    refund = ask(api, order, "invalid_key").json()
    stranger = api_as(make_user("buyer"))
    for response in (stranger.get(f"/refunds/{refund['id']}"), stranger.post(f"/refunds/{refund['id']}/withdraw"),
                     stranger.get(f"/refunds/{refund['id']}/dossier")):
        assert response.status_code == 404
    assert stranger.post("/refunds", {"order_no": order["order_no"], "reason": "invalid_key",
                                      "description": GOOD}).status_code == 404


def test_not_delivered_past_the_promise_is_refunded_at_once_to_the_wallet(api_as, buyer, make_product, fund_wallet,
                                                                          advance):
    product = make_product(kind="topup", delivery_promise_minutes=10)
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True,
                                 "recharge_account": "13800138000"}).json()
    assert not reasons(api, order)["not_delivered"]["eligible"]
    clock.advance(seconds=3600)  # the top-up was never sent (worker behind): not at the supplier, so refundable
    refund = ask(api, order, "not_delivered", "付款一小时了还没有到账，订单一直显示处理中。").json()
    assert refund["status"] == "refunded" and refund["refund_amount"] == "10.00"
    assert api.get("/wallet").json()["balance"] == "100.00"
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "refunded"
    assert book_check().ok


def test_a_failed_top_up_is_approved_automatically(api_as, buyer, supplier, make_product, fund_wallet, advance):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = api.post("/orders", {"product_id": make_product(kind="topup").id, "quantity": 1, "channel": "wallet",
                                 "accept_terms": True, "recharge_account": "player-7"}).json()
    advance(0.01)
    api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "failed"})
    refund = ask(api, order, "topup_not_received", "充值显示失败，游戏账号里没有收到任何点券。").json()
    assert refund["status"] == "refunded"
    assert book_check().ok


def test_topup_not_received_after_24_hours_goes_to_review(api_as, buyer, make_product, fund_wallet, advance):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = api.post("/orders", {"product_id": make_product(kind="topup").id, "quantity": 1, "channel": "wallet",
                                 "accept_terms": True, "recharge_account": "player-7"}).json()
    assert not reasons(api, order)["topup_not_received"]["eligible"]
    advance(25)
    refund = ask(api, order, "topup_not_received", "已经过了一天，手机号 13800138000 仍未收到话费。").json()
    assert refund["status"] == "submitted"


def test_at_most_five_requests_per_item(bought):
    api, order = bought()
    for _ in range(5):
        refund = ask(api, order, "invalid_key").json()
        assert api.post(f"/refunds/{refund['id']}/withdraw").status_code == 200
    options = reasons(api, order)
    assert not options["invalid_key"]["eligible"]
    assert ask(api, order, "invalid_key").status_code == 409
