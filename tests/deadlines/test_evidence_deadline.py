"""The evidence deadline acts: the buyer is reminded before it, and a case it passes with no evidence goes to
the reviewer marked "no evidence supplied" (never closed or rejected by the clock; its other deadlines hold)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile

from kameng.aftersales.models import Refund, RefundEvent
from kameng.aftersales.services import evidence_add, evidence_remove
from kameng.core import clock
from kameng.notifications.models import InboxMessage, OutboxMessage
from tests.aftersales.conftest import contested

from .conftest import ask


def until(iso_moment: str) -> float:
    return (datetime.fromisoformat(iso_moment) - clock.now()).total_seconds() / 3600


def events(refund_id, event):
    return list(RefundEvent.objects.filter(refund_id=refund_id, event=event).values_list("actor", flat=True))


def beijing(iso_moment: str) -> str:
    return datetime.fromisoformat(iso_moment).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def utc(iso_moment: str) -> str:
    return datetime.fromisoformat(iso_moment).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M")


def test_the_buyer_is_reminded_once_then_the_case_is_marked_for_the_reviewer(bought, buyer, advance, client):
    api, order = bought(reveal=True)
    refund = ask(api, order, "system_error").json()  # needs evidence; the platform's own review, no supplier
    due = refund["evidence_due_at"]
    assert refund["awaiting_evidence"] is True and refund["evidence_overdue_at"] is None

    advance(until(due) - 6.5)  # not yet six hours before
    assert events(refund["id"], "evidence_reminded") == []

    advance(0.6)  # now inside the last six hours: one reminder, by 站内信 and SMS, in Beijing time
    advance(0.5)  # a second sweep reminds nobody again
    assert events(refund["id"], "evidence_reminded") == ["system"]
    reminder = InboxMessage.objects.get(user=buyer, refund_id=refund["id"], title__startswith="请补充证据")
    assert beijing(due) in reminder.body and utc(due) not in reminder.body
    assert OutboxMessage.objects.filter(channel="sms", body__contains=beijing(due)).count() == 1

    advance(until(due) + 0.1)
    advance(1)  # acting twice changes nothing
    after = api.get(f"/refunds/{refund['id']}").json()
    assert after["status"] == "submitted"  # to the reviewer, not closed by the clock
    assert after["evidence_overdue_at"] is not None and after["awaiting_evidence"] is True
    assert events(refund["id"], "evidence_overdue") == ["system"]
    assert [e["event"] for e in after["timeline"]].count("evidence_overdue") == 1
    told = InboxMessage.objects.get(user=buyer, refund_id=refund["id"], title__startswith="补证期限已过")
    assert beijing(due) in told.body and utc(due) not in told.body
    assert "证据不足" in told.body and "申诉" in told.body and "7 天" in told.body  # what it means, the route out

    client.force_login(buyer)
    page = client.get(f"/refunds/{refund['id']}/").content.decode()
    assert "未补充证据" in page and "补证期限已过，买家未提供证据" in page and beijing(due) in page
    client.cookies["django_language"] = "en"
    english = client.get(f"/refunds/{refund['id']}/").content.decode()
    assert "No evidence supplied" in english and "The evidence deadline" in english and beijing(due) in english
    assert "补证" not in english


def test_the_reviewer_sees_the_mark_and_its_label_in_english(bought, reviewer, advance, client):
    api, order = bought(reveal=True)
    refund = ask(api, order, "system_error").json()
    advance(until(refund["evidence_due_at"]) + 0.1)
    client.force_login(reviewer)
    page = client.get(f"/staff/refunds/{refund['id']}/").content.decode()
    assert 'id="awaiting-evidence"' in page and "未补充证据" in page
    assert "evidence-overdue" in client.get("/staff/refunds/").content.decode()
    client.cookies["django_language"] = "en"
    english = client.get(f"/staff/refunds/{refund['id']}/").content.decode()
    assert "No evidence supplied" in english and "Evidence deadline passed" in english
    assert "补证" not in english


def test_evidence_on_file_stops_both(bought, buyer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "system_error").json()
    evidence_add(user=buyer, refund_id=refund["id"], uploaded_file=SimpleUploadedFile("shot.txt", b"error 0x80"))
    advance(until(refund["evidence_due_at"]) + 1)
    assert events(refund["id"], "evidence_reminded") == [] and events(refund["id"], "evidence_overdue") == []
    assert api.get(f"/refunds/{refund['id']}").json()["evidence_overdue_at"] is None


def test_a_file_taken_back_is_no_evidence(bought, buyer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "system_error").json()
    evidence = evidence_add(user=buyer, refund_id=refund["id"], uploaded_file=SimpleUploadedFile("x.txt", b"wrong"))
    evidence_remove(user=buyer, refund_id=refund["id"], evidence_id=evidence.id)
    advance(until(refund["evidence_due_at"]) + 0.1)
    assert events(refund["id"], "evidence_overdue") == ["system"]


def test_a_clock_moved_past_the_deadline_sends_no_late_reminder(bought, buyer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "system_error").json()
    advance(until(refund["evidence_due_at"]) + 0.1)
    assert events(refund["id"], "evidence_reminded") == []
    assert events(refund["id"], "evidence_overdue") == ["system"]


def test_the_other_deadlines_still_hold_for_a_case_without_evidence(bought, advance):
    # The supplier's silence is acceptance (contract) even with no evidence: no "no evidence" notice after it.
    api, order = bought(reveal=True)
    silent = ask(api, order, "invalid_key").json()
    advance(until(silent["evidence_due_at"]) + 0.1)
    assert api.get(f"/refunds/{silent['id']}").json()["status"] == "refunded"
    assert events(silent["id"], "evidence_overdue") == []

    # Contested and never reviewed: marked, then escalated and approved by the platform as the contract says.
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    contested(refund["id"])
    advance(until(refund["evidence_due_at"]) + 0.1)
    assert events(refund["id"], "evidence_overdue") == ["system"]
    advance(24 * 14)
    decided = api.get(f"/refunds/{refund['id']}").json()
    assert decided["status"] == "refunded" and events(refund["id"], "auto_approved") == ["system"]


def test_a_decided_case_is_left_alone(bought, api_as, reviewer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "system_error").json()
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/reject", {"reason_code": "insufficient_evidence",
                                                                    "note": "没有截图"})
    advance(until(refund["evidence_due_at"]) + 1)
    assert events(refund["id"], "evidence_overdue") == [] and events(refund["id"], "evidence_reminded") == []
    assert Refund.objects.get(id=refund["id"]).evidence_overdue_at is None


def test_a_short_window_is_reminded_halfway(bought, advance):
    api, order = bought(reveal=True, refund_policy={"info_reply_hours": 4})
    refund = ask(api, order, "system_error").json()
    due = datetime.fromisoformat(refund["evidence_due_at"])
    advance(1.5)
    assert events(refund["id"], "evidence_reminded") == []  # halfway is two hours in
    advance(0.6)
    assert events(refund["id"], "evidence_reminded") == ["system"]
    assert clock.now() < due - timedelta(hours=1)
