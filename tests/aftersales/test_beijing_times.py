"""Every time a person reads is Beijing time, as the pages show it (issue 9, item 1).

The clock is set to 2026-11-24 16:54 UTC, which is already 2026-11-25 00:54 in Beijing: every deadline
the services compute then falls on a different calendar day in UTC and in Beijing, so a message that
formats the stored UTC value prints the wrong day as well as the wrong hour.
"""

import io
import json
import re
import zipfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from kameng.aftersales.models import Refund, RefundPayout
from kameng.core import clock
from kameng.core.times import for_person, iso_beijing
from kameng.notifications.models import InboxMessage, OutboxMessage

from .conftest import ask

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 24, 16, 54, tzinfo=UTC)  # Beijing: 2026-11-25 00:54
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")


@pytest.fixture(autouse=True)
def _late_evening_utc(monkeypatch):
    """Platform time starts at START and keeps running, so every rule sees an ordinary moving clock."""
    real = timezone.now()
    monkeypatch.setattr(clock, "real_now", lambda: START + (timezone.now() - real))


def beijing(moment, fmt="%Y-%m-%d %H:%M"):
    return moment.astimezone(SHANGHAI).strftime(fmt)


def assert_reads_beijing(text, moment, fmt="%Y-%m-%d %H:%M"):
    right, wrong = beijing(moment, fmt), moment.astimezone(UTC).strftime(fmt)
    assert right[:10] != wrong[:10], "the scenario must put the deadline on different days in UTC and Beijing"
    assert right in text and wrong not in text, text


def texts_for(refund):
    """The 站内信 and the SMS / e-mail bodies sent about one refund, newest last."""
    inbox = list(InboxMessage.objects.filter(refund_id=refund.id).order_by("id").values_list("body", flat=True))
    phone = refund.buyer.phone
    outbox = list(OutboxMessage.objects.filter(recipient=phone).order_by("id").values_list("body", flat=True))
    return inbox, outbox


def test_the_helper_turns_a_utc_instant_into_the_beijing_day_and_time():
    assert for_person(START) == "2026-11-25 00:54"
    assert for_person(START, with_time=False) == "2026-11-25"
    assert iso_beijing(START) == "2026-11-25T00:54:00+08:00"
    with pytest.raises(ValueError):
        for_person(datetime(2026, 11, 24, 16, 54))  # noqa: DTZ001 - a naive time must be refused


def test_submission_and_request_for_information_messages_read_beijing_time(bought, api_as, reviewer):
    api, order = bought(reveal=True)
    created = ask(api, order, "invalid_key").json()
    refund = Refund.objects.get(id=created["id"])
    inbox, _ = texts_for(refund)
    assert_reads_beijing(inbox[-1], refund.sla_due_at)  # "将在 … 前完成审核"

    asked = api_as(reviewer).post(f"/staff/refunds/{refund.id}/request-info", {"message": "请上传兑换失败页面的截图"})
    assert asked.status_code == 200, asked.content
    refund.refresh_from_db()
    inbox, outbox = texts_for(refund)
    assert_reads_beijing(inbox[-1], refund.info_due_at)  # "请在 … 前答复"
    assert_reads_beijing(outbox[-1], refund.info_due_at)  # the same in the SMS


def test_rejection_states_the_appeal_deadline_in_beijing_time(bought, api_as, reviewer):
    api, order = bought(reveal=True)
    refund_id = ask(api, order, "invalid_key").json()["id"]
    rejected = api_as(reviewer).post(f"/staff/refunds/{refund_id}/reject",
                                     {"reason_code": "insufficient_evidence", "note": "未见兑换失败截图"})
    assert rejected.status_code == 200, rejected.content
    refund = Refund.objects.get(id=refund_id)
    inbox, outbox = texts_for(refund)
    assert_reads_beijing(inbox[-1], refund.appeal_due_at)
    assert_reads_beijing(outbox[-1], refund.appeal_due_at)


def test_a_started_payout_promises_its_arrival_day_in_beijing(bought, api_as, reviewer):
    api, order = bought(channel="alipay", reveal=True)
    refund_id = ask(api, order, "invalid_key").json()["id"]
    assert api_as(reviewer).post(f"/staff/refunds/{refund_id}/approve", {"note": "ok"}).status_code == 200
    payout = RefundPayout.objects.get(refund_id=refund_id)
    inbox, _ = texts_for(Refund.objects.get(id=refund_id))
    started = next(text for text in inbox if "已发起" in text)
    assert_reads_beijing(started, payout.expected_arrival_by, fmt="%Y-%m-%d")  # "预计 … 前到账"


def test_not_yet_due_eligibility_reasons_read_beijing_time(api_as, buyer, make_product, fund_wallet):
    product = make_product(kind="topup", delivery_promise_minutes=10)
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True,
                                 "recharge_account": "13800138000"}).json()
    paid_at = datetime.fromisoformat(api.get(f"/orders/{order['order_no']}").json()["paid_at"])
    reasons = {r["code"]: r for r in api.get(f"/orders/{order['order_no']}/refund-options").json()["reasons"]}
    from datetime import timedelta

    assert_reads_beijing(reasons["not_delivered"]["why"], paid_at + timedelta(minutes=10))  # 尚未超过承诺发货时间
    assert_reads_beijing(reasons["topup_not_received"]["why"], paid_at + timedelta(hours=24))  # 充值结果确认中


def test_every_time_in_the_dossier_carries_the_beijing_offset(bought):
    api, order = bought(reveal=True)
    refund_id = ask(api, order, "invalid_key").json()["id"]
    response = api.get(f"/refunds/{refund_id}/dossier")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    found = []
    for name in archive.namelist():
        if name.endswith((".json", ".txt")):
            text = archive.read(name).decode("utf-8")
            if name.endswith(".json"):
                json.loads(text)  # still a JSON document
            found += [(name, moment) for moment in ISO_TIME.findall(text)]
    names = {name for name, _ in found}
    assert {"manifest.json", "evidence.json", "refund.json", "payments.json", "README.txt"} <= names
    assert any(name.startswith("evidence/") for name in names)  # the platform record attached at submission
    assert [(name, moment) for name, moment in found if not moment.endswith("+08:00")] == []



def test_urging_an_escalated_refund_names_its_deadline_in_beijing_time(bought):
    from datetime import timedelta

    api, order = bought(reveal=True)
    refund_id = ask(api, order, "invalid_key").json()["id"]
    # Escalated already, its (stored, UTC) senior deadline just passed: 16:24 UTC is 00:24 the next day in Beijing.
    Refund.objects.filter(id=refund_id).update(escalated=True, sla_due_at=clock.now() - timedelta(minutes=30))
    assert api.post(f"/refunds/{refund_id}/urge").status_code == 200
    refund = Refund.objects.get(id=refund_id)
    inbox, _ = texts_for(refund)
    assert_reads_beijing(inbox[-1], refund.sla_due_at)
