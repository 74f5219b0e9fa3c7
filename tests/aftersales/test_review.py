from kameng.aftersales.models import Refund
from kameng.inventory.models import CardSecret
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance
from kameng.notifications.models import InboxMessage, OutboxMessage

from .conftest import ask, contested


def test_reviewer_approves_an_invalid_key_charged_back_to_the_supplier(bought, api_as, reviewer, supplier):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key", destination="wallet").json()
    payable_before = balance(Accounts.payable(supplier.id))
    decided = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "卡密校验失败，属实"})
    assert decided.status_code == 200, decided.content
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert (payable_before - balance(Accounts.payable(supplier.id))).fen == 950  # 10.00 less the 5% commission
    # The revealed key is voided for ever.
    assert CardSecret.objects.filter(status="voided").count() == 1
    assert book_check().ok


def test_original_path_refund_completes_through_the_gateway_once(bought, api_as, reviewer, advance):
    api, order = bought(channel="alipay")
    # Never revealed: approved at once from our own records, no reviewer needed.
    approved = ask(api, order, "changed_mind", "买错了面额，卡密还没有查看过，想换成大面额的。").json()
    refund = approved
    assert approved["status"] == "refunding" and approved["expected_arrival_by"]
    assert approved["refund_amount"] == "9.50" and approved["fee"] == "0.50"
    # The key was never revealed: it goes back to stock.
    assert CardSecret.objects.filter(status="available").count() == 3
    advance(1)
    done = api.get(f"/refunds/{refund['id']}").json()
    assert done["status"] == "refunded"
    assert str(balance("refund_fees")) == "0.50"
    assert book_check().ok


def test_two_reviewers_acting_at_once_make_one_decision(bought, api_as, reviewer, make_user):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    other = make_user("reviewer")
    first = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/reject",
                                  {"reason_code": "insufficient_evidence", "note": "请提供兑换失败的截图"})
    second = api_as(other).post(f"/staff/refunds/{refund['id']}/approve", {"note": "同意"})
    assert first.status_code == 200 and second.status_code == 409


def test_a_reviewer_cannot_decide_on_their_own_order(api_as, make_user, make_product, fund_wallet):
    from kameng.orders.services import order_create

    # A reviewer account cannot buy, so the rule is checked on the refund's buyer id directly.
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=1)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    refund = ask(api_as(buyer), {"order_no": order.order_no}, "invalid_key").json()
    buyer.role = "reviewer"
    buyer.save()
    response = api_as(buyer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "x"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "OWN_ORDER"


def test_request_for_information_pauses_the_deadline_and_the_answer_resumes_it(bought, api_as, reviewer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    asked = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/request-info", {"message": "请上传兑换失败页面的截图"})
    assert asked.json()["status"] == "awaiting_buyer"
    advance(5)
    answered = api.post(f"/refunds/{refund['id']}/messages", {"body": "截图已上传，提示为“卡密不存在”。"})
    assert answered.status_code == 201
    body = answered.json()
    assert body["status"] == "submitted"
    from datetime import datetime, timedelta

    moved = datetime.fromisoformat(body["sla_due_at"]) - datetime.fromisoformat(refund["sla_due_at"])
    assert timedelta(hours=4, minutes=59) < moved < timedelta(hours=5, minutes=1)
    kinds = [m["kind"] for m in body["messages"]]
    assert kinds == ["info_request", "info_reply"]


def test_no_answer_within_the_reply_window_closes_the_request(bought, api_as, reviewer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    contested(refund["id"])
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/request-info", {"message": "请上传截图"})
    advance(25)
    closed = api.get(f"/refunds/{refund['id']}").json()
    assert closed["status"] == "closed" and closed["closed_reason"] == "buyer_timeout"
    assert ask(api, order, "invalid_key").status_code == 201  # may apply again
    assert OutboxMessage.objects.filter(channel="sms").exists()


def test_urge_only_after_the_deadline_then_the_senior_queue(bought, api_as, reviewer, senior, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    contested(refund["id"])  # a contested claim waits for a reviewer; an uncontested one is the supplier's
    early = api.post(f"/refunds/{refund['id']}/urge")
    assert early.status_code == 409
    advance(hours_until(refund["sla_due_at"]) + 0.5)  # the sweep escalates it at the deadline
    urged = api.post(f"/refunds/{refund['id']}/urge")
    assert urged.status_code == 200 and urged.json()["escalated"]
    senior_queue = api_as(senior).get("/staff/refunds?queue=senior").json()
    assert [r["id"] for r in senior_queue] == [refund["id"]]
    assert api.post(f"/refunds/{refund['id']}/urge").json()["error"]["code"] == "ALREADY_URGED"


def hours_until(iso_moment: str) -> float:
    from datetime import datetime

    from kameng.core import clock

    return (datetime.fromisoformat(iso_moment) - clock.now()).total_seconds() / 3600


def test_appeal_goes_to_a_different_senior_reviewer_and_is_final(bought, api_as, senior, make_user, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    api_as(senior).post(f"/staff/refunds/{refund['id']}/reject", {"reason_code": "insufficient_evidence", "note": "无截图"})
    appealed = api.post(f"/refunds/{refund['id']}/appeal", {"description": "补充了兑换页面录屏，显示卡密不存在，请复核。"})
    assert appealed.status_code == 200 and appealed.json()["status"] == "appealed"
    own = api_as(senior).post(f"/staff/refunds/{refund['id']}/approve", {"note": "x"})
    assert own.status_code == 403 and own.json()["error"]["code"] == "SAME_REVIEWER"
    plain = api_as(make_user("reviewer")).post(f"/staff/refunds/{refund['id']}/approve", {"note": "x"})
    assert plain.status_code == 403
    final = api_as(make_user("senior_reviewer")).post(f"/staff/refunds/{refund['id']}/reject",
                                                      {"reason_code": "not_reproducible", "note": "复核后仍无法复现"})
    assert final.json()["status"] == "rejected_final"
    assert api.post(f"/refunds/{refund['id']}/appeal", {"description": "再次申诉，请重新审核这个问题的证据。"}).status_code == 409


def test_no_appeal_for_an_item_refunded_another_way_since(bought, api_as, reviewer):
    api, order = bought(reveal=True)
    rejected = ask(api, order, "invalid_key").json()
    api_as(reviewer).post(f"/staff/refunds/{rejected['id']}/reject", {"reason_code": "insufficient_evidence", "note": "无截图"})
    later = ask(api, order, "not_as_described", description="商品页写的是王者荣耀点券，收到的卡密是和平精英的兑换码。").json()
    assert api_as(reviewer).post(f"/staff/refunds/{later['id']}/approve", {"note": "核实"}).json()["status"] in (
        "approved", "refunded")
    appeal = api.post(f"/refunds/{rejected['id']}/appeal", {"description": "补充了兑换页面录屏，显示卡密不存在，请复核。"})
    assert appeal.status_code == 409 and appeal.json()["error"]["code"] == "ITEM_ALREADY_REFUNDED"
    assert Refund.objects.get(id=rejected["id"]).status == "rejected"
    assert api.get(f"/orders/{order['order_no']}").json()["items"][0]["status"] == "refunded"


def test_no_appeal_after_the_window(bought, api_as, reviewer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/reject", {"reason_code": "other", "note": "不符合"})
    advance(24 * 7 + 1)
    late = api.post(f"/refunds/{refund['id']}/appeal", {"description": "我有新的证据，兑换页面录屏显示失败。"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "APPEAL_WINDOW_CLOSED"
    assert Refund.objects.get().status == "rejected"


def test_staff_queue_is_ordered_by_deadline_and_hidden_from_buyers(bought, api_as, reviewer, buyer):
    api, order = bought(quantity=2, reveal=True)
    first = ask(api, order, "invalid_key", item_ids=[order["items"][0]["id"]]).json()
    second = ask(api, order, "not_as_described", item_ids=[order["items"][1]["id"]]).json()
    queue = api_as(reviewer).get("/staff/refunds").json()
    assert [r["id"] for r in queue] == [first["id"], second["id"]]
    assert api_as(buyer).get("/staff/refunds").status_code == 403
    case = api_as(reviewer).get(f"/staff/refunds/{first['id']}").json()
    assert case["deliveries"][0]["issued_to_other_orders"] == [] and case["reveals"]
    assert case["order_snapshot"]["price"] == "10.00" and case["current_product"]["id"] == order["product_id"]


def test_wrong_state_actions_are_409(bought, api_as, reviewer):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    assert api.post(f"/refunds/{refund['id']}/appeal", {"description": "还没有被驳回就申诉，应当被拒绝。"}).status_code == 409
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "ok"})
    assert api.post(f"/refunds/{refund['id']}/withdraw").status_code == 409
    assert api_as(reviewer).post(f"/staff/refunds/{refund['id']}/request-info", {"message": "?"}).status_code == 409
    bad = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/reject", {"reason_code": "nope", "note": "x"})
    assert bad.status_code == 422


def test_buyer_is_told_in_the_inbox(bought, api_as, reviewer, buyer):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/reject", {"reason_code": "other", "note": "不符合规则"})
    titles = list(InboxMessage.objects.filter(user=buyer).values_list("title", flat=True))
    assert any("驳回" in t for t in titles)


def test_reviewers_are_told_when_the_buyer_answers_urges_or_appeals(bought, api_as, reviewer, senior, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    contested(refund["id"])
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/request-info", {"message": "请上传截图"})
    api.post(f"/refunds/{refund['id']}/messages", {"body": "截图已上传，提示为卡密不存在。"})
    assert InboxMessage.objects.filter(user=reviewer, refund_id=refund["id"], title__contains="补充").exists()
    advance(hours_until(api.get(f"/refunds/{refund['id']}").json()["sla_due_at"]) + 0.5)
    assert InboxMessage.objects.filter(user=senior, title__contains="已超过审核期限").exists()  # the deadline told them
    assert api.post(f"/refunds/{refund['id']}/urge").status_code == 200
    assert InboxMessage.objects.filter(user=senior, title__contains="催办").exists()


def test_the_staff_queue_pages_by_keyset(bought, api_as, reviewer):
    api, order = bought(quantity=3, reveal=True)
    ids = [ask(api, order, "invalid_key", item_ids=[item["id"]]).json()["id"] for item in order["items"]]
    staff = api_as(reviewer)
    first = staff.get("/staff/refunds?limit=2").json()
    rest = staff.get(f"/staff/refunds?limit=2&after={first[-1]['id']}").json()
    assert [r["id"] for r in first + rest] == ids
    assert staff.get("/staff/refunds?after=999999999").status_code == 404
    api.post(f"/refunds/{ids[0]}/withdraw")
    assert staff.get(f"/staff/refunds?status=awaiting_buyer&after={ids[0]}").status_code == 422
