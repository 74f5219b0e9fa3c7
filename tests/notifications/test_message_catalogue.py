"""Every message of the catalogue, rendered in Chinese and in English, reads as a person's text: no internal
code, no Chinese punctuation in English, labels in Chinese where the label catalogue has them, amounts in ¥
and times on the Beijing wall clock. Every phrase and every label code a message can carry is tried."""

import itertools
import re
from datetime import UTC, datetime

import pytest
from django.utils import translation

from kameng.notifications.render import PLACEHOLDER, render, sms_text, stored_params
from kameng.notifications.texts import MESSAGES, PHRASES
from kameng.web.labels import CATALOGUE, label
from tests.web.test_labels import problems

# 16:54 UTC is 00:54 the next day in Beijing: a time printed in UTC reads eight hours early.
UTC_MOMENT = datetime(2026, 11, 24, 16, 54, tzinfo=UTC)
BEIJING_WALL = "2026-11-25 00:54"
SAMPLE = {"text": "N0123", "money": 1140, "time": UTC_MOMENT.isoformat(), "date": UTC_MOMENT.isoformat()}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _variants(code: str):
    """Parameter sets covering every phrase key and every label code the message can show."""
    spec = MESSAGES[code].params
    choices = {}
    for name, kind in spec.items():
        if kind.startswith("phrase:"):
            choices[name] = list(PHRASES[kind.partition(":")[2]])
        elif kind.startswith("label:"):
            choices[name] = [c for c in CATALOGUE[kind.partition(":")[2]] if c]
        else:
            choices[name] = [SAMPLE[kind]]
    names = list(choices)
    for values in itertools.product(*(choices[n] for n in names)):
        yield dict(zip(names, values, strict=True))


def _said(code: str, params: dict) -> str:
    """The Chinese source of what this message says with these parameters (its phrases included)."""
    text = MESSAGES[code]
    said = str(text.title) + str(text.body)
    for name, kind in text.params.items():
        if kind.startswith("phrase:"):
            said += str(PHRASES[kind.partition(":")[2]][params[name]])
    return said


def test_every_placeholder_of_every_message_is_a_declared_parameter():
    for code, text in MESSAGES.items():
        used = set(PLACEHOLDER.findall(str(text.title) + str(text.body))) - {"external_routes"}
        for kind in text.params.values():
            if kind.startswith("phrase:"):
                for phrase in PHRASES[kind.partition(":")[2]].values():
                    used |= set(PLACEHOLDER.findall(str(phrase)))
        assert used <= set(text.params), (code, used - set(text.params))


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_a_message_reads_right_in_both_languages(code):
    spec = MESSAGES[code].params
    for params in _variants(code):
        stored = stored_params(code, params)
        zh, en = render(code, stored, "zh-hans"), render(code, stored, "en")
        assert zh and en, code
        for (title, body), lang in ((zh, "zh-hans"), (en, "en")):
            html = f"<p>{title}</p><p>{body}</p><p>{sms_text(title, body, lang)}</p>"
            assert not problems(html, lang), (code, lang, params, problems(html, lang))
            text = title + body
            assert "%(" not in text and text.strip() == text
            if "money" in spec.values():
                assert "¥11.40" in text, (code, lang)
            if any(kind == "time" and f"%({name})s" in _said(code, params) for name, kind in spec.items()):
                assert BEIJING_WALL in text and "16:54" not in text, (code, lang, text)
        assert CHINESE.search(en[0]) is None, (code, en[0])  # an English title is English (our sample is ASCII)
        assert CHINESE.search(zh[0]) and CHINESE.search(zh[1]), code
        for name, kind in spec.items():
            if kind.startswith("label:") and f"%({name})s" in _said(code, params):
                kind = kind.partition(":")[2]
                with translation.override("zh-hans"):
                    assert label(kind, params[name]) in zh[0] + zh[1], (code, params[name])
                with translation.override("en"):
                    words = label(kind, params[name])
                assert words in en[0] + en[1] and not CHINESE.search(words), (code, params[name], words)


def test_the_english_text_has_no_chinese_left_but_peoples_own_words():
    for code in MESSAGES:
        for params in itertools.islice(_variants(code), 3):
            title, body = render(code, stored_params(code, params), "en")
            assert not CHINESE.search(title + body), (code, title, body)


def test_an_unknown_code_or_damaged_parameters_fall_back_instead_of_failing():
    assert render("no.such.message", {}, "en") is None
    assert render("refund.received", {"refund_no": "R1", "status": "submitted", "review_due": "yesterday"},
                  "en") is None


def test_no_caller_writes_a_notice_as_finished_text():
    """notify(title=…, body=…) still works for old callers, but such a notice can only ever be Chinese:
    every call in the code names a catalogue code instead (and every code it names exists)."""
    import ast
    from pathlib import Path

    import kameng

    root = Path(kameng.__file__).parent
    found, unknown = [], []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            keywords = {k.arg: k.value for k in node.keywords}
            if name == "notify" and ("title" in keywords or "body" in keywords):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
            codes = [keywords.get("code")] if name == "notify" else node.args[1:3] if name in (
                "tell_buyer", "tell_staff") else []
            for code in codes:
                if isinstance(code, ast.Constant) and isinstance(code.value, str) and "." in code.value \
                        and code.value not in MESSAGES:
                    unknown.append(f"{path.relative_to(root)}:{node.lineno} {code.value}")
    assert not found and not unknown, (found, unknown)
