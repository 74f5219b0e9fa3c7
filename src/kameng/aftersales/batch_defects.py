"""Approved key defects, counted against the import batch each key came from (issue 8: quarantine).

After-sales knows which refunds proved a key bad; inventory knows batches and the rule. At the one place
every approval meets (`decisions.approve_now`: a reviewer, a supplier's acceptance, a supplier's silence,
the deadline's automatic approval, a decision from our own records) this asks inventory to check each
batch the refund's keys came from.
"""

from django.db.models import Exists, OuterRef

from kameng.inventory import quarantine
from kameng.inventory.models import CardSecret, KeyIssue

from .models import RefundStatus
from .policies import KEY_REASONS

# Approved, on its way back, or back: the approval stands (a payout that fails is paid again, not undone).
DECIDED_FOR_BUYER = (RefundStatus.APPROVED, RefundStatus.REFUNDING, RefundStatus.REFUNDED)


def key_defects(batch_id: int) -> int:
    """Keys of the batch an approved `invalid_key` / `key_already_used` refund proved bad.

    A key that was issued to an earlier order and came back to stock is left out: if it turns up used,
    the platform's re-issue is to blame, not the batch (aftersales decides those from its own records).
    """
    reissued = KeyIssue.objects.filter(secret=OuterRef("pk"), returned_at__isnull=False)
    return (
        CardSecret.objects.filter(
            batch_id=batch_id,
            issues__returned_at__isnull=True,
            issues__order_item__refund_items__refund__reason__in=KEY_REASONS,
            issues__order_item__refund_items__refund__status__in=DECIDED_FOR_BUYER,
        )
        .exclude(Exists(reissued))
        .values("id")
        .distinct()
        .count()
    )


def refund_approved(refund) -> None:
    """Count an approved refund's bad keys against their batches (the caller holds the approval's locks)."""
    if refund.reason not in KEY_REASONS:
        return
    batch_ids = sorted(set(
        KeyIssue.objects.filter(order_item__refund_items__refund=refund, secret__batch_id__isnull=False)
        .values_list("secret__batch_id", flat=True)
    ))
    for batch_id in batch_ids:  # in id order: two approvals spanning the same batches lock them alike
        quarantine.batch_check(batch_id=batch_id, count_defects=key_defects)
