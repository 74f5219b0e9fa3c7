"""Keeps RefundFacts (what the published figures read) in step with refunds and their timelines.

Written in the same transaction as what it sums up, so the figures are never behind and never wrong:
- `refund_opened` when a refund is created (its reason, supplier and submission time);
- `event_recorded` from `events.refund_event` for the events the figures count: the first decision
  (approved, auto_approved, rejected — an auto_approved after an appeal is the appeal's decision) and
  the earliest escalation.

`rebuild` computes every row again from the refunds and their timelines (the migration that introduced
the table, the benchmark's bulk-loaded data, and the test that the incremental rows equal the timeline).
"""

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Least

from .models import RefundFacts

FIRST_DECISIONS = ("approved", "auto_approved", "rejected")
APPROVALS = ("approved", "auto_approved")
ESCALATED = "escalated"
SYSTEM = "system"


def refund_opened(refund) -> None:
    """One statement: the supplier comes from the order's product in the same INSERT."""
    from kameng.catalog.models import Product
    from kameng.orders.models import Order

    facts, order, product = RefundFacts._meta.db_table, Order._meta.db_table, Product._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {facts} (refund_id, supplier_id, reason, submitted_at) "
            f"SELECT %s, p.supplier_id, %s, %s FROM {order} o JOIN {product} p ON p.id = o.product_id WHERE o.id = %s",
            [refund.id, refund.reason, refund.submitted_at, refund.order_id],
        )


def is_first_decision(refund, event: str) -> bool:
    return event in FIRST_DECISIONS and not (event == "auto_approved" and refund.appealed_at is not None)


def event_recorded(*, refund, event: str, actor: str, at) -> None:
    if is_first_decision(refund, event):
        RefundFacts.objects.filter(refund_id=refund.id, first_decided_at__isnull=True).update(
            first_decided_at=at, first_approved=event in APPROVALS, first_automatic=actor == SYSTEM)
    elif event == ESCALATED:
        RefundFacts.objects.filter(refund_id=refund.id).update(
            first_escalated_at=Least(Coalesce(F("first_escalated_at"), Value(at)), Value(at)))


def rebuild() -> int:
    """Every row again from the refunds and their timelines, in set-based SQL (fast at a million refunds)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {RefundFacts._meta.db_table}")
        cursor.execute(rebuild_sql(connection.vendor))
        return cursor.rowcount


def rebuild_sql(vendor: str) -> str:
    """The INSERT … SELECT that `rebuild` and the table's migration run (the migration keeps its own copy)."""
    true = "TRUE" if vendor == "postgresql" else "1"
    return f"""
        INSERT INTO aftersales_refund_facts (refund_id, supplier_id, reason, submitted_at, first_decided_at,
                                             first_approved, first_automatic, first_escalated_at)
        SELECT r.id, p.supplier_id, r.reason, r.submitted_at, d.at,
               CASE WHEN d.at IS NULL THEN NULL WHEN d.event IN ('approved', 'auto_approved') THEN {true}
                    ELSE NOT {true} END,
               CASE WHEN d.at IS NULL THEN NULL WHEN d.actor = 'system' THEN {true} ELSE NOT {true} END,
               esc.at
        FROM aftersales_refund r
        JOIN orders_order o ON o.id = r.order_id
        JOIN catalog_product p ON p.id = o.product_id
        LEFT JOIN (
            SELECT e.refund_id, e.at, e.event, e.actor,
                   ROW_NUMBER() OVER (PARTITION BY e.refund_id ORDER BY e.at, e.id) AS n
            FROM aftersales_refundevent e JOIN aftersales_refund a ON a.id = e.refund_id
            WHERE e.event IN ('approved', 'auto_approved', 'rejected')
              AND NOT (e.event = 'auto_approved' AND a.appealed_at IS NOT NULL)
        ) d ON d.refund_id = r.id AND d.n = 1
        LEFT JOIN (
            SELECT refund_id, min(at) AS at FROM aftersales_refundevent WHERE event = 'escalated' GROUP BY refund_id
        ) esc ON esc.refund_id = r.id
    """
