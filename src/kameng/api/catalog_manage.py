"""The supplier's catalogue (issue 10): read, edit, 上架/下架 its products, their change history, and the
report of each key import. Thin: kameng.catalog and kameng.inventory decide; this translates.

A supplier sees and changes only its own products and imports (another's is 404); an admin any.
"""

from datetime import datetime

from django.http import StreamingHttpResponse
from django.utils import translation
from ninja import Schema

from kameng.catalog import selectors as catalog_selectors
from kameng.catalog import services as catalog
from kameng.catalog.models import ProductChange
from kameng.core.errors import Invalid
from kameng.inventory import selectors as imports
from kameng.inventory.models import LineProblem
from kameng.inventory.report import report_csv, report_filename

from .base import Code, Line, Text, answers, api
from .serializers import Out, ProductOut, iso, product_out

Amount = Code | int


def _managed(request, product_id: int) -> dict:
    product = catalog_selectors.product_for_manager(actor=request.auth, product_id=product_id)
    return product_out(catalog_selectors.product_get(product.id, active_only=False))


@api.get("/admin/products/{product_id}", tags=["catalog"], response=answers({200: ProductOut}, 403, 404, 422),
         exclude_unset=True)
def product_managed(request, product_id: int):
    """One of your products, on sale or not (`on_sale`)."""
    return _managed(request, product_id)


class ProductPatchIn(Schema):
    """Any subset of a product's terms. Refund rules left out of `refund_policy` keep their values."""

    name: Line | None = None
    description: Text | None = None
    price: Amount | None = None
    face_value: Amount | None = None
    delivery_promise_minutes: int | None = None
    refund_policy: dict | None = None


@api.patch("/admin/products/{product_id}", tags=["catalog"],
           response=answers({200: ProductOut}, 403, 404, body=True), exclude_unset=True)
def product_patch(request, product_id: int, body: ProductPatchIn):
    """Change a product's terms, checked exactly as at creation (422 with a code, nothing changed, on any
    bad value). New orders get the new terms; orders already placed keep the ones they were bought with."""
    changes = body.dict(exclude_unset=True)
    sent_null = sorted(field for field, value in changes.items() if value is None)
    if sent_null:
        raise Invalid(f"these fields cannot be null: {', '.join(sent_null)}", code="INVALID_FIELD",
                      details={"fields": sent_null})
    catalog.product_update(actor=request.auth, product_id=product_id, changes=changes)
    return _managed(request, product_id)


@api.post("/admin/products/{product_id}/on-sale", tags=["catalog"],
          response=answers({200: ProductOut}, 403, 404, 409, 422), exclude_unset=True)
def product_on_sale(request, product_id: int):
    """上架: listed and sold again. Already on sale: nothing changes."""
    catalog.product_set_on_sale(actor=request.auth, product_id=product_id, on_sale=True)
    return _managed(request, product_id)


@api.post("/admin/products/{product_id}/off-sale", tags=["catalog"],
          response=answers({200: ProductOut}, 403, 404, 409, 422), exclude_unset=True)
def product_off_sale(request, product_id: int):
    """下架: no longer listed or sold; orders already placed go on as bought."""
    catalog.product_set_on_sale(actor=request.auth, product_id=product_id, on_sale=False)
    return _managed(request, product_id)


class ProductChangeOut(Out):
    at: str
    actor: str
    event: str  # created | edited | on_sale | off_sale
    changes: dict  # field → {"old", "new"}


def change_out(change: ProductChange) -> dict:
    return {"at": iso(change.at), "actor": f"{change.actor.role}:{change.actor.username}", "event": change.event,
            "changes": {field: {"old": old, "new": new} for field, (old, new) in change.changes.items()}}


@api.get("/admin/products/{product_id}/changes", tags=["catalog"],
         response=answers({200: list[ProductChangeOut]}, 403, 404, 422), exclude_unset=True)
def product_change_list(request, product_id: int):
    """Who changed what and when, newest first (a product's supplier; staff for any product)."""
    return [change_out(c) for c in catalog_selectors.product_changes(actor=request.auth, product_id=product_id)]


class ProductAsOfOut(Out):
    at: str
    existed: bool
    terms: dict | None


@api.get("/admin/products/{product_id}/as-of", tags=["catalog"],
         response=answers({200: ProductAsOfOut}, 403, 404, 422), exclude_unset=True)
def product_as_of(request, product_id: int, at: datetime):
    """The product's terms and 上架 state as they stood at `at` (ISO 8601 with offset): for a dispute."""
    if at.tzinfo is None:
        raise Invalid("at needs an offset, e.g. 2026-11-20T21:05:00+08:00", code="INVALID_TIME", details={"field": "at"})
    terms = catalog_selectors.product_as_of(actor=request.auth, product_id=product_id, at=at)
    return {"at": iso(at), "existed": terms is not None, "terms": terms}


# ---- import reports --------------------------------------------------------------------------------


class ProblemRunOut(Out):
    first_line: int
    last_line: int
    lines: int
    problem: str
    problem_text: str


class ImportReportOut(Out):
    id: int
    product_id: int
    source: str  # api, cli, page
    status: str  # running, done, failed
    started_at: str
    finished_at: str | None
    total_lines: int | None
    processed: int
    imported: int
    duplicates: int
    rejected: int
    problems: list[ProblemRunOut]
    problem_runs: int
    problems_complete: bool
    csv_url: str
    page_url: str


def report_urls(batch_id: int) -> dict:
    return {"report_id": batch_id, "report_url": f"/api/v1/admin/imports/{batch_id}",
            "report_csv_url": f"/api/v1/admin/imports/{batch_id}/report.csv",
            "report_page_url": f"/supplier/imports/{batch_id}/"}


def report_out(batch) -> dict:
    runs, total = imports.report_runs(batch)
    labels = dict(LineProblem.choices)
    return {
        "id": batch.id, "product_id": batch.product_id, "source": batch.source, "status": batch.status,
        "started_at": iso(batch.started_at), "finished_at": iso(batch.finished_at) if batch.finished_at else None,
        "total_lines": batch.total_lines, "processed": batch.processed, "imported": batch.imported,
        "duplicates": batch.duplicates, "rejected": batch.rejected,
        "problems": [{"first_line": r.first_line, "last_line": r.last_line, "lines": r.lines, "problem": r.problem,
                      "problem_text": str(labels.get(r.problem, r.problem))} for r in runs],
        "problem_runs": total, "problems_complete": len(runs) == total,
        "csv_url": report_urls(batch.id)["report_csv_url"], "page_url": report_urls(batch.id)["report_page_url"],
    }


@api.get("/admin/imports/{batch_id}", tags=["catalog"], response=answers({200: ImportReportOut}, 403, 404, 422),
         exclude_unset=True)
def import_report(request, batch_id: int):
    """An import's counts and which lines were not stocked and why, as runs of line numbers (line n of an API
    import is keys[n-1]). Never a key. The first 500 runs; the CSV has every line."""
    return report_out(imports.batch_for_manager(actor=request.auth, batch_id=batch_id))


@api.get("/admin/imports/{batch_id}/report.csv", tags=["catalog"], response=answers({200: None}, 403, 404, 422))
def import_report_csv(request, batch_id: int):
    """Every line not stocked, one per row: line number and reason (UTF-8 with a BOM)."""
    batch = imports.batch_for_manager(actor=request.auth, batch_id=batch_id)
    language = "en" if (translation.get_language() or "").startswith("en") else "zh-hans"
    response = StreamingHttpResponse(report_csv(batch, language=language), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{report_filename(batch)}"'
    response["Cache-Control"] = "no-store"
    return response
