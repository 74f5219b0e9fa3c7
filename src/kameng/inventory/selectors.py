"""Reads of stock for the people who manage it: batches and their quarantine."""

from django.db.models import Count, Q

from kameng.accounts.models import Role
from kameng.core.errors import NotFound

from .models import ImportBatch, QuarantineState, SecretStatus

STATES = tuple(QuarantineState.values)


def _with_counts(qs):
    return qs.select_related("product", "quarantine_decided_by").annotate(
        frozen_keys=Count("cardsecret", filter=Q(cardsecret__status=SecretStatus.FROZEN)),
        available_keys=Count("cardsecret", filter=Q(cardsecret__status=SecretStatus.AVAILABLE)),
    )


def _admin_only(actor) -> None:
    # Batches and their quarantine are the platform's business: to anyone else they do not exist.
    if getattr(actor, "role", None) != Role.ADMIN:
        raise NotFound("no such batch", code="BATCH_NOT_FOUND")


def batches_for_admin(*, actor, state: str | None = None, limit: int = 200):
    """Batches, quarantined ones by default (oldest first: the longest waiting is decided first)."""
    _admin_only(actor)
    state = state or QuarantineState.QUARANTINED
    if state not in STATES:
        from kameng.core.errors import Invalid

        raise Invalid(f"state is one of {', '.join(STATES)}", code="INVALID_STATE_FILTER")
    qs = ImportBatch.objects.filter(quarantine=state)
    order = ("quarantined_at", "id") if state == QuarantineState.QUARANTINED else ("-quarantine_decided_at", "-id")
    if state == QuarantineState.NONE:
        order = ("-id",)
    return list(_with_counts(qs).order_by(*order)[:limit])


def batch_for_admin(*, actor, batch_id) -> ImportBatch:
    _admin_only(actor)
    batch = _with_counts(ImportBatch.objects.filter(id=batch_id)).first() if isinstance(batch_id, int) else None
    if batch is None:
        raise NotFound("no such batch", code="BATCH_NOT_FOUND")
    return batch


def batches_of_supplier(*, supplier, limit: int = 100):
    """A supplier's own batches, newest first, with what is on sale and what is held back."""
    qs = ImportBatch.objects.filter(product__supplier=supplier)
    return list(_with_counts(qs).order_by("-id")[:limit])


# ---- the per-import report: which lines were not stocked, and why (never the lines themselves) ----

REPORT_RUNS_SHOWN = 500  # runs a page or a JSON answer lists; the CSV has every line


def batch_for_manager(*, actor, batch_id) -> ImportBatch:
    """An import its product's supplier may read (an admin any); anyone else's is 404, like a missing one."""
    from kameng.core.errors import Forbidden

    role = getattr(actor, "role", None)
    if role not in (Role.SUPPLIER, Role.ADMIN):
        raise Forbidden("only suppliers and admins read imports", code="ROLE_FORBIDDEN")
    qs = ImportBatch.objects.select_related("product")
    if role == Role.SUPPLIER:
        qs = qs.filter(product__supplier=actor)
    batch = qs.filter(id=batch_id).first() if isinstance(batch_id, int) else None
    if batch is None:
        raise NotFound("no such import", code="IMPORT_NOT_FOUND")
    return batch


def report_runs(batch: ImportBatch, *, limit: int = REPORT_RUNS_SHOWN) -> tuple[list, int]:
    """The first `limit` runs of problem lines, in line order, and how many runs there are in all."""
    qs = batch.problems.order_by("first_line")
    runs = list(qs[:limit])
    return runs, (len(runs) if len(runs) < limit else qs.count())


def report_lines(batch: ImportBatch):
    """Every problem line as (line, problem), in line order, streamed: a report of a million lines is a
    handful of rows read a thousand at a time, expanded here."""
    for run in batch.problems.order_by("first_line").iterator(chunk_size=1000):
        for line in range(run.first_line, run.last_line + 1):
            yield line, run.problem
