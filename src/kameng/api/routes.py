"""The contract's endpoints. Thin: parse, call a service or selector, serialize."""

import json

from django.conf import settings
from django.http import Http404
from ninja import Schema
from pydantic import Field

from kameng.accounts.models import Role
from kameng.accounts.services import me_settings_set, password_change, token_issue, token_revoke
from kameng.aftersales import cancellation
from kameng.catalog import selectors as catalog_selectors
from kameng.catalog import services as catalog
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.core.errors import Forbidden, Invalid
from kameng.core.idempotency import run_idempotent
from kameng.core.models import reloaded
from kameng.core.money import Money
from kameng.core.worker import run_queued_tasks
from kameng.inventory import services as inventory
from kameng.ledger.services import Accounts, balance
from kameng.orders import fulfilment
from kameng.orders import selectors as order_selectors
from kameng.orders import services as orders
from kameng.payments import services as payments
from kameng.payments.notify import sandbox_payment_form

from .base import Code, ErrorOut, Line, Text, answers, api, client_ip
from .payments import with_checkout
from .serializers import (
    ClockOut,
    HealthOut,
    KeysImportOut,
    LedgerOut,
    ManualOrderOut,
    MeOut,
    NotifyOut,
    OrderOut,
    OrderStatusOut,
    ProductOut,
    RechargeOut,
    RevealOut,
    RevokedOut,
    SandboxPayOut,
    TokenOut,
    TopupResultOut,
    WalletOut,
    iso,
    order_out,
    product_out,
)

Amount = Code | int


class TokenIn(Schema):
    username: Code
    password: Code


@api.post("/auth/token", auth=None, tags=["auth"],
     response=answers({200: TokenOut}, 401, 403, 429, auth=False, body=True), exclude_unset=True)
def auth_token(request, body: TokenIn):
    token, user = token_issue(username=body.username, password=body.password, request=request)
    return {"token": token, "user": {"id": user.id, "username": user.username, "role": user.role}}


class PasswordIn(Schema):
    old_password: Code
    new_password: Code


class PasswordChangedOut(Schema):
    token: str


@api.post("/auth/password", tags=["auth"],
     response=answers({200: PasswordChangedOut}, 403, body=True), exclude_unset=True)
def auth_password(request, body: PasswordIn):
    """Change the password: every token (this one too) and every session ends; the answer carries a new token."""
    token = password_change(user=request.auth, old_password=body.old_password, new_password=body.new_password)
    return {"token": token}


@api.post("/auth/logout", tags=["auth"],
     response=answers({200: RevokedOut}), exclude_unset=True)
def auth_logout(request):
    """Revoke the token this request was made with."""
    token_revoke(token=request.headers.get("Authorization", "").partition(" ")[2].strip())
    return {"revoked": True}


@api.get("/me", tags=["auth"],
     response=answers({200: MeOut}), exclude_unset=True)
def me(request):
    return _me_out(request.auth)


def _me_out(user) -> dict:
    return {"id": user.id, "username": user.username, "role": user.role, "phone": user.phone,
            "refund_destination": user.refund_destination, "language": user.language}


class MeIn(Schema):
    refund_destination: Code | None = Field(None, description="original | wallet (buyers only)")
    language: Code | None = Field(None, description="zh-hans | en: the language of 站内信, SMS and e-mail")


@api.patch("/me", tags=["auth"],
       response=answers({200: MeOut}, 403, body=True), exclude_unset=True)
def me_update(request, body: MeIn):
    """Change the user's own settings: `refund_destination` (original | wallet, buyers), where the platform's
    own refunds are paid back; `language` (zh-hans | en, anyone), the language of 站内信, SMS and e-mail.
    A bad value: 422 INVALID_DESTINATION / INVALID_LANGUAGE, nothing changed; neither field: 422 NOTHING_TO_CHANGE."""
    return _me_out(me_settings_set(user=request.auth, changes=body.model_dump(exclude_unset=True)))


# ---- catalog -----------------------------------------------------------------------------------


class ProductIn(Schema):
    name: Line
    kind: Code
    price: Amount
    face_value: Amount = "0"
    delivery_promise_minutes: int = 5
    refund_policy: dict | None = None
    description: Text = ""
    is_manual: bool = False
    supplier_id: int | None = None


@api.post("/admin/products", tags=["catalog"],
     response=answers({201: ProductOut}, 403, 404, body=True), exclude_unset=True)
def product_create(request, body: ProductIn):
    product = catalog.product_create(actor=request.auth, **body.dict())
    return api.create_response(request, product_out(catalog_selectors.product_get(product.id, active_only=False)), status=201)


@api.get("/admin/products", tags=["catalog"],
     response=answers({200: list[ProductOut]}, 403), exclude_unset=True)
def product_list_managed(request):
    user = request.auth
    if user.role not in (Role.SUPPLIER, Role.ADMIN):
        raise Forbidden("only suppliers and admins manage products", code="ROLE_FORBIDDEN")
    qs = catalog_selectors.products_with_stock(active_only=False)
    if user.role == Role.SUPPLIER:
        qs = qs.filter(supplier=user)
    return [product_out(p, in_list=True) for p in qs]


class KeysIn(Schema):
    keys: list


@api.post("/admin/products/{product_id}/keys", tags=["catalog"],
     response=answers({200: KeysImportOut}, 403, 404, 409, body=True), exclude_unset=True)
def keys_import(request, product_id: int, body: KeysIn):
    from .catalog_manage import report_urls

    result = inventory.keys_import_list(actor=request.auth, product_id=product_id, keys=body.keys)
    return {**result.as_dict(), **report_urls(result.batch_id)}


@api.get("/products", auth=None, tags=["catalog"],
     response=answers({200: list[ProductOut]}, auth=False), exclude_unset=True)
def product_list(request):
    return [product_out(p, in_list=True) for p in catalog_selectors.products_with_stock()]


@api.get("/products/{product_id}", auth=None, tags=["catalog"],
     response=answers({200: ProductOut}, 404, 422, auth=False), exclude_unset=True)
def product_detail(request, product_id: int):
    return product_out(catalog_selectors.product_get(product_id))


# ---- orders ------------------------------------------------------------------------------------


class OrderIn(Schema):
    product_id: int
    quantity: int
    channel: Code
    recharge_account: Code | None = None
    accept_terms: bool = False


@api.post("/orders", tags=["orders"],
     response=answers({201: OrderOut}, 403, 404, 409, body=True), exclude_unset=True)
def order_create(request, body: OrderIn):
    def work():
        order = orders.order_create(buyer=request.auth, **body.dict())
        request.created_payment = order.created_payment  # with_checkout opens it without reading it again
        return 201, order_out(order)

    status, response = run_idempotent(
        user=request.auth,
        key=request.headers.get("Idempotency-Key"),
        endpoint="POST /orders",
        body=body.dict(),
        work=work,
    )
    return api.create_response(request, with_checkout(request, status, response), status=status)


@api.get("/orders", tags=["orders"],
     response=answers({200: list[OrderOut]}, 403, 422), exclude_unset=True)
def order_list(request, limit: int = 50, before_id: int | None = None):
    limit = max(1, min(limit, 200))
    return [order_out(o) for o in order_selectors.orders_for_buyer(user=request.auth, limit=limit, before_id=before_id)]


@api.get("/orders/{order_no}", tags=["orders"],
     response=answers({200: OrderOut}, 403, 404), exclude_unset=True)
def order_detail(request, order_no: str):
    return order_out(order_selectors.order_for_buyer(user=request.auth, order_no=order_no))


@api.post("/orders/{order_no}/cancel", tags=["orders"],
     response=answers({200: OrderOut}, 403, 404, 409), exclude_unset=True)
def order_cancel(request, order_no: str):
    """Unpaid: closed. Paid and not delivered yet: refunded in full at once, no fee (after-sales decides)."""
    def work():
        return 200, order_out(cancellation.order_cancel(user=request.auth, order_no=order_no))

    status, response = run_idempotent(user=request.auth, key=request.headers.get("Idempotency-Key"),
                                      endpoint=f"POST /orders/{order_no}/cancel", body={}, work=work)
    return api.create_response(request, response, status=status)


def _optional_item_ids(request) -> list[int] | None:
    """An optional JSON body {"item_ids": [...]}; no body reveals every delivered item."""
    if not request.body.strip() or request.content_type != "application/json":
        return None
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise Invalid("the body is not JSON", code="INVALID_JSON") from exc
    ids = body.get("item_ids") if isinstance(body, dict) else None
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise Invalid("item_ids is a list of item ids", code="INVALID_ITEM_IDS")
    return ids


@api.post("/orders/{order_no}/reveal", tags=["orders"],
     response=answers({200: RevealOut}, 403, 404, 409, 413, 422), exclude_unset=True)
def order_reveal(request, order_no: str):
    revealed = orders.order_reveal(
        user=request.auth,
        order_no=order_no,
        item_ids=_optional_item_ids(request),
        ip_address=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return {"items": [{"id": item_id, "secret": secret} for item_id, secret in revealed]}


# ---- wallet ------------------------------------------------------------------------------------


@api.get("/wallet", tags=["wallet"],
     response=answers({200: WalletOut}, 403), exclude_unset=True)
def wallet(request):
    return {"balance": str(balance(Accounts.wallet(request.auth.id)))}


class RechargeIn(Schema):
    amount: Amount
    channel: Code


@api.post("/wallet/recharge", tags=["wallet"],
     response=answers({201: RechargeOut}, 403, 409, body=True), exclude_unset=True)
def wallet_recharge(request, body: RechargeIn):
    def work():
        payment = payments.recharge_create(user=request.auth, amount=body.amount, channel=body.channel)
        return 201, {"payment_no": payment.payment_no, "channel": payment.channel, "amount": str(Money(payment.amount_fen)),
                     "status": payment.status}

    status, response = run_idempotent(
        user=request.auth, key=request.headers.get("Idempotency-Key"), endpoint="POST /wallet/recharge",
        body=body.dict(), work=work,
    )
    return api.create_response(request, with_checkout(request, status, response, payment_key=""), status=status)


# ---- supplier ----------------------------------------------------------------------------------


class DeliverIn(Schema):
    contents: list


@api.get("/supplier/manual-orders", tags=["supplier"],
     response=answers({200: list[ManualOrderOut]}, 403), exclude_unset=True)
def manual_orders(request):
    if request.auth.role != Role.SUPPLIER:
        raise Forbidden("only suppliers deliver by hand", code="ROLE_FORBIDDEN")
    rows = order_selectors.orders_awaiting_manual_delivery(supplier=request.auth)
    return [{"order_no": o.order_no, "product_id": o.product_id, "quantity": o.quantity, "paid_at": iso(o.paid_at)}
            for o in rows]


@api.post("/supplier/orders/{order_no}/deliver", tags=["supplier"],
     response=answers({200: OrderStatusOut}, 403, 404, 409, body=True), exclude_unset=True)
def manual_deliver(request, order_no: str, body: DeliverIn):
    order = fulfilment.manual_deliver(actor=request.auth, order_no=order_no, contents=body.contents)
    return {"order_no": order.order_no, "status": order.status}


# ---- payments ----------------------------------------------------------------------------------


@api.post("/payments/notify/sandbox", auth=None, tags=["payments"],
     response=answers({200: NotifyOut}, 403, 404, 409, 413, 422, auth=False), exclude_unset=True)
def notify_sandbox(request):
    payment = payments.notification_receive(sandbox_payment_form(request))
    return {"result": "success", "payment_no": payment.payment_no}


# ---- sandbox -----------------------------------------------------------------------------------


def _sandbox_only():
    if not settings.KAMENG_SANDBOX:
        raise Http404


@api.post("/sandbox/payments/{payment_no}/pay", tags=["sandbox"],
     response=answers({200: SandboxPayOut}, 403, 404, 409, 422), exclude_unset=True)
def sandbox_pay(request, payment_no: str):
    _sandbox_only()
    payment = payments.sandbox_pay(user=request.auth, payment_no=payment_no)
    body = {"payment_no": payment.payment_no, "status": payment.status}
    if payment.order_id:
        order = reloaded(payment.order)
        body.update(order_no=order.order_no, order_status=order.status)
    return body


class TopupResultIn(Schema):
    status: Code


@api.post("/sandbox/topups/{order_no}/result", tags=["sandbox"],
     response=answers({200: TopupResultOut}, 403, 404, 409, body=True), exclude_unset=True)
def sandbox_topup_result(request, order_no: str, body: TopupResultIn):
    _sandbox_only()
    topup = fulfilment.topup_report(actor=request.auth, order_no=order_no, status=body.status)
    order = reloaded(topup.order)
    return {"order_no": order_no, "topup_status": topup.status, "order_status": order.status}


class AdvanceIn(Schema):
    hours: float = Field(gt=0, le=24 * 365)


@api.post("/sandbox/clock/advance", tags=["sandbox"],
     response=answers({200: ClockOut}, 403, 404, body=True), exclude_unset=True)
def sandbox_clock_advance(request, body: AdvanceIn):
    _sandbox_only()
    if request.auth.role != Role.ADMIN:
        raise Forbidden("only an admin moves the test clock", code="ROLE_FORBIDDEN")
    run_queued_tasks()  # what the worker would already have done before this moment
    clock.advance(seconds=int(round(body.hours * 3600)))
    for _ in range(2):  # a deadline's consequences (a job, a gateway callback) may fall due too
        process_due()
        run_queued_tasks()
    return {"now": iso(clock.now())}


@api.get("/health", auth=None, tags=["ops"],
     response={**answers({200: HealthOut}, auth=False), 503: HealthOut | ErrorOut}, exclude_unset=True)
def health(request):
    """Alive and able to reach the database. Takes no row lock, so it answers while rows are held."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return api.create_response(request, {"ok": False, "database": "unreachable"}, status=503)
    return {"ok": True, "sandbox": settings.KAMENG_SANDBOX, "database": "ok"}




# ---- finance -----------------------------------------------------------------------------------


@api.get("/finance/ledger", tags=["finance"],
     response=answers({200: LedgerOut}, 403), exclude_unset=True)
def finance_ledger(request):
    """The book check and every account's balance (finance and admin only)."""
    from kameng.core.money import fen_str
    from kameng.ledger.models import AccountKind, LedgerAccount
    from kameng.ledger.selectors import book_check

    if request.auth.role not in (Role.FINANCE, Role.ADMIN):
        raise Forbidden("only finance and admins read the ledger", code="ROLE_FORBIDDEN")
    report = book_check()
    kinds = dict(LedgerAccount.objects.values_list("code", "kind"))
    credit_normal = {AccountKind.LIABILITY, AccountKind.INCOME}
    return {
        "balanced": report.ok,
        "journals": report.journals,
        "postings": report.postings,
        "unbalanced": [{"reference": ref, "difference": fen_str(total)} for ref, total in report.unbalanced],
        "stranded_escrow": [{"order_no": order_no, "amount": fen_str(fen)} for order_no, fen in report.stranded],
        "accounts": [
            {"code": code, "kind": kinds.get(code), "balance": fen_str(-total if kinds.get(code) in credit_normal else total)}
            for code, total in sorted(report.balances.items())
        ],
    }
