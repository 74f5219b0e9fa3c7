from decimal import Decimal

from django import template
from django.utils.translation import get_language

from kameng.catalog.policies import percent as rate_percent
from kameng.core.money import Money

from .. import labels

register = template.Library()


@register.filter
def yuan(fen) -> str:
    """Whole fen shown as yuan with two places; never a float."""
    return str(Money(int(fen or 0)))


@register.filter
def channel_label(code: str) -> str:
    return labels.label("channel", code)


# Chinese punctuation in a template, outside any translated string, as the reader's language writes it:
# "状态：" in Chinese, "Status: " in English (never "Status：").
_ENGLISH_MARKS = {"：": ": ", "（": " (", "）": ")", "、": ", ", "，": ", ", "。": ". ", "；": "; "}


@register.simple_tag
def punct(mark: str) -> str:
    return _ENGLISH_MARKS.get(mark, mark) if get_language() == "en" else mark


@register.simple_tag
def confirm_question(key: str) -> str:
    """`data-confirm="{% confirm_question "reveal" %}"`: the same question the server's confirmation page asks."""
    from ..confirmations import CONFIRMATIONS

    return str(CONFIRMATIONS[key].question)


@register.filter
def label(code, kind: str) -> str:
    """`{{ refund.reason|label:"reason" }}`: a code's words from the catalogue (kameng.web.labels)."""
    return labels.label(kind, code)


@register.filter
def percent(rate) -> str:
    """0.10 → "10%"."""
    return f"{rate_percent(Decimal(str(rate)))}%" if rate not in (None, "") else ""
