"""A buyer reads the platform's messages in the language they chose: the 站内信 (API and page) and the SMS of
a real refund, in English for a buyer who set English, in Chinese for everyone else; old rows still show."""

import re

import pytest
from django.test import Client

from kameng.core import clock
from kameng.notifications.models import InboxMessage, OutboxMessage
from tests.web.test_labels import problems

from .conftest import ask

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _approved_refund(bought, api_as, reviewer, language):
    api, order = bought(reveal=True)
    if language:
        changed = api._call("patch", "/me", {"language": language})
        assert changed.status_code == 200 and changed.json()["language"] == language
    refund = ask(api, order, "invalid_key", destination="wallet").json()
    decided = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "checked"})
    assert decided.status_code == 200, decided.content
    return api, refund


def test_an_english_buyer_gets_the_refund_in_english_in_the_inbox_and_by_sms(bought, api_as, buyer, reviewer):
    api, refund = _approved_refund(bought, api_as, reviewer, "en")
    inbox = api.get("/inbox").json()
    assert inbox["language"] == "en" and inbox["unread"] == len(inbox["items"]) >= 2
    arrived = next(m for m in inbox["items"] if m["code"] == "payout.arrived")
    assert arrived["refund_no"] == refund["refund_no"] and arrived["refund_id"] == refund["id"]
    assert arrived["title"] == f"Refund received ({refund['refund_no']})"
    assert "Your refund of ¥10.00 has arrived (Wallet balance)" in arrived["body"]
    assert arrived["created_at"].endswith("+08:00")
    for message in inbox["items"]:
        text = f"<p>{message['title']}</p><p>{message['body']}</p>"
        assert not CHINESE.search(message["title"] + message["body"]) and not problems(text, "en"), message

    [sms] = OutboxMessage.objects.filter(channel="sms", recipient=buyer.phone)
    assert sms.body.startswith(f"[Kameng] Refund received ({refund['refund_no']}): Your refund of ¥10.00")
    assert not CHINESE.search(sms.body)

    # The page is in the language the reader reads it in; the stored row keeps the Chinese (searches, old pages).
    page = Client()
    page.force_login(buyer)
    page.cookies["django_language"] = "en"
    html = page.get("/inbox/").content.decode()
    assert f"Refund received ({refund['refund_no']})" in html and not problems(html, "en")
    assert InboxMessage.objects.filter(user=buyer, title__startswith="退款已到账").count() == 1

    read = api.post(f"/inbox/{arrived['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"] and read.json()["title"] == arrived["title"]
    assert api.post("/inbox/999999/read").status_code == 404


def test_a_chinese_buyer_gets_chinese_and_so_does_everyone_by_default(bought, api_as, buyer, reviewer):
    api, refund = _approved_refund(bought, api_as, reviewer, None)
    assert api.get("/me").json()["language"] == "zh-hans"
    inbox = api.get("/inbox").json()
    arrived = next(m for m in inbox["items"] if m["code"] == "payout.arrived")
    assert arrived["title"] == f"退款已到账（{refund['refund_no']}）"
    assert "¥10.00 已到账（钱包余额）" in arrived["body"]
    [sms] = OutboxMessage.objects.filter(channel="sms", recipient=buyer.phone)
    assert sms.body.startswith(f"【卡盟】退款已到账（{refund['refund_no']}）：退款 ¥10.00")


def test_a_message_from_before_the_catalogue_still_shows_its_text(api_as, buyer):
    InboxMessage.objects.create(user=buyer, title="旧消息", body="写好的中文正文。", created_at=clock.now())
    api = api_as(buyer)
    api._call("patch", "/me", {"language": "en"})
    [old] = api.get("/inbox").json()["items"]
    assert old["title"] == "旧消息" and old["body"] == "写好的中文正文。" and old["code"] == ""


@pytest.mark.parametrize("body", [{"language": "fr"}, {"language": None}, {"language": 1}, {},
                                  {"language": "en", "refund_destination": "bank"}])
def test_a_bad_language_is_refused_and_nothing_changes(api_as, buyer, body):
    api = api_as(buyer)
    refused = api._call("patch", "/me", body)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] in ("INVALID_LANGUAGE", "INVALID_DESTINATION", "NOTHING_TO_CHANGE",
                                               "VALIDATION_ERROR")
    me = api.get("/me").json()
    assert me["language"] == "zh-hans" and me["refund_destination"] == "original"


def test_any_role_sets_its_language_and_switching_the_page_language_remembers_it(api_as, supplier):
    assert api_as(supplier)._call("patch", "/me", {"language": "en"}).json()["language"] == "en"
    page = Client()
    page.force_login(supplier)
    assert page.post("/i18n/setlang/", {"language": "zh-hans", "next": "/inbox/"}).status_code == 302
    supplier.refresh_from_db()
    assert supplier.language == "zh-hans"
    saved = page.post("/settings/", {"form": "language", "language": "en"})
    assert saved.status_code == 302 and saved.cookies["django_language"].value == "en"
    supplier.refresh_from_db()
    assert supplier.language == "en"
    assert page.post("/settings/", {"form": "language", "language": "xx"}).status_code == 422
