"""The dossier's printable summary: one PDF a 12315 officer or a payment platform's dispute agent can read.

The ZIP stays the machine-checkable part; this PDF is one more file in its signed manifest, so a printed
page can be checked against the signature too. It says who, what and when (Beijing time), the refund rules
in force at purchase, the platform's own records (payments, deliveries, key reveals), the timeline, the
evidence with thumbnails, and how to verify the signature.

fpdf2 (maintained, pure Python) writes it with Debian's Noto Sans CJK SC embedded and subset to the
characters used, so the file stays small and prints the same everywhere. `./dev` installs fonts-noto-cjk;
`KAMENG_PDF_FONT` may point at another CJK font (a .ttf/.otf, or a .ttc with `KAMENG_PDF_FONT_INDEX`).
The font is embedded from a cut-down copy kept in the data directory (aftersales/pdf_font.py), which is
what makes a summary cheap.
"""

import io
import threading

from django.utils import translation
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.money import fen_str
from kameng.core.times import for_person
from kameng.inventory.models import RevealRecord
from kameng.web.labels import label

from .evidence import evidence_thumbnail
from .models import Reason, RefundStatus, RejectReason
from .pdf_font import cjk_font, font_for_summary

FONT = "cjk"
THUMB_MM = 28


# Labels come from the one catalogue (web/labels.py), read in Chinese: `summary_pdf` overrides the language.


def _when(moment) -> str:
    return f"{for_person(moment)}（北京时间）" if moment else "—"


def _actor(actor: str) -> str:
    role, _sep, name = actor.partition(":")
    who = label("role", role)
    return f"{who} {name}".strip() if name else who


def _policy_lines(policy: dict) -> list[str]:
    if not policy:
        return ["—"]
    lines = []
    if policy.get("text"):
        lines.append(str(policy["text"]))
    facts = (("refund_window_hours", "售后期限（发货后小时）"), ("personal_reason_fee_rate", "个人原因手续费率"),
             ("review_sla_workdays", "审核期限（工作日）"), ("appeal_window_days", "申诉期限（天）"),
             ("info_reply_hours", "补充材料期限（小时）"), ("supplier_reply_hours", "供货商答复期限（小时）"))
    lines += [f"{label}：{policy[key]}" for key, label in facts if key in policy]
    return lines


class _Summary(FPDF):
    def __init__(self, refund_no: str, font: tuple[str, int], *, cut_down: bool = False):
        super().__init__(format="A4")
        self.refund_no = refund_no
        path, index = font
        self.add_font(FONT, "", path, collection_font_number=index)
        if cut_down:
            # Saving the embedded subset would otherwise recompute the font's bounding boxes by running every
            # glyph's outline (a third of the summary's time). The cut-down copy's boxes were computed when it
            # was made and bound every glyph in it, so they stay true for any subset of it.
            self.fonts[FONT].ttfont.recalcBBoxes = False
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)
        self.set_title(f"退款证据包摘要 {refund_no}")
        self.set_creator("kameng")

    def footer(self):
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(110)
        self.cell(0, 6, f"{self.refund_no} · 第 {self.page_no()}/{{nb}} 页 · 本摘要是签名证据包的一部分，其 SHA-256 列在 manifest.json 中",
                  align="C")
        self.set_text_color(0)

    def heading(self, text: str):
        self.ln(3)
        self.set_font(FONT, size=13)
        self.set_fill_color(238, 242, 247)
        self.cell(0, 8, text, fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=10)
        self.ln(1)

    def line(self, text: str, *, size: float = 10, height: float = 5.5):
        self.set_font(FONT, size=size)
        self.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fact(self, label: str, value: str):
        self.set_font(FONT, size=10)
        self.set_text_color(90)
        self.cell(40, 5.5, label)
        self.set_text_color(0)
        self.multi_cell(0, 5.5, value or "—", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


# A summary still costs tens of MB while it is built (and seconds from the full face, before the cut-down
# copy is ready): one at a time per process keeps a burst of dossier downloads from multiplying that.
_ONE_AT_A_TIME = threading.Semaphore(1)


def summary_pdf(*, refund, evidence: list, generated_at=None) -> bytes:
    """The printable summary of `refund` (its evidence rows as the dossier packs them), as PDF bytes."""
    generated_at = generated_at or clock.now()
    with _ONE_AT_A_TIME, translation.override("zh-hans"):
        path, index, working_set = font_for_summary()
        pdf = _build(refund, evidence, generated_at, (path, index), cut_down=working_set)
        if working_set and _missing_glyphs(pdf):
            # A character outside the cut-down font (a rare name, say): the full face has it. Never drop text.
            pdf = _build(refund, evidence, generated_at, cjk_font())
        out = io.BytesIO()
        pdf.output(out)
        return out.getvalue()


def _missing_glyphs(pdf: FPDF) -> bool:
    return any(getattr(font, "missing_glyphs", None) for font in pdf.fonts.values())


def _build(refund, evidence, generated_at, font: tuple[str, int], *, cut_down: bool = False) -> "_Summary":
    order = refund.order
    snapshot = order.snapshot or {}
    pdf = _Summary(refund.refund_no, font, cut_down=cut_down)
    pdf.add_page()
    pdf.set_font(FONT, size=18)
    pdf.cell(0, 10, "退款证据包摘要", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.line("Refund dossier summary — 供支付平台争议处理或 12315 投诉使用。所有时间均为北京时间（UTC+8）。", size=9)
    pdf.fact("退款单号", refund.refund_no)
    pdf.fact("生成时间", _when(generated_at))

    pdf.heading("一、当事人")
    pdf.fact("买家", f"{refund.buyer.username}（用户编号 {refund.buyer_id}）")
    supplier = getattr(getattr(order, "product", None), "supplier", None)
    pdf.fact("供货商", getattr(supplier, "username", "") or "—")
    pdf.fact("平台", "kameng 卡盟（本证据包的签名方）")

    pdf.heading("二、订单与申请")
    pdf.fact("订单号", order.order_no)
    pdf.fact("商品", f"{snapshot.get('name', '')} × {order.quantity}")
    pdf.fact("订单金额", f"¥{fen_str(order.amount_fen)}")
    pdf.fact("支付方式", label("channel", order.channel))
    pdf.fact("申请原因", str(dict(Reason.choices).get(refund.reason, refund.reason)))
    pdf.fact("问题描述", refund.description)
    pdf.fact("申请金额", f"¥{fen_str(refund.amount_fen)}（手续费 ¥{fen_str(refund.fee_fen)}，"
                        f"应退 ¥{fen_str(refund.refund_amount_fen)}）")
    pdf.fact("退款去向", "钱包" if refund.destination == "wallet" else "原路退回")
    outcome = str(dict(RefundStatus.choices).get(refund.status, refund.status))
    if refund.reject_reason_code:
        outcome += "：" + str(dict(RejectReason.choices).get(refund.reject_reason_code, ""))
    pdf.fact("当前状态", outcome)
    if refund.decision_note:
        pdf.fact("处理说明", refund.decision_note)

    pdf.heading("三、时间（北京时间）")
    for what, moment in (("下单", order.created_at), ("支付", order.paid_at), ("发货", order.delivered_at),
                          ("提交申请", refund.submitted_at), ("审核期限", refund.sla_due_at),
                          ("证据期限", refund.evidence_due_at),
                          ("证据期限已过，未收到证据", refund.evidence_overdue_at), ("作出决定", refund.decided_at),
                          ("申诉期限", refund.appeal_due_at), ("退款到账", refund.refunded_at)):
        if moment:
            pdf.fact(what, _when(moment))

    pdf.heading("四、购买时的规则（下单时的商品页快照）")
    pdf.fact("承诺发货", f"{snapshot.get('delivery_promise_minutes', '—')} 分钟内")
    for text in _policy_lines(snapshot.get("refund_policy") or {}):
        pdf.line(text)
    if order.terms_text:
        pdf.fact("买家确认", f"{order.terms_text}（确认时间 {_when(order.terms_accepted_at)}）")

    pdf.heading("五、平台自己的记录")
    for payment in order.payments.order_by("id"):
        pdf.line(f"支付 {payment.payment_no}：{label('channel', payment.channel)} "
                 f"¥{fen_str(payment.amount_fen)}，{label('payment_status', payment.status)}，"
                 f"{_when(payment.paid_at)}")
    for item in order.items.order_by("position"):
        delivered = _when(item.delivered_at) if item.delivered_at else "未发货"
        revealed = _when(item.first_revealed_at) if item.first_revealed_at else "从未查看"
        pdf.line(f"第 {item.position} 件：发货 {delivered}；首次查看卡密 {revealed}")
    reveals = RevealRecord.objects.filter(order_item__order=order).select_related("order_item").order_by("id")
    for record in reveals:
        pdf.line(f"查看记录：第 {record.order_item.position} 件，{_when(record.revealed_at)}，IP {record.ip_address}")

    pdf.heading("六、处理时间线")
    for event in refund.events.order_by("id"):
        note = f" — {event.note}" if event.note and event.event in ("message", "rejected", "approved", "appealed",
                                                                     "info_requested", "supplier_contested") else ""
        pdf.line(f"{for_person(event.at)}  {label('event', event.event)}（{_actor(event.actor)}）{note}")

    pdf.heading("七、证据清单")
    for item in evidence:
        _evidence_row(pdf, item)

    pdf.heading("八、如何验证")
    for text in (
        "1. 本摘要（summary.pdf）与证据包中的其他文件一起列在 manifest.json 中，各附 SHA-256；"
        "manifest.sig 是平台对 manifest.json 原始字节的 Ed25519 签名，public_key.pem 是签名公钥。",
        "2. 核对 public_key.pem 与平台公布的公钥（GET /api/v1/signing-key）一致。",
        "3. 验证签名（OpenSSL 3）：base64 -d manifest.sig > manifest.sig.bin；"
        "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.sig.bin，"
        "输出 Signature Verified Successfully 即 manifest.json 未被改动。",
        "4. 用 sha256sum 计算每个文件（包括本 PDF）的 SHA-256，与 manifest.json 中的值比对；任何一个字节被改动，哈希都会不同。",
        "5. 图片证据：平台为保护隐私去除了照片中的位置等 EXIF 信息后重新编码保存，清单同时列出买家上传的原始文件的"
        " SHA-256 与平台保存副本的 SHA-256；包内的是保存的副本。",
    ):
        pdf.line(text, size=9)
    return pdf


def _evidence_row(pdf: _Summary, item) -> None:
    removed = getattr(item, "removed_at", None)
    lines = [
        f"#{item.id} {item.original_name or '（无文件名）'} · {label('evidence_source', item.source)} · "
        f"{label('evidence_kind', item.kind)} · {item.size} 字节 · 接收 {_when(item.received_at)}",
    ]
    if removed:
        lines.append(f"买家已于 {_when(removed)} 撤下，不作为证据（文件仍保留在记录中）。")
    if item.received_sha256 and item.received_sha256 != item.sha256:
        lines.append(f"上传的原始文件 SHA-256：{item.received_sha256}")
        lines.append(f"平台保存的副本 SHA-256：{item.sha256}（已去除 EXIF 后重新编码）")
    else:
        lines.append(f"SHA-256：{item.sha256}")
    top = pdf.get_y()
    if item.kind == "image":
        if top + THUMB_MM > pdf.h - 20:
            pdf.add_page()
            top = pdf.get_y()
        try:
            data, _type = evidence_thumbnail(item)
            pdf.image(io.BytesIO(data), x=pdf.l_margin, y=top, w=THUMB_MM, h=THUMB_MM, keep_aspect_ratio=True)
        except (RuntimeError, OSError, DomainError):
            pdf.set_xy(pdf.l_margin, top)
            pdf.cell(THUMB_MM, THUMB_MM, "（缩略图不可用）", border=1, align="C")
        pdf.set_xy(pdf.l_margin + THUMB_MM + 4, top)
        for text in lines:
            pdf.set_x(pdf.l_margin + THUMB_MM + 4)
            pdf.set_font(FONT, size=9)
            pdf.multi_cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_y(max(pdf.get_y(), top + THUMB_MM) + 3)
    else:
        for text in lines:
            pdf.line(text, size=9, height=5)
        pdf.ln(2)

