from django import template

from kameng.core.money import Money
from kameng.orders.models import Channel

register = template.Library()


@register.filter
def yuan(fen) -> str:
    """Whole fen shown as yuan with two places; never a float."""
    return str(Money(int(fen or 0)))


@register.filter
def channel_label(code: str) -> str:
    return dict(Channel.choices).get(code, code)
