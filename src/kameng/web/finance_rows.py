"""How finance's console shows the book: a journal as a row of words and yuan, for the page and the CSV alike.

One presenter for both, so the download never says something the page does not (or leaks a code the page
hides): kinds and accounts come from the label catalogue, amounts are yuan, references become the order,
refund, payment or withdrawal numbers a person searches by.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kameng.core import clock
from kameng.core.money import Money
from kameng.core.times import in_beijing
from kameng.ledger.console import JournalFilter

from .labels import account_label, account_text, journal_kind_label

MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class PostingRow:
    account: str  # its label
    debit_fen: int | None
    credit_fen: int | None

    @property
    def debit(self) -> str:
        return str(Money(self.debit_fen)) if self.debit_fen else ""

    @property
    def credit(self) -> str:
        return str(Money(self.credit_fen)) if self.credit_fen else ""


@dataclass(frozen=True)
class JournalRow:
    id: int
    at: object
    kind: str  # its label
    order_no: str
    refund_no: str
    payment_no: str
    withdrawal_id: str
    postings: list[PostingRow]

    @property
    def total(self) -> str:
        return str(Money(sum(p.debit_fen or 0 for p in self.postings)))


def _after(reference: str, *prefixes: str) -> str:
    for prefix in prefixes:
        if reference.startswith(prefix + ":"):
            return reference.split(":", 2)[1]
    return ""


_REFERENCE_WORDS = {
    "capture": _("收款"), "settle": _("发货结算"), "refund": _("退款"), "mature": _("售后期满转可提现"),
    "late": _("迟发补偿"), "withdrawal": _("申请提现"), "withdrawal-paid": _("提现打款"),
    "withdrawal-rejected": _("提现驳回"),
}


def reference_text(reference: str) -> str:
    """A journal's reference in words: "refund:R2026…" → "退款 R2026…", "withdrawal-paid:7" → "提现打款 #7"."""
    prefix, _sep, rest = reference.partition(":")
    words = _REFERENCE_WORDS.get(prefix)
    if words is None or not rest:
        return reference
    number = rest.split(":", 1)[0]
    return f"{words} #{number}" if prefix.startswith("withdrawal") else f"{words} {number}"


def journal_row(journal) -> JournalRow:
    reference = journal.reference
    postings = sorted(journal.postings.all(), key=lambda p: (p.amount_fen < 0, p.id))  # debits first
    return JournalRow(
        id=journal.id, at=journal.at, kind=journal_kind_label(journal.kind),
        order_no=journal.order.order_no if journal.order_id else "",
        refund_no=_after(reference, "refund"), payment_no=_after(reference, "capture"),
        withdrawal_id=_after(reference, "withdrawal", "withdrawal-paid", "withdrawal-rejected"),
        postings=[PostingRow(account=account_label(p.account), debit_fen=p.amount_fen if p.amount_fen > 0 else None,
                             credit_fen=-p.amount_fen if p.amount_fen < 0 else None) for p in postings],
    )


JOURNAL_CSV_HEADER = [_("凭证号"), _("时间（北京时间）"), _("类型"), _("订单号"), _("退款单号"), _("支付单号"),
                      _("提现编号"), _("账户"), _("借方（元）"), _("贷方（元）")]


def journal_csv_rows(lines):
    """CSV rows from `kameng.ledger.console.posting_lines`: the page's words, each label worked out once."""
    from .csv_stream import beijing

    kinds, accounts = {}, {}
    for line in lines:
        kind = kinds.get(line.kind) or kinds.setdefault(line.kind, journal_kind_label(line.kind))
        key = (line.account_code, line.owner)
        account = accounts.get(key) or accounts.setdefault(key, account_text(*key))
        reference = line.reference
        yield [line.journal_id, beijing(line.at), kind, line.order_no or "", _after(reference, "refund"),
               _after(reference, "capture"), _after(reference, "withdrawal", "withdrawal-paid", "withdrawal-rejected"),
               account, str(Money(line.fen)) if line.fen > 0 else "", str(Money(-line.fen)) if line.fen < 0 else ""]


def beijing_today() -> date:
    return in_beijing(clock.now()).date()


class DayRangeForm(forms.Form):
    """A range of Beijing days, both ends included; at most a year, the end not before the start."""

    day_from = forms.DateField(label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    day_to = forms.DateField(label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("day_from"), data.get("day_to")
        if start and end:
            if end < start:
                raise ValidationError(_("截止日期不能早于起始日期。"), code="INVALID_RANGE")
            if (end - start).days >= MAX_RANGE_DAYS:
                raise ValidationError(_("日期范围最长一年。"), code="INVALID_RANGE")
        return data


class JournalSearchForm(DayRangeForm):
    order_no = forms.CharField(label=_("订单号"), required=False, max_length=32, strip=True)
    refund_no = forms.CharField(label=_("退款单号"), required=False, max_length=32, strip=True)
    family = forms.ChoiceField(label=_("账户"), required=False)
    username = forms.CharField(label=_("用户名"), required=False, max_length=150, strip=True,
                               help_text=_("买家或供货商的用户名：只看其账户的凭证。"))

    field_order = ["order_no", "refund_no", "family", "username", "day_from", "day_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["family"].choices = [("", _("全部账户")), *account_families()]

    def criteria(self) -> JournalFilter:
        data = self.cleaned_data
        return JournalFilter(order_no=data["order_no"], refund_no=data["refund_no"], family=data["family"],
                             username=data["username"], day_from=data["day_from"], day_to=data["day_to"])


def account_families() -> list[tuple[str, str]]:
    """Every family finance can pick, by its label: the shared ones, then one clearing account per channel."""
    from kameng.orders.models import Channel

    from .labels import ACCOUNT_FAMILIES, account_family_label

    shared = [(code, account_family_label(code)) for code in ACCOUNT_FAMILIES if code != "clearing"]
    clearing = [(f"clearing:{c}", account_family_label(f"clearing:{c}")) for c in Channel.values if c != "wallet"]
    return shared + clearing


class RefundsPaidForm(DayRangeForm):
    channel = forms.ChoiceField(label=_("渠道"), required=False)

    def __init__(self, *args, **kwargs):
        from kameng.orders.models import Channel

        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", _("全部渠道")), *Channel.choices]

    def clean(self):
        data = super().clean()
        start, end = self.window()
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ValidationError(_("日期范围最长一年。"), code="INVALID_RANGE")
        return data

    def window(self) -> tuple[date, date]:
        """The range asked for, or the last 30 Beijing days up to today."""
        data = getattr(self, "cleaned_data", {})
        end = data.get("day_to") or beijing_today()
        start = data.get("day_from") or end - timedelta(days=29)
        return start, end
