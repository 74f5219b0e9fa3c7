"""Domain objects to the contract's JSON. Money as decimal strings, times in Asia/Shanghai."""

from django.utils import translation
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from kameng.catalog.policies import stored_policy_or_none, summary
from kameng.catalog.selectors import product_stock
from kameng.core.money import fen_str
from kameng.core.times import iso_beijing


def iso(moment):
    return iso_beijing(moment)


def product_out(product, *, in_list: bool = False) -> dict:
    """A product; `in_list` gives its description's summary only (the full text is on GET /products/{id})."""
    policy = stored_policy_or_none(product.refund_policy)  # None: stored rules that do not read (never a 500)
    return {
        "id": product.id,
        "name": product.name,
        "description": summary(product.description) if in_list else product.description,
        "description_truncated": in_list and summary(product.description) != product.description,
        "kind": product.kind,
        "price": fen_str(product.price_fen),
        "face_value": fen_str(product.face_value_fen),
        "delivery_promise_minutes": product.delivery_promise_minutes,
        "is_manual": product.is_manual,
        "supplier_id": product.supplier_id,
        "stock": product_stock(product, getattr(product, "available_keys", None)),
        "refund_policy": policy.to_api(translation.get_language() or "zh-hans") if policy else None,
        "on_sale": product.is_active,
    }


def payment_out(payment) -> dict:
    """An order's payment; a gateway payment also says where to pay and until when (contract)."""
    body = {"payment_no": payment.payment_no, "channel": payment.channel, "status": payment.status}
    if payment.channel != "wallet":
        body["expires_at"] = iso(payment.expires_at)
        if payment.pay_url:
            body["pay_url"] = payment.pay_url
        if payment.code_url:
            body["code_url"] = payment.code_url
    return body


def order_out(order, *, payment=None) -> dict:
    items = getattr(order, "created_items", None) or sorted(order.items.all(), key=lambda item: item.position)
    payment = payment or getattr(order, "created_payment", None) or order.payments.order_by("-id").first()
    snapshot = order.snapshot  # built once: each read of the property is a fresh copy
    body = {
        "order_no": order.order_no,
        "status": order.status,
        "amount": fen_str(order.amount_fen),
        "refunded_amount": fen_str(order.refunded_fen),
        "quantity": order.quantity,
        "unit_price": fen_str(order.unit_price_fen),
        "items": [
            {
                "id": item.id,
                "status": item.status,
                "delivered_at": iso(item.delivered_at),
                "revealed": item.first_revealed_at is not None,
            }
            for item in items
        ],
        "product_id": order.product_id,
        "product_name": snapshot.get("name"),
        "kind": snapshot.get("kind"),
        "channel": order.channel,
        "created_at": iso(order.created_at),
        "expires_at": iso(order.expires_at),
        "paid_at": iso(order.paid_at),
        "delivered_at": iso(order.delivered_at),
        "snapshot": snapshot,
        "terms_accepted_at": iso(order.terms_accepted_at),
        "payment": payment_out(payment) if payment else None,
    }
    topup = getattr(order, "topup", None) if snapshot.get("kind") == "topup" or snapshot.get("on_demand") else None
    if topup is not None:
        body["topup"] = {"status": topup.status, "upstream_ref": topup.upstream_ref, "account": topup.account}
    return body


# ---- response schemas: what the OpenAPI document promises (and ninja checks) --------------------
# `extra="allow"`: a field added by a serializer is still sent (and documented as allowed) rather than
# silently dropped; routes use exclude_unset so keys a serializer leaves out stay out.


class Out(BaseModel):
    """A plain pydantic model (not ninja's Schema, whose attribute reading would drop extra keys)."""

    model_config = ConfigDict(extra="allow")


class UserOut(Out):
    id: int
    username: str
    role: str


class TokenOut(Out):
    token: str
    user: UserOut


class MeOut(UserOut):
    phone: str
    refund_destination: str = PydanticField(
        description="original | wallet: where refunds the platform makes on its own (a failed top-up, an order it "
                    "could not deliver) are paid back; set with PATCH /me")
    language: str = PydanticField(
        description="zh-hans | en: the language of the user's 站内信 (GET /inbox), SMS and e-mail; set with PATCH /me")


class RevokedOut(Out):
    revoked: bool


class RefundPolicyOut(Out):
    refund_window_hours: int
    personal_reason_fee_rate: str = PydanticField(examples=["0.05"])
    review_sla_workdays: int
    appeal_window_days: int
    info_reply_hours: int
    supplier_reply_hours: int = 24
    late_delivery_compensation_rate: str = PydanticField(
        default="0.00", examples=["0.10"], description="share of a late item's price credited to the buyer's wallet")
    text: str


class ProductOut(Out):
    id: int
    name: str
    description: str = PydanticField(description="the full text; in lists, a summary (see description_truncated)")
    description_truncated: bool
    kind: str
    price: str = PydanticField(examples=["9.80"])
    face_value: str
    delivery_promise_minutes: int
    is_manual: bool
    supplier_id: int
    stock: int | None = PydanticField(description="keys on sale; null when not limited by stock")
    refund_policy: RefundPolicyOut | None = PydanticField(
        description="null only while stored rules that do not validate are being fixed (the product cannot be bought)")
    on_sale: bool = PydanticField(default=True, description="上架: listed and sold; false after 下架")


class KeyRejectionOut(Out):
    index: int = PydanticField(description="the key's position in the list sent, from 0")
    problem: str


class KeysImportOut(Out):
    imported: int
    duplicates: int
    rejected: int
    rejections: list[KeyRejectionOut] | None = PydanticField(
        default=None, description="present when some keys were rejected: their positions, never the keys")
    report_id: int | None = PydanticField(default=None, description="the import's report: GET /admin/imports/{id}")
    report_url: str | None = None
    report_csv_url: str | None = None
    report_page_url: str | None = PydanticField(default=None, description="the supplier's page of the report")


class ItemOut(Out):
    id: int
    status: str
    delivered_at: str | None
    revealed: bool


class CheckoutFields(Out):
    """Where a gateway payment is paid, and until when (contract: "Real payment gateways")."""

    expires_at: str | None = None
    pay_url: str | None = PydanticField(default=None, description="Alipay page/wap pay URL, WeChat H5 URL")
    code_url: str | None = PydanticField(default=None, description="QR code content: WeChat Native, Alipay precreate")


class PaymentRefOut(CheckoutFields):
    payment_no: str
    channel: str
    status: str


class OrderOut(Out):
    order_no: str
    status: str
    amount: str
    refunded_amount: str
    quantity: int
    unit_price: str
    items: list[ItemOut]
    product_id: int
    product_name: str | None
    kind: str | None
    channel: str
    created_at: str
    expires_at: str | None
    paid_at: str | None
    delivered_at: str | None
    snapshot: dict
    terms_accepted_at: str | None
    payment: PaymentRefOut | None
    topup: dict | None = None


class RevealedItemOut(Out):
    id: int
    secret: str


class RevealOut(Out):
    items: list[RevealedItemOut]


class WalletOut(Out):
    balance: str


class RechargeOut(CheckoutFields):
    payment_no: str
    channel: str
    amount: str
    status: str


class ManualOrderOut(Out):
    order_no: str
    product_id: int
    quantity: int
    paid_at: str | None


class OrderStatusOut(Out):
    order_no: str
    status: str


class NotifyOut(Out):
    result: str


class SandboxPayOut(Out):
    payment_no: str
    status: str
    order_no: str | None = None
    order_status: str | None = None


class TopupResultOut(Out):
    order_no: str
    topup_status: str
    order_status: str


class ClockOut(Out):
    now: str


class HealthOut(Out):
    ok: bool
    database: str
    sandbox: bool | None = None


class LedgerAccountOut(Out):
    code: str
    kind: str | None
    balance: str


class UnbalancedOut(Out):
    reference: str
    difference: str


class LedgerOut(Out):
    balanced: bool
    journals: int
    postings: int
    unbalanced: list[UnbalancedOut]
    accounts: list[LedgerAccountOut]


class ReasonOut(Out):
    code: str
    eligible: bool
    fee_rate: str
    needs_evidence: bool
    automatic: bool
    why: str
    deadline: str | None


class RefundOptionsOut(Out):
    order_no: str
    reasons: list[ReasonOut]
    item_ids: list[int]
    deadline: str | None
    max_amount: str


class TimelineOut(Out):
    at: str
    actor: str
    event: str
    note: str


class MessageOut(Out):
    id: int
    at: str
    author_role: str
    kind: str
    body: str


class EvidenceFileOut(Out):
    id: int
    sha256: str
    kind: str
    received_at: str
    received_sha256: str | None = None
    name: str | None = None


class EvidenceOut(EvidenceFileOut):
    files: list[EvidenceFileOut] | None = None


class EvidenceRowOut(EvidenceFileOut):
    source: str
    content_type: str
    size: int
    received_size: int | None = None
    removed: bool = False
    removed_at: str | None = None


class RefundOut(Out):
    id: int
    refund_no: str
    order_no: str
    status: str
    reason: str
    description: str
    item_ids: list[int]
    amount: str
    fee: str
    fee_rate: str
    refund_amount: str
    destination: str
    needs_evidence: bool
    awaiting_evidence: bool = False
    evidence_due_at: str | None = None
    evidence_overdue_at: str | None = None  # the evidence deadline passed with no file: marked for the reviewer
    evidence_removable: bool = False
    opened_at: str | None = None
    liable: str
    submitted_at: str | None
    sla_due_at: str | None
    overdue: bool
    info_due_at: str | None
    escalated: bool
    decided_at: str | None
    reject_reason_code: str | None
    decision_note: str | None
    appeal_due_at: str | None
    appeal_description: str | None
    expected_arrival_by: str | None
    refunded_at: str | None
    closed_reason: str | None
    supplier_due_at: str | None = PydanticField(default=None, description="a supplier-liable claim: the supplier answers by then")
    supplier_answer: str | None = PydanticField(default=None, description="pending | accepted | contested | silent")
    supplier_note: str | None = None
    timeline: list[TimelineOut]
    messages: list[MessageOut]
    evidence: list[EvidenceRowOut]
    buyer_id: int | None = PydanticField(default=None, description="staff answers only")
    first_decided_by: int | None = PydanticField(default=None, description="staff answers only")


class QueueRowOut(Out):
    id: int
    refund_no: str
    status: str
    order_no: str
    reason: str
    amount: str
    sla_due_at: str | None
    overdue: bool
    escalated: bool
    submitted_at: str | None


class BuyerRefundRowOut(QueueRowOut):
    refund_amount: str
    destination: str
    timeline: list[TimelineOut] = PydanticField(
        description="the case's history; a refund the platform made on its own starts with actor `system`")


class StaffCaseOut(Out):
    refund: RefundOut
    order_snapshot: dict
    current_product: ProductOut | None
    deliveries: list
    reveals: list
    payments: list
    topup: dict | None
    order_events: list


class RefundNotifyOut(Out):
    result: str
    request_no: str


class SigningKeyOut(Out):
    algorithm: str
    public_key_pem: str
