"""A refund's timeline as a person reads it, rendered from the event codes and the refund's own fields.

The stored notes stay as written (the event log is append-only; rewriting it would rewrite history), but
they are records for the dossier, not sentences for a page: "invalid_key: …", "image sha256=…",
"refund 11.40, fee 0.00.", "11.40 via alipay, request RFR…". Here each event becomes a label from the
catalogue, a detail built from what the note records (amounts with ¥, channels and reasons by their
labels, times in Beijing time), and — only where a person wrote it — their own words, shown as said.
"""

import re

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kameng.core.error_texts import one_language
from kameng.core.times import for_person

from .labels import label

# What the services write (aftersales/decisions.py, payouts.py, services.py, escalation.py, supplier_claims.py).
_AMOUNTS = re.compile(r"^refund (?P<refund>\d+\.\d\d), fee (?P<fee>\d+\.\d\d)\.\s*(?P<rest>.*)$", re.S)
_CODE_NOTE = re.compile(r"^(?P<code>[a-z_]+): ?(?P<rest>.*)$", re.S)
_PAID_BACK = re.compile(r"^(?P<amount>\d+\.\d\d) via (?P<channel>[a-z]+)")
_EVIDENCE = re.compile(r"^(?P<kind>[a-z]+) sha256=")
_ISO = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+(?:[+-]\d\d:\d\d|Z)")
_RETRY = re.compile(r"^to (?P<where>[a-z]+)")

# Events whose whole note is a person's own words.
SAID = {"info_requested", "buyer_answered", "message", "appealed", "supplier_accepted", "supplier_contested"}


def _when(note: str) -> str:
    found = _ISO.search(note or "")
    moment = parse_datetime(found.group(0)) if found else None
    return for_person(moment) if moment else ""


def _paid_back(note: str) -> str:
    found = _PAID_BACK.match(note or "")
    if not found:
        return ""
    channel = found.group("channel")
    where = _("退到钱包") if channel == "wallet" else _("原路退回%(channel)s") % {"channel": label("channel", channel)}
    return f"¥{found.group('amount')} · {where}"


def _detail(event: str, note: str) -> tuple[str, str]:
    """(our sentence, the person's own words) for one event."""
    note = note or ""
    if event in SAID:
        return "", note
    if event in ("approved", "appeal_approved", "auto_approved"):
        found = _AMOUNTS.match(note)
        if not found:
            return "", ""
        detail = _("退款 ¥%(refund)s，手续费 ¥%(fee)s") % {"refund": found.group("refund"), "fee": found.group("fee")}
        rest = found.group("rest").strip()
        # A platform decision carries the policy's bilingual sentence; a reviewer's note is their own words.
        return detail, one_language(rest) if rest and event != "auto_approved" else ""
    if event in ("rejected", "appeal_rejected"):
        found = _CODE_NOTE.match(note)
        if not found:
            return "", note
        return label("reject", found.group("code")), found.group("rest")
    if event == "submitted":
        found = _CODE_NOTE.match(note)
        return (label("reason", found.group("code")) if found else ""), ""
    if event == "evidence_added":
        found = _EVIDENCE.match(note)
        return (label("evidence_kind", found.group("kind")) if found else ""), ""
    if event in ("refunding", "refunded"):
        return _paid_back(note), ""
    if event == "put_to_supplier":
        when = _when(note)
        return (_("供货商须在 %(when)s 前答复") % {"when": when} if when else ""), ""
    if event == "escalated":
        when = _when(note)
        return (_("高级审核员将在 %(when)s 前作出决定") % {"when": when} if when else ""), ""
    if event == "platform_refund":
        found = _CODE_NOTE.match(note)
        return (label("platform_refund_why", found.group("code")) if found else ""), ""
    if event == "payout_failed":
        return _("支付渠道未能完成退款，财务将重新支付"), ""
    if event == "payout_retried":
        found = _RETRY.match(note)
        return (label("destination", found.group("where")) if found else ""), ""
    return "", ""


def actor_text(actor: str) -> str:
    role, _sep, name = (actor or "").partition(":")
    who = label("role", role)
    return f"{who} {name}".strip() if name else who


def row(*, at, event: str, actor: str, note: str) -> dict:
    detail, said = _detail(event, note)
    return {"at": at, "event": event, "label": label("event", event), "actor": actor_text(actor),
            "detail": detail, "said": said}


def timeline(refund) -> list[dict]:
    return [row(at=e.at, event=e.event, actor=e.actor, note=e.note) for e in refund.events.order_by("id")]
