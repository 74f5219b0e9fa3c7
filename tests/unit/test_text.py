"""kameng.core.text: the one cleaner, and the gate that applies it to paths, query strings and forms."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from kameng.aftersales.policies import description_problem
from kameng.core.middleware import TextGate
from kameng.core.text import InvalidText, clean_text, refuse_unstorable, strip_invisible, text_problem


@pytest.mark.parametrize("value, problem", [("ok", None), ("a\x00", "nul"), ("\ud800", "surrogate"),
                                            ("\udfff x", "surrogate"), ("😀 emoji", None)])
def test_text_problem_names_what_cannot_be_stored(value, problem):
    assert text_problem(value) == problem


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                  "\u2069", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_every_bidi_control_and_zero_width_character_is_stripped(char):
    assert strip_invisible(f"a{char}b{char}") == "ab"
    assert clean_text(f"{char}名称{char}", one_line=True) == "名称"


def test_clean_text_refuses_unstorable_text_and_one_line_controls():
    with pytest.raises(InvalidText) as refused:
        clean_text("a\x00b")
    assert refused.value.code == "INVALID_TEXT" and refused.value.details == {"field": "text", "problem": "nul"}
    with pytest.raises(InvalidText):
        clean_text("name\x1b[31m", one_line=True)
    assert clean_text("two\nlines") == "two\nlines"  # free text keeps its lines
    assert refuse_unstorable("pass\u200bword") == "pass\u200bword"  # passwords and codes are never altered


def test_the_vagueness_check_judges_the_visible_text():
    assert description_problem("不能用" + "\u200b" * 30) == "generic"
    assert description_problem("\u202e" * 12 + "垃圾") == "too_short"
    assert description_problem("在王者荣耀兑换页面输入卡密后提示已被使用") is None


def _gate(request):
    return TextGate(lambda request: HttpResponse("view"))(request)


def test_the_gate_refuses_nul_in_path_query_and_url_encoded_form():
    factory = RequestFactory()
    assert _gate(factory.get("/api/v1/orders/K\x00")).status_code == 400
    assert _gate(factory.get("/api/v1/orders", {"x": "a\x00"})).status_code == 400
    form = factory.post("/login/", "username=a%00b", content_type="application/x-www-form-urlencoded")
    refused = _gate(form)
    assert refused.status_code == 400 and "text/plain" in refused["Content-Type"]
    assert _gate(factory.get("/api/v1/orders", {"x": "fine"})).content == b"view"


def test_the_gate_leaves_payment_notifications_to_the_payments_code():
    """The notify views record every refused notification; a refusal here would hide it from them."""
    request = RequestFactory().post("/api/v1/payments/notify/sandbox", "payment_no=P%00&sign=x",
                                    content_type="application/x-www-form-urlencoded")
    assert _gate(request).content == b"view"


def test_the_gate_leaves_oversized_bodies_to_the_view(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    request = RequestFactory().post("/api/v1/x", "a=" + "b" * 100, content_type="application/x-www-form-urlencoded")
    assert _gate(request).content == b"view"


def test_the_gate_forgets_a_cookie_holding_a_nul():
    """A quoted cookie value decodes octal escapes: "\\000" arrives as a NUL even through gunicorn."""
    request = RequestFactory().get("/orders/", HTTP_COOKIE='sessionid="abcdefgh\\000ijkl"; theme=dark')
    assert "\x00" in request.COOKIES["sessionid"]
    assert _gate(request).content == b"view"
    assert "sessionid" not in request.COOKIES and request.COOKIES["theme"] == "dark"


@pytest.mark.parametrize(("text", "reason", "problem"), [
    # The seeds' own examples: content decides, not length.
    ("东西不好用，想要退款", "invalid_key", "generic"),
    ("卡密提示已被使用，附截图", "key_already_used", None),
    ("买错了，不需要了。", "changed_mind", None),
    ("啊啊啊啊啊啊啊啊啊啊啊啊", "changed_mind", "repetitive"),
    ("啊啊啊啊啊啊啊啊啊啊啊啊", "invalid_key", "repetitive"),
    ("Key says already used, screenshot attached", "invalid_key", None),
    ("It doesn't work, refund please", "invalid_key", "generic"),
    ("我要退款", "changed_mind", "generic"),
    ("退款", "changed_mind", "too_short"),
])
def test_the_description_check_judges_content_not_length(text, reason, problem):
    assert description_problem(text, reason) == problem
