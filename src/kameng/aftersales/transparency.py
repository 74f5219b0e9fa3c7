"""The platform's published refund figures (透明度): the last 30 days, overall, per reason, per supplier.

Buyers are told to look at a platform's response times, approval rates and kept deadlines before
trusting it; these are ours, computed from the refund timeline so that nothing can be dressed up.

Definitions (one place; the page and the API both read them from here):

- submitted: refunds whose `submitted_at` falls in the window.
- decided: first decisions made in the window — the first `approved`, `auto_approved` or `rejected`
  event of a refund (an appeal's decision is not a first decision; an `auto_approved` after an appeal
  belongs to the appeal). Counted by when the decision was made, so slow decisions are not hidden by
  looking only at recent, still undecided requests.
- approved share: of those decisions, how many approved the refund.
- median / p90 hours to a decision: from `submitted_at` to that first decision.
- decided within the deadline: no `escalated` event before the first decision (escalation is what
  happens when the review deadline passes, so an escalated refund missed its deadline).
- decided automatically: the first decision's actor is `system` (a rule of our own records, a silent
  supplier, or the deadline's auto-approval).
- appeals: appeals lodged in the window; upheld share: of appeals decided in the window, how many
  the buyer won (the refund was approved on appeal).

Each figure is one aggregate query over indexes that reach only the window's rows: on PostgreSQL one
query gives it overall, per reason and per supplier (GROUPING SETS); on SQLite one query per grouping.
Submissions and first decisions are read from RefundFacts, one narrow row per refund kept in the same
transaction as the refund's timeline (figure_facts.py), through covering indexes on submitted_at and
first_decided_at: no join to the events, orders or products. Appeals (a few per cent) are read from
Refund through its partial indexes, the supplier from the facts row. Percentiles use
PostgreSQL's `percentile_cont`; on SQLite the same query calls an aggregate registered on the
connection that does the same interpolation.
"""

import json
import math
import os
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Aggregate, Count, F, FloatField, Func, JSONField, Q

from kameng.core import clock

from .models import Reason, Refund, RefundFacts

WINDOW_DAYS = 30
# Figures for a month change little in a minute: a busy public page costs one computation a minute
# (per process). 0 turns the cache off (the benchmark measures the computation itself).
CACHE_SECONDS = int(os.environ.get("KAMENG_TRANSPARENCY_CACHE_SECONDS", "60"))

# How each grouping is reached from a RefundFacts row, and from a Refund (through its facts row).
FACTS_GROUPS = ("reason", "supplier_id")
# For the report's one read-only transaction on PostgreSQL (see _collect); the benchmark's EXPLAIN uses them too.
POSTGRESQL_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL work_mem = '32MB'")
REFUND_GROUPS = ("reason", "facts__supplier_id")


# ---- SQL pieces ------------------------------------------------------------------------------------


class HoursBetween(Func):
    """Hours from `start` to `end` as a float, in SQL on both databases."""

    output_field = FloatField()

    def __init__(self, end, start):
        super().__init__(end, start)

    def as_postgresql(self, compiler, connection):
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)", (*end_params, *start_params)

    def as_sql(self, compiler, connection, **extra):  # SQLite (and any other): julian days
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return f"((julianday({end}) - julianday({start})) * 24.0)", (*end_params, *start_params)


class _SqlitePercentiles:
    """percentile_cont for SQLite: linear interpolation between the two closest ranks, as PostgreSQL does;
    several fractions of one sorted list, as a JSON array."""

    def __init__(self):
        self.values, self.fractions = [], None

    def step(self, value, fractions):
        if value is not None:
            self.values.append(value)
            self.fractions = fractions

    def finalize(self):
        if not self.values:
            return None
        ordered = sorted(self.values)
        return json.dumps([percentile_cont(ordered, float(f)) for f in self.fractions.split(",")])


def percentile_cont(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Percentiles(Aggregate):
    """Several percentiles of one expression from ONE sort: PostgreSQL's
    `percentile_cont(ARRAY[...]) WITHIN GROUP (ORDER BY ...)` (two separate aggregates sort twice);
    a list of floats, or None when there is nothing."""

    function = "percentile_cont"
    output_field = JSONField()

    def __init__(self, expression, fractions: tuple[float, ...], **extra):
        self.fractions = tuple(float(f) for f in fractions)
        super().__init__(expression, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        value, params = compiler.compile(self.source_expressions[0])
        array = ", ".join(repr(f) for f in self.fractions)
        return f"percentile_cont(ARRAY[{array}]::float8[]) WITHIN GROUP (ORDER BY {value})", params

    def as_sqlite(self, compiler, connection, **extra):
        connection.ensure_connection()
        connection.connection.create_aggregate("kameng_percentiles", 2, _SqlitePercentiles)
        value, params = compiler.compile(self.source_expressions[0])
        return f"kameng_percentiles({value}, '{','.join(repr(f) for f in self.fractions)}')", params


# ---- the figures -------------------------------------------------------------------------------------


@dataclass
class Figures:
    submitted: int = 0
    decided: int = 0
    approved: int = 0
    automatic: int = 0
    within_deadline: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None
    appeals: int = 0
    appeals_decided: int = 0
    appeals_upheld: int = 0

    @staticmethod
    def share(part: int, whole: int) -> str | None:
        """A rate as a decimal string (the API never sends floats for rates); None when nothing to divide."""
        return f"{part / whole:.4f}" if whole else None

    def as_dict(self) -> dict:
        def hours(value):
            return None if value is None else round(value, 1)

        return {
            "submitted": self.submitted,
            "decided": self.decided,
            "approved_share": self.share(self.approved, self.decided),
            "median_hours_to_decision": hours(self.median_hours),
            "p90_hours_to_decision": hours(self.p90_hours),
            "within_deadline_share": self.share(self.within_deadline, self.decided),
            "automatic_share": self.share(self.automatic, self.decided),
            "appeals": self.appeals,
            "appeals_decided": self.appeals_decided,
            "appeals_upheld_share": self.share(self.appeals_upheld, self.appeals_decided),
        }


@dataclass
class Report:
    since: object
    until: object
    overall: Figures
    by_reason: dict[str, Figures] = field(default_factory=dict)
    by_supplier: dict[int, Figures] = field(default_factory=dict)
    supplier_names: dict[int, str] = field(default_factory=dict)


def _grouped(queryset, groups: tuple[str, str], **aggregates) -> dict:
    """{(grouping, value): {name: value}} for one figure: overall (("overall", None)), per reason and per
    supplier. On PostgreSQL that is ONE query (GROUP BY GROUPING SETS); elsewhere one query per grouping."""
    reason, supplier = groups
    if connection.vendor == "postgresql":
        query = queryset.values(reason, supplier).annotate(**aggregates).order_by()
        sql, params = query.query.sql_with_params()
        head, _, columns = sql.rpartition(" GROUP BY ")
        by_reason, by_supplier = columns.split(", ")
        sql = f"{head} GROUP BY GROUPING SETS ((), ({by_reason}), ({by_supplier}))"
        names = list(aggregates)
        out = {}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for code, supplier_id, *values in cursor.fetchall():
                # Reasons and suppliers are never NULL, so a NULL marks the grouping the row belongs to.
                key = ("reason", code) if code is not None else ("supplier", supplier_id) if supplier_id is not None \
                    else ("overall", None)
                out[key] = dict(zip(names, values, strict=True))
        out.setdefault(("overall", None), {})
        return out
    out = {("overall", None): queryset.aggregate(**aggregates)}
    for kind, group in (("reason", reason), ("supplier", supplier)):
        for row in queryset.values(group).annotate(**aggregates).order_by():
            out[(kind, row.pop(group))] = row
    return out


def _decision_figures(since, until) -> dict:
    # First decisions only (figure_facts decides which event is one); escalated before it = deadline missed.
    hours = HoursBetween("first_decided_at", "submitted_at")
    return _grouped(
        RefundFacts.objects.filter(first_decided_at__gte=since, first_decided_at__lt=until), FACTS_GROUPS,
        decided=Count("refund_id"),
        approved=Count("refund_id", filter=Q(first_approved=True)),
        automatic=Count("refund_id", filter=Q(first_automatic=True)),
        within_deadline=Count("refund_id", filter=Q(first_escalated_at__isnull=True)
                              | Q(first_escalated_at__gte=F("first_decided_at"))),
        hours=Percentiles(hours, (0.5, 0.9)),
    )


def _submitted(since, until):
    return _grouped(RefundFacts.objects.filter(submitted_at__gte=since, submitted_at__lt=until), FACTS_GROUPS,
                    submitted=Count("refund_id"))


def _appeals(since, until):
    return _grouped(Refund.objects.filter(appealed_at__gte=since, appealed_at__lt=until), REFUND_GROUPS,
                    appeals=Count("id"))


def _appeal_outcomes(since, until):
    # Decided on appeal in the window: decided_at is the appeal's decision (it follows appealed_at).
    decided = (Refund.objects.filter(appealed_at__isnull=False, decided_at__gte=since, decided_at__lt=until)
               .filter(decided_at__gte=F("appealed_at")).exclude(status="appealed"))
    return _grouped(decided, REFUND_GROUPS, appeals_decided=Count("id"),
                    appeals_upheld=Count("id", filter=~Q(status="rejected_final")))


def _collect(since, until) -> dict:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # These scans are cheap, but their cost estimates make PostgreSQL JIT-compile them, which
            # took 4 s of a 4.2 s query at a million refunds. One read-only transaction, without JIT.
            # The percentiles sort the window's decisions per grouping: in memory, not in temporary files.
            with connection.cursor() as cursor:
                for statement in POSTGRESQL_SETTINGS:
                    cursor.execute(statement)
        parts = (_submitted(since, until), _decision_figures(since, until), _appeals(since, until),
                 _appeal_outcomes(since, until))
    return _merge(parts)


def _merge(parts) -> dict:
    """{(grouping, value): Figures} from each figure's rows."""
    figures: dict = {}
    for part in parts:
        for key, values in part.items():
            target = figures.setdefault(key, Figures())
            for name, value in values.items():
                if name == "hours":  # [median, p90] from one sort, or None
                    target.median_hours, target.p90_hours = value if value else (None, None)
                else:
                    setattr(target, name, value if value is not None or name.endswith("_hours") else 0)
    return figures


def _supplier_names(ids) -> dict[int, str]:
    """The name a supplier shows the public (its shop name, kept in the account's display-name field),
    or a neutral number: never the login name, phone or anything else private."""
    from kameng.accounts.models import User

    names = dict(User.objects.filter(id__in=list(ids)).values_list("id", "first_name"))
    return {supplier_id: public_supplier_name(supplier_id, names.get(supplier_id, "")) for supplier_id in ids}


def public_supplier_name(supplier_id: int, shop_name: str) -> str:
    return shop_name.strip() or f"#{supplier_id}"


def transparency_report(*, until=None, use_cache: bool = True) -> Report:
    """The figures for the 30 days up to `until` (now). Cached for a minute under the minute they describe."""
    until = until or clock.now()
    since = until - timedelta(days=WINDOW_DAYS)
    key = f"kameng:transparency:{until:%Y%m%d%H%M}"
    use_cache = use_cache and CACHE_SECONDS > 0
    if use_cache:
        cached = cache.get(key)
        if cached is not None:
            return cached
    figures = _collect(since, until)
    overall = figures.get(("overall", None), Figures())
    by_reason = {key: value for (kind, key), value in figures.items() if kind == "reason"}
    by_supplier = {key: value for (kind, key), value in figures.items() if kind == "supplier"}
    report = Report(since=since, until=until, overall=overall,
                    by_reason={code: by_reason[code] for code in Reason.values if code in by_reason},
                    by_supplier=dict(sorted(by_supplier.items(), key=lambda kv: (-kv[1].submitted, kv[0]))),
                    supplier_names=_supplier_names(by_supplier))
    if use_cache:
        cache.set(key, report, CACHE_SECONDS)
    return report


def reason_label(code: str) -> str:
    return str(dict(Reason.choices).get(code, code))


def report_as_dict(report: Report) -> dict:
    """The JSON of `GET /transparency`: codes with their labels (a person reads the label), times +08:00."""
    from kameng.core.times import iso_beijing

    return {
        "window_days": WINDOW_DAYS,
        "since": iso_beijing(report.since),
        "until": iso_beijing(report.until),
        "overall": report.overall.as_dict(),
        "by_reason": [{"reason": code, "label": reason_label(code), **figures.as_dict()}
                      for code, figures in report.by_reason.items()],
        "by_supplier": [{"supplier": report.supplier_names[supplier_id], **figures.as_dict()}
                        for supplier_id, figures in report.by_supplier.items()],
    }
