"""Every page, in Chinese and in English: no internal code (a model choice, an event, a channel) where a person
reads, no "1E+1%", no "。。", and no Chinese punctuation in English (nor English colons after Chinese words).

People's own words (product names, descriptions, notes, messages: class "user-text") may be in any language; 站内信 are
written once, in Chinese, when they are sent ("stored-text"): only the raw-code check applies to both.
"""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kameng.web.labels import label, raw_codes
from kameng.web.timeline import row
from tests.page_walk import build_world, walk

pytestmark = pytest.mark.django_db

CHINESE_MARKS = "：（）。，、；“”！？【】"
ALWAYS_RAW = {"alipay", "wechat", "succeeded", "sha256"}


class _Text(HTMLParser):
    """Visible text, split into ours and people's (user-text / stored-text subtrees)."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.ours, self.theirs, self.stack = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("data-label"):
            self.ours.append(attrs["data-label"])
        if tag in self.VOID:
            return
        classes = (attrs.get("class") or "").split()
        hidden = tag in ("script", "style", "title") or "user-text" in classes or "stored-text" in classes
        self.stack.append((tag, hidden))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if any(hidden for _tag, hidden in self.stack):
            self.theirs.append(data)
        else:
            self.ours.append(data)


def _texts(html: str) -> tuple[str, str]:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.ours), " ".join(parser.theirs)


def problems(html: str, lang: str) -> list[str]:
    ours, theirs = _texts(html)
    found = []
    codes = raw_codes() if lang == "zh-hans" else {c for c in raw_codes() if "_" in c} | ALWAYS_RAW
    for text in (ours, theirs):
        for code in sorted(codes | ALWAYS_RAW):
            hit = re.search(rf"(?<![\w/.-]){re.escape(code)}(?![\w/-])", text)
            if hit:
                found.append(f"raw code {code!r}: …{text[max(0, hit.start() - 30):hit.end() + 30]}…")
    if re.search(r"\dE[+-]\d", ours):
        found.append("a number in exponent notation")
    if "。。" in ours + theirs:
        found.append("doubled 。。")
    if lang == "en":
        for mark in CHINESE_MARKS:
            at = ours.find(mark)
            if at >= 0:
                found.append(f"Chinese {mark!r} in English: …{' '.join(ours[max(0, at - 40):at + 10].split())}…")
    else:
        hit = re.search(r"[\u4e00-\u9fff][:;](?!\d)", ours)
        if hit:
            found.append(f"English punctuation in Chinese: …{ours[max(0, hit.start() - 20):hit.end() + 20]}…")
    return found


@pytest.fixture
def world(make_user, make_product, fund_wallet):
    return build_world(make_user, make_product, fund_wallet)


def _client(world, role, lang):
    client = Client()
    if role:
        client.force_login(world.users[role])
    client.cookies["django_language"] = lang
    return client


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_no_page_shows_a_raw_code_or_the_other_languages_punctuation(world, lang):
    found = {}
    for page_label, role, name, kwargs in walk():
        response = _client(world, role, lang).get(reverse(name, kwargs=kwargs(world)), follow=True)
        assert response.status_code == 200, (page_label, response.status_code)
        bad = problems(response.content.decode(), lang)
        if bad:
            found[page_label] = bad
    client = _client(world, "buyer", lang)
    reveal = reverse("web:order_reveal", kwargs={"order_no": world.ids["order_revealed"]})
    for page_label, data in (("reveal: confirmation", {}), ("reveal", {"confirmed": "1"})):
        bad = problems(client.post(reveal, data).content.decode(), lang)
        if bad:
            found[page_label] = bad
    assert not found, "\n".join(f"{page}: {' | '.join(bad)}" for page, bad in found.items())


def test_the_checker_sees_what_the_issue_saw():
    """The strings the issue found on the pages are caught (so a pass means something)."""
    page = '<p>invalid_key: 卡密无效</p><p>10 E</p><p>1E+1%</p><p>理由：不行。。</p>'
    assert len(problems(page, "zh-hans")) >= 3
    assert problems("<p>Status：<b>ok</b></p>", "en")
    assert problems("<p>状态: ok</p>", "zh-hans")
    assert not problems('<p class="user-text">买家写的：中文。</p><p>Status: ok</p>', "en")
    assert problems('<td data-label="状态：">x</td>', "en")


@pytest.mark.parametrize("event,note,detail,said", [
    ("submitted", "invalid_key: 在兑换页面提示已被使用。", "卡密无效", ""),
    ("rejected", "not_reproducible: 兑换记录显示未使用。", "问题无法复现", "兑换记录显示未使用。"),
    ("approved", "refund 11.40, fee 0.00. 核实为系统问题。", "退款 ¥11.40，手续费 ¥0.00", "核实为系统问题。"),
    ("refunding", "11.40 via alipay, request RFR20261124000001", "¥11.40 · 原路退回支付宝", ""),
    ("refunded", "11.40 via wallet (W123)", "¥11.40 · 退到钱包", ""),
    ("evidence_added", "image sha256=" + "a" * 64, "图片", ""),
    ("put_to_supplier", "supplier answers by 2026-11-25T00:54:00+08:00", "供货商须在 2026-11-25 00:54 前答复", ""),
    ("payout_failed", "alipay request RFR1: ACQ.SYSTEM_ERROR", "支付渠道未能完成退款，财务将重新支付", ""),
    ("platform_refund", "topup_failed: 1 item(s), 30.00", "直充失败", ""),
])
def test_timeline_events_read_as_sentences(event, note, detail, said):
    with translation.override("zh-hans"):
        entry = row(at=None, event=event, actor="reviewer:amy", note=note)
        assert entry["detail"] == detail
        assert entry["said"] == said
        assert entry["actor"] == "审核员 amy"
        assert entry["label"] == label("event", event) != "—"


def test_every_event_the_services_write_has_a_label():
    import pathlib

    import kameng.aftersales as aftersales

    written = set()
    for path in pathlib.Path(aftersales.__file__).parent.glob("*.py"):
        written |= set(re.findall(r'refund_event\([^)]*event="([a-z_]+)"', path.read_text()))
        written |= set(re.findall(r'^EVENT = "([a-z_]+)"', path.read_text(), re.M))
        written |= set(re.findall(r'"(appeal_approved|approved|appeal_rejected|rejected)"', path.read_text()))
    assert written
    assert {e for e in written if label("event", e) == "—"} == set()
