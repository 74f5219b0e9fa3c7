"""Top-ups at a supplier that has not answered are asked about (the supplier protocol's query)."""

from kameng.core.deadlines import Deadline

from .supply import supply_query_due

DEADLINES = [Deadline("topups_queried", supply_query_due)]
