"""Reads for after-sales: the facts eligibility is decided on, refunds for their owners, the staff queue."""

from django.db.models import Count, Exists, F, OuterRef, Q

from kameng.accounts.models import Role
from kameng.catalog.policies import RefundPolicy
from kameng.core.errors import Forbidden, Invalid, NotFound
from kameng.inventory.models import KeyIssue
from kameng.orders.models import Order, OrderItem

from .models import OPEN_STATUSES, QUEUE_STATUSES, Refund, RefundItem
from .policies import ItemFacts, OrderFacts

STAFF_ROLES = (Role.REVIEWER, Role.SENIOR_REVIEWER, Role.ADMIN)


def order_facts(order: Order) -> OrderFacts:
    items = (
        OrderItem.objects.filter(order=order)
        .annotate(
            open_request=Exists(RefundItem.objects.filter(order_item=OuterRef("pk"), active=True)),
            requests_so_far=Count("refund_items", distinct=True),
            # Another item holds (or held) the key this item holds now.
            key_issued_elsewhere=Exists(
                KeyIssue.objects.filter(secret__issues__order_item=OuterRef("pk"), secret__issues__returned_at__isnull=True)
                .exclude(order_item=OuterRef("pk"))
            ),
        )
        .order_by("position")
    )
    topup = getattr(order, "topup", None) if order.snapshot.get("kind") == "topup" or order.snapshot.get("on_demand") else None
    return OrderFacts(
        kind=order.snapshot["kind"],
        status=order.status,
        paid_at=order.paid_at,
        delivered_at=order.delivered_at,
        delivery_promise_minutes=order.snapshot["delivery_promise_minutes"],
        topup_status=topup.status if topup else None,
        policy=RefundPolicy.from_stored(order.snapshot["refund_policy"]),
        items=[
            ItemFacts(
                id=item.id,
                status=item.status,
                delivered_at=item.delivered_at,
                revealed=item.first_revealed_at is not None,
                open_request=item.open_request,
                requests_so_far=item.requests_so_far,
                key_issued_elsewhere=item.key_issued_elsewhere,
            )
            for item in items
        ],
    )


def refund_for_buyer(*, user, refund_id) -> Refund:
    refund = Refund.objects.select_related("order").filter(id=_int(refund_id), buyer=user).first()
    if refund is None:
        raise NotFound("no such refund", code="REFUND_NOT_FOUND")
    return refund


def require_staff(user) -> None:
    if user.role not in STAFF_ROLES:
        raise Forbidden("only reviewers handle refunds", code="ROLE_FORBIDDEN")


def refund_for_staff(*, user, refund_id) -> Refund:
    require_staff(user)
    refund = Refund.objects.select_related("order", "buyer").filter(id=_int(refund_id)).first()
    if refund is None:
        raise NotFound("no such refund", code="REFUND_NOT_FOUND")
    return refund


def staff_queue(*, user, statuses: list[str] | None = None, senior_only: bool = False, limit: int = 50, offset: int = 0,
                after_id: int | None = None):
    """Open refunds, earliest review deadline first (NULL deadlines last).

    `after_id` pages by keyset (the rows after that refund in this order): constant time however deep,
    where an offset walks every row before it.
    """
    require_staff(user)
    # Only the order number is shown: not the order's snapshot and terms (a kilobyte a row).
    qs = Refund.objects.annotate(queue_order_no=F("order__order_no"))
    if statuses:
        qs = qs.filter(status__in=[s for s in statuses if s in OPEN_STATUSES] or ["-"])
    else:
        qs = qs.filter(status__in=QUEUE_STATUSES)  # exactly the partial index's condition
    if senior_only:
        qs = qs.filter(Q(escalated=True) | Q(status="appealed"))
    # Waiting on the buyer, the deadline that runs is the reply window, not the paused review deadline.
    key = "info_due_at" if statuses == ["awaiting_buyer"] else "sla_due_at"
    if after_id is not None:
        cursor = Refund.objects.filter(id=_int(after_id)).values(key, "id").first()
        if cursor is None:
            raise NotFound("no such refund to page after", code="REFUND_NOT_FOUND")
        if cursor[key] is None:
            raise Invalid("that refund is not in this queue; page after a row it returned", code="INVALID_CURSOR")
        qs = qs.filter(Q(**{f"{key}__gt": cursor[key]}) | Q(**{key: cursor[key], "id__gt": cursor["id"]}))
    return qs.order_by(key, "id")[offset : offset + limit]


def _int(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return -1
    return number if 0 < number < 2**63 else -1


def evidence_state(refund: Refund) -> dict:
    """What the pages and the API say about a refund's evidence: the files (removed ones marked), whether
    the case waits for the buyer's evidence and until when, and whether the buyer may still remove a file."""
    from .policies import awaiting_evidence
    from .services import evidence_removable

    files = list(refund.evidence.select_related("removal").order_by("id"))
    for evidence in files:
        removal = getattr(evidence, "removal", None)  # the reverse one-to-one raises AttributeError when absent
        evidence.removed_at = removal.removed_at if removal else None
    live_buyer = sum(1 for e in files if e.source == "buyer" and e.removed_at is None)
    return {
        "files": files,
        "awaiting": awaiting_evidence(needs_evidence=refund.needs_evidence, status=refund.status,
                                      buyer_files=live_buyer),
        "due_at": refund.evidence_due_at,
        "removable": evidence_removable(refund),
    }
