"""Review deadlines that act: escalation at the review deadline, automatic approval at the senior one."""

from datetime import datetime

from kameng.aftersales.models import Refund, RefundEvent
from kameng.core import clock
from kameng.core.workdays import add_workdays
from kameng.ledger.models import Posting
from kameng.notifications.models import InboxMessage, OutboxMessage
from tests.aftersales.conftest import contested

from .conftest import ask


def until(iso_moment: str) -> float:
    return (datetime.fromisoformat(iso_moment) - clock.now()).total_seconds() / 3600


def events(refund_id):
    return list(RefundEvent.objects.filter(refund_id=refund_id).order_by("id").values_list("event", "actor"))


def test_an_undecided_refund_is_escalated_then_approved_by_the_platform(bought, api_as, senior, buyer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    contested(refund["id"])  # the supplier said no: the claim waits for a reviewer
    first_due = datetime.fromisoformat(refund["sla_due_at"])
    advance(until(refund["sla_due_at"]) + 0.1)

    escalated = api.get(f"/refunds/{refund['id']}").json()
    assert escalated["status"] == "submitted" and escalated["escalated"] is True
    assert datetime.fromisoformat(escalated["sla_due_at"]) == add_workdays(first_due, 1)
    assert ("escalated", "system") in events(refund["id"])
    told = InboxMessage.objects.filter(user=buyer, refund_id=refund["id"]).order_by("-id").first().body
    assert "高级审核员" in told and "自动同意退款" in told  # what happens next
    assert "12315" in told and "交易投诉" in told and "证据包" in told  # the platform failed: the routes out
    assert OutboxMessage.objects.filter(channel="sms", body__contains="12315").exists()
    assert InboxMessage.objects.filter(user=senior, title__contains="已超过审核期限").exists()
    assert [r["id"] for r in api_as(senior).get("/staff/refunds?queue=senior").json()] == [refund["id"]]

    advance(until(escalated["sla_due_at"]) + 0.1)
    decided = api.get(f"/refunds/{refund['id']}").json()
    assert decided["status"] == "refunded"  # wallet order: the money is back at once
    auto = [e for e in decided["timeline"] if e["event"] == "auto_approved"]
    assert len(auto) == 1 and auto[0]["actor"] == "system"
    assert [e for e, _ in events(refund["id"])].index("escalated") < [e for e, _ in events(refund["id"])].index("auto_approved")


def test_a_decision_before_the_deadline_stops_it(bought, api_as, reviewer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/reject", {"reason_code": "insufficient_evidence",
                                                                    "note": "没有截图"})
    advance(24 * 30)
    after = api.get(f"/refunds/{refund['id']}").json()
    assert after["status"] == "rejected" and not after["escalated"]
    assert "auto_approved" not in [e for e, _ in events(refund["id"])]


def test_an_undecided_appeal_is_escalated_then_approved_on_the_senior_deadline(bought, api_as, senior, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    api_as(senior).post(f"/staff/refunds/{refund['id']}/reject", {"reason_code": "insufficient_evidence", "note": "无截图"})
    appealed = api.post(f"/refunds/{refund['id']}/appeal", {"description": "补充了兑换页面录屏，显示卡密不存在，请复核。"}).json()
    assert appealed["escalated"] is False
    advance(until(appealed["sla_due_at"]) + 0.1)
    escalated = api.get(f"/refunds/{refund['id']}").json()
    assert escalated["status"] == "appealed" and escalated["escalated"]
    advance(until(escalated["sla_due_at"]) + 0.1)
    final = Refund.objects.get(id=refund["id"])
    assert final.status == "refunded" and final.final_decided_by is None
    assert ("auto_approved", "system") in events(refund["id"])


def test_the_platform_pays_when_the_supplier_contested_and_nobody_decided(bought, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    assert refund["liable"] == "supplier"
    contested(refund["id"])
    advance(24 * 30)
    decided = Refund.objects.get(id=refund["id"])
    assert decided.status == "refunded" and decided.liable == "platform"
    refund_postings = Posting.objects.filter(journal__reference=f"refund:{decided.refund_no}")
    assert refund_postings.filter(account__code="losses", amount_fen=1000).exists()  # the ledger says who paid
    assert not refund_postings.filter(account__code__startswith="payable").exists()


def test_a_year_on_the_test_clock_decides_everything_due_in_order(bought, api_as, reviewer, senior, advance):
    api, order = bought(quantity=4, reveal=True)
    items = [item["id"] for item in order["items"]]
    waiting = ask(api, order, "invalid_key", item_ids=[items[0]]).json()
    contested(waiting["id"])
    asked = ask(api, order, "not_as_described", item_ids=[items[1]]).json()
    api_as(reviewer).post(f"/staff/refunds/{asked['id']}/request-info", {"message": "请上传截图"})
    appealed = ask(api, order, "key_already_used", item_ids=[items[2]]).json()
    contested(appealed["id"])
    api_as(senior).post(f"/staff/refunds/{appealed['id']}/reject", {"reason_code": "other", "note": "不符合规则"})
    api.post(f"/refunds/{appealed['id']}/appeal", {"description": "补充了兑换页面录屏，显示卡密已被他人使用。"})
    advance(24 * 365)
    statuses = {r["id"]: r["status"] for r in api.get("/refunds").json()}
    assert statuses[waiting["id"]] == "refunded" and statuses[appealed["id"]] == "refunded"
    assert statuses[asked["id"]] == "closed"  # the buyer never answered: that deadline closes it
    for refund_id in (waiting["id"], appealed["id"]):
        names = [e for e, _ in events(refund_id)]
        assert names.index("escalated") < names.index("auto_approved") < names.index("refunded")
    assert not Refund.objects.filter(status__in=("submitted", "appealed", "awaiting_buyer")).exists()
