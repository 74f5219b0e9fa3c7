"""Payments the gateway never told us about are asked for, before anything else in a sweep expires;
yesterday's gateway statements are reconciled once a day."""

from kameng.core.deadlines import HEAR, Deadline

from .checkout import payments_query_silent
from .reconciliation import reconciliations_due

DEADLINES = [
    Deadline("payments_recovered", payments_query_silent, stage=HEAR),
    Deadline("statements_reconciled", reconciliations_due),
]
