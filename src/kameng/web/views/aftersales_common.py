"""Shared by the buyer's and the staff's after-sales pages: messages, labels, evidence download."""


from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.dateparse import parse_datetime
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from kameng.aftersales.evidence import evidence_file, evidence_thumbnail, shown_inline
from kameng.core.error_texts import one_language
from kameng.core.errors import DomainError

from ..errors import error_text, not_found_as_404
from ..labels import EVENTS, ROLES, label
from ..timeline import timeline  # noqa: F401  (the pages import it from here)


def refund_error_text(exc: DomainError) -> str:
    if exc.code == "REASON_NOT_ELIGIBLE":
        return _("该原因当前不能申请：%(why)s") % {"why": one_language(exc.message)}
    if exc.code == "DESCRIPTION_TOO_VAGUE":
        if (exc.details or {}).get("personal_reason"):
            return _("描述过于笼统，请用一句话说明原因，例如：“买错了，不需要了。”")
        return _("描述过于笼统，请具体说明：发生了什么、在哪里使用、看到的提示或错误信息、发生时间。"
                 "例如：“兑换页面提示‘该卡密已被使用’，附截图。”")
    return error_text(exc)


def event_labels() -> dict[str, str]:
    return {code: str(text) for code, text in EVENTS.items()}


def role_labels() -> dict[str, str]:
    return {code: str(text) for code, text in ROLES.items()}


def message_rows(refund) -> list[dict]:
    return [{"at": m.at, "who": label("role", m.author_role), "kind": m.kind,
             "kind_label": label("message_kind", m.kind), "body": m.body, "staff": m.author_role != "buyer"}
            for m in refund.messages.order_by("id")]


def reason_label(code: str) -> str:
    return label("reason", code)


def status_label(code: str) -> str:
    return label("refund_status", code)


def reject_label(code: str) -> str:
    return label("reject", code)


def with_datetimes(value):
    """Records keep ISO strings; pages show them as local times."""
    if isinstance(value, list):
        return [with_datetimes(v) for v in value]
    if isinstance(value, dict):
        return {k: (parse_datetime(v) if isinstance(v, str) and (k == "at" or k.endswith("_at")) else with_datetimes(v))
                for k, v in value.items()}
    return value


# A file we show is data, never a page: no script, no plugin, no form, nothing loaded from elsewhere, and a
# sandbox so even a browser bug in an image decoder runs with no origin. PDF keeps Chrome's own viewer
# (a CSP sandbox would blank it), still with no script allowed.
_IMAGE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"
_PDF_CSP = "default-src 'none'; script-src 'none'; object-src 'self'; img-src 'self'; frame-ancestors 'self'"


def _file_headers(response, *, csp: str, disposition: str) -> None:
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = csp
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    response["X-Frame-Options"] = "SAMEORIGIN"


def evidence_download(request, refund, evidence_id: int, back, *, mode: str = "download"):
    """One evidence file: `download` (an attachment, any type), `inline` (shown in the browser, pictures and
    PDF only; anything else stays an attachment) or `thumb` (a small picture of an image for the lists)."""
    evidence = refund.evidence.filter(id=evidence_id).first()
    if evidence is None or (mode == "thumb" and evidence.kind != "image"):
        raise Http404
    try:
        if mode == "thumb":
            data, content_type = evidence_thumbnail(evidence)
            response = HttpResponse(data, content_type=content_type)
            _file_headers(response, csp=_IMAGE_CSP, disposition="inline")
            return response
        handle = evidence_file(evidence)
    except RuntimeError:
        messages.error(request, _("证据文件缺失或已被改动，已无法提供；请联系平台。"))
        return redirect(back)
    # Streamed in 1 MB blocks: a 50 MB video is never held in memory.
    response = FileResponse(handle, content_type=evidence.content_type)
    response.block_size = 1024 * 1024
    name = evidence.original_name or f"evidence-{evidence.id}"
    inline = mode == "inline" and shown_inline(evidence)
    _file_headers(response, csp=_PDF_CSP if evidence.kind == "pdf" else _IMAGE_CSP,
                  disposition=content_disposition_header(as_attachment=not inline, filename=name))
    return response


def domain_call(request, fn):
    """Run a service call; a DomainError becomes a page message (a missing refund stays a 404)."""
    try:
        return fn(), None
    except DomainError as exc:
        not_found_as_404(exc)
        messages.error(request, refund_error_text(exc))
        return None, exc
