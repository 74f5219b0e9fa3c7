"""The evidence deadline acts: the buyer is reminded before it, and a case it passes with no evidence goes
to review marked "no evidence supplied" (未补充证据).

The rule, and why it is this one. A reason that needs evidence is taken at once and the buyer has the
policy's `info_reply_hours` to put a file on record (`evidence_due_at`, see services._refund_open).

- Six hours before it (halfway, for a shorter window: policies.evidence_reminder_at), a buyer with no file
  on record is reminded once, by 站内信 and SMS: most buyers are on a phone, and a reminder they do not see
  is no reminder.
- When it passes with still no file, the case is marked `evidence_overdue_at` with a timeline event
  (`evidence_overdue`, actor `system`), and the buyer is told what that means: the reviewer now decides on
  the platform's own records (delivery, reveals, the key's history) and may reject for 证据不足; the buyer may
  still upload until the decision, and a rejection can be appealed within the policy's `appeal_window_days`,
  with evidence. The pages, the staff queue and the dossier show the mark.

It is not closed or rejected by the clock, as a payment platform's dispute desk would not rule on a
missing file alone: the platform's own records may prove the claim (a key our records show issued twice),
the contract's other deadlines still hold for the case (a supplier silent past `supplier_due_at` has
accepted; a review nobody made in time is escalated, then approved — the platform's failure is never the
buyer's loss), and a rejection by a person keeps the appeal route that a closure would not.

Each case is locked (order, then refund: kameng.core.locks) and re-checked before acting, so a sweep that
runs twice, in two workers at once, or against a buyer's upload at the last second acts once or not at all.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from kameng.core import clock
from kameng.core.times import iso_beijing
from kameng.notifications.services import notify

from .events import refund_event
from .locking import lock_refund
from .models import EVIDENCE_DEADLINE_STATUSES, Evidence, Refund
from .policies import EVIDENCE_REMINDER_LEAD, evidence_reminder_at

OVERDUE_EVENT = "evidence_overdue"
REMINDED_EVENT = "evidence_reminded"


def _live_buyer_evidence():
    """A file the buyer put on record and did not take back."""
    return Evidence.objects.filter(refund=OuterRef("pk"), source="buyer", removal__isnull=True)


def _has_evidence(refund: Refund) -> bool:
    return refund.evidence.filter(source="buyer", removal__isnull=True).exists()


def _waiting():
    """Undecided cases that need evidence, have none on file, and whose deadline has not acted yet."""
    return (Refund.objects.filter(needs_evidence=True, evidence_overdue_at__isnull=True,
                                  status__in=EVIDENCE_DEADLINE_STATUSES, evidence_due_at__isnull=False)
            .exclude(Exists(_live_buyer_evidence())))


def _still_waiting(refund: Refund) -> bool:
    return (refund.needs_evidence and refund.evidence_overdue_at is None and refund.evidence_due_at is not None
            and refund.status in EVIDENCE_DEADLINE_STATUSES and not _has_evidence(refund))


def _appeal_days(order) -> int:
    return int(order.snapshot.get("refund_policy", {}).get("appeal_window_days", 7))


def refunds_evidence_overdue(*, limit: int = 500) -> int:
    """Cases whose evidence deadline passed with no file: marked "no evidence supplied", the buyer told. Once."""
    due = _waiting().filter(evidence_due_at__lte=clock.now()).order_by("evidence_due_at", "id")
    done = 0
    for refund_id in list(due.values_list("id", flat=True)[:limit]):
        with transaction.atomic():
            order, refund = lock_refund(refund_id)
            now = clock.now()
            if not _still_waiting(refund) or refund.evidence_due_at > now:
                continue  # a file arrived, a decision was made, or another worker marked it meanwhile
            Refund.objects.filter(id=refund.id).update(evidence_overdue_at=now)
            refund.evidence_overdue_at = now
            refund_event(refund=refund, event=OVERDUE_EVENT,
                         note=f"no evidence supplied by {iso_beijing(refund.evidence_due_at)}")
            notify(user=refund.buyer, refund=refund, code="evidence.overdue",
                   params={"refund_no": refund.refund_no, "evidence_due": refund.evidence_due_at,
                           "appeal_days": _appeal_days(order)})
            done += 1
    return done


def refunds_evidence_remind(*, limit: int = 500) -> int:
    """Cases whose evidence deadline is near with no file yet: the buyer is reminded once."""
    now = clock.now()
    near = (_waiting().filter(evidence_reminded_at__isnull=True, evidence_due_at__gt=now,
                                 evidence_due_at__lte=now + EVIDENCE_REMINDER_LEAD)
            .order_by("evidence_due_at", "id").values_list("id", "submitted_at", "evidence_due_at"))
    done = 0
    for refund_id, submitted_at, due_at in list(near[:limit]):
        if evidence_reminder_at(submitted_at=submitted_at, due_at=due_at) > now:
            continue  # a short window: halfway is not reached yet
        with transaction.atomic():
            _order, refund = lock_refund(refund_id)
            now = clock.now()
            if (not _still_waiting(refund) or refund.evidence_reminded_at is not None
                    or refund.evidence_due_at <= now):
                continue  # a file arrived, the deadline passed, or another worker reminded meanwhile
            Refund.objects.filter(id=refund.id).update(evidence_reminded_at=now)
            refund.evidence_reminded_at = now
            left = refund.evidence_due_at - now
            refund_event(refund=refund, event=REMINDED_EVENT,
                         note=f"evidence due by {iso_beijing(refund.evidence_due_at)}")
            notify(user=refund.buyer, refund=refund, code="evidence.reminder", sms=True,
                   params={"refund_no": refund.refund_no, "evidence_due": refund.evidence_due_at,
                           "hours": _hours(left)})
            done += 1
    return done


def _hours(left: timedelta) -> int:
    return max(1, round(left.total_seconds() / 3600))
