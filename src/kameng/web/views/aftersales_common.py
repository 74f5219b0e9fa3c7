"""Shared by the buyer's and the staff's after-sales pages: messages, labels, evidence download."""


from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils.dateparse import parse_datetime
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from kameng.aftersales.evidence import evidence_file
from kameng.aftersales.models import Reason, RefundStatus, RejectReason
from kameng.core.error_texts import one_language
from kameng.core.errors import DomainError

from ..errors import error_text, not_found_as_404


def refund_error_text(exc: DomainError) -> str:
    if exc.code == "REASON_NOT_ELIGIBLE":
        return _("该原因当前不能申请：%(why)s") % {"why": one_language(exc.message)}
    if exc.code == "DESCRIPTION_TOO_VAGUE":
        return _("描述过于笼统，请具体说明：发生了什么、在哪里使用、看到的提示或错误信息、发生时间。")
    return error_text(exc)


def event_labels() -> dict[str, str]:
    return {
        "submitted": _("提交申请"), "info_requested": _("审核员请求补充材料"), "buyer_answered": _("买家已补充"),
        "message": _("留言"), "evidence_added": _("上传证据"), "approved": _("审核通过"), "rejected": _("驳回"),
        "appealed": _("提交申诉"), "appeal_approved": _("申诉通过"), "appeal_rejected": _("申诉驳回（最终）"),
        "urged": _("催办，已升级"), "withdrawn": _("撤回"), "closed": _("关闭"), "refunding": _("退款处理中"),
        "refunded": _("退款到账"), "put_to_supplier": _("转交供货商答复"), "supplier_accepted": _("供货商同意退款"),
        "supplier_contested": _("供货商提出异议"), "supplier_silent": _("供货商逾期未答复，视为同意"),
        "escalated": _("超过审核期限，已升级高级审核员"), "auto_approved": _("超过审核期限，平台自动同意"),
    }


def role_labels() -> dict[str, str]:
    return {"buyer": _("买家"), "reviewer": _("审核员"), "senior_reviewer": _("高级审核员"), "admin": _("管理员"),
            "supplier": _("供货商"), "system": _("系统")}


def timeline(refund) -> list[dict]:
    labels, roles = event_labels(), role_labels()
    rows = []
    for event in refund.events.order_by("id"):
        role, _sep, name = event.actor.partition(":")
        who = f"{roles.get(role, role)} {name}".strip() if name else roles.get(role, role)
        rows.append({"at": event.at, "event": event.event, "label": labels.get(event.event, event.event),
                     "actor": who, "note": event.note})
    return rows


def message_rows(refund) -> list[dict]:
    roles = role_labels()
    kinds = {"info_request": _("请求补充材料"), "info_reply": _("补充材料"), "message": ""}
    return [{"at": m.at, "who": roles.get(m.author_role, m.author_role), "kind": m.kind,
             "kind_label": kinds.get(m.kind, ""), "body": m.body, "staff": m.author_role != "buyer"}
            for m in refund.messages.order_by("id")]


def reason_label(code: str) -> str:
    return dict(Reason.choices).get(code, code)


def status_label(code: str) -> str:
    return dict(RefundStatus.choices).get(code, code)


def reject_label(code: str) -> str:
    return dict(RejectReason.choices).get(code, code) if code else ""


def with_datetimes(value):
    """Records keep ISO strings; pages show them as local times."""
    if isinstance(value, list):
        return [with_datetimes(v) for v in value]
    if isinstance(value, dict):
        return {k: (parse_datetime(v) if isinstance(v, str) and (k == "at" or k.endswith("_at")) else with_datetimes(v))
                for k, v in value.items()}
    return value


def evidence_download(request, refund, evidence_id: int, back):
    """Stream one evidence file as an attachment with its stored type, never rendered inline."""
    evidence = refund.evidence.filter(id=evidence_id).first()
    if evidence is None:
        raise Http404
    try:
        handle = evidence_file(evidence)
    except RuntimeError:
        messages.error(request, _("证据文件缺失或已被改动，已无法提供；请联系平台。"))
        return redirect(back)
    # Streamed in 1 MB blocks: a 50 MB video is never held in memory.
    response = FileResponse(handle, content_type=evidence.content_type)
    response.block_size = 1024 * 1024
    name = evidence.original_name or f"evidence-{evidence.id}"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def domain_call(request, fn):
    """Run a service call; a DomainError becomes a page message (a missing refund stays a 404)."""
    try:
        return fn(), None
    except DomainError as exc:
        not_found_as_404(exc)
        messages.error(request, refund_error_text(exc))
        return None, exc
