"""Shared by the buyer's and the staff's after-sales pages: messages, labels, evidence download."""

import re

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.dateparse import parse_datetime
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from kameng.aftersales.evidence import evidence_open
from kameng.aftersales.models import Reason, RefundStatus, RejectReason
from kameng.core.errors import DomainError

from ..errors import error_text, not_found_as_404
from .shop import _lang

_BILINGUAL = re.compile(r"^(.*[。）)”])\s*([A-Za-z].*)$", re.S)


def one_language(text: str) -> str:
    """The policies speak both languages in one sentence ("中文。English."): show the page's one."""
    match = _BILINGUAL.match(text or "")
    if not match:
        return text or ""
    return match.group(2) if _lang() == "en" else match.group(1)


def _texts() -> dict[str, str]:
    return {
        "DESCRIPTION_TOO_VAGUE": _("描述过于笼统，请具体说明：发生了什么、在哪里使用、看到的提示或错误信息、发生时间。"),
        "DESCRIPTION_TOO_LONG": _("描述最多 4000 字。"),
        "ITEMS_NOT_REFUNDABLE": _("所选商品中有的现在不能申请退款（已退款、已在处理中或不存在）。"),
        "REFUND_ALREADY_OPEN": _("所选商品已有处理中的退款申请。"),
        "INVALID_REASON": _("请选择一个可申请的退款原因。"),
        "INVALID_DESTINATION": _("请选择退款去向。"),
        "INVALID_MESSAGE": _("留言不能为空，最多 4000 字。"),
        "REFUND_CLOSED": _("该退款申请已结束，不能再留言或补充证据。"),
        "URGE_NOT_ALLOWED": _("审核期限尚未到期，到期仍未处理时才可催办。"),
        "ALREADY_URGED": _("已经催办过，申请已升级给高级审核员。"),
        "APPEAL_NOT_ALLOWED": _("只有被驳回的申请可以申诉。"),
        "APPEAL_WINDOW_CLOSED": _("申诉期限已过。"),
        "WITHDRAW_NOT_ALLOWED": _("当前状态不能撤回。"),
        "UNSUPPORTED_FILE_TYPE": _("不支持该文件类型：请上传 PNG、JPEG、WebP、MP4、PDF 或纯文本。"),
        "FILE_TOO_LARGE": _("文件过大：图片最大 10 MB，PDF 最大 20 MB，视频最大 50 MB。"),
        "EMPTY_FILE": _("文件是空的。"),
        "SENIOR_REVIEWER_REQUIRED": _("申诉须由高级审核员处理。"),
        "SAME_REVIEWER": _("作出首次决定的审核员不能处理该申诉，请交给其他高级审核员。"),
        "INVALID_STATE": _("该申请当前状态不能进行此操作（可能已被其他审核员处理）。"),
        "OWN_ORDER": _("不能审核自己订单的退款申请。"),
        "NOTE_TOO_LONG": _("备注最多 4000 字。"),
        "NOTE_REQUIRED": _("驳回时请向买家说明理由。"),
        "INVALID_REASON_CODE": _("请选择驳回理由。"),
        "INVALID_AMOUNT": _("金额无效：退款金额须大于 0，且退款金额加手续费不超过申请金额。"),
    }


def refund_error_text(exc: DomainError) -> str:
    if exc.code == "REASON_NOT_ELIGIBLE":
        return _("该原因当前不能申请：%(why)s") % {"why": one_language(exc.message)}
    return _texts().get(exc.code) or error_text(exc)


def event_labels() -> dict[str, str]:
    return {
        "submitted": _("提交申请"), "info_requested": _("审核员请求补充材料"), "buyer_answered": _("买家已补充"),
        "message": _("留言"), "evidence_added": _("上传证据"), "approved": _("审核通过"), "rejected": _("驳回"),
        "appealed": _("提交申诉"), "appeal_approved": _("申诉通过"), "appeal_rejected": _("申诉驳回（最终）"),
        "urged": _("催办，已升级"), "withdrawn": _("撤回"), "closed": _("关闭"), "refunding": _("退款处理中"),
        "refunded": _("退款到账"),
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
        data = evidence_open(evidence)
    except RuntimeError:
        messages.error(request, _("证据文件缺失或已被改动，已无法提供；请联系平台。"))
        return redirect(back)
    response = HttpResponse(data, content_type=evidence.content_type)
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
