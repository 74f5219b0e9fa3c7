"""Supplier money (contract "Suppliers and finance"): balance, withdrawals, finance's approval.

Thin: kameng.ledger.supplier_money decides; this translates.
"""

from ninja import Schema

from kameng.accounts.models import Role
from kameng.core.errors import Forbidden
from kameng.core.idempotency import run_idempotent
from kameng.core.money import Money
from kameng.ledger import supplier_money as money
from kameng.ledger import supplier_terms as terms

from .base import Code, Text, answers, api
from .serializers import Out, iso


class SupplierBalanceOut(Out):
    available: str
    pending: str
    withdrawn: str
    chargebacks: str
    withdrawing: str
    deposit: str  # 保证金 lodged and not yet drawn by chargebacks
    commission_rate: str  # the rate new orders are sold at ("0.05"); each order keeps its own


class WithdrawalOut(Out):
    id: int
    supplier_id: int
    amount: str
    status: str  # requested, paid, rejected
    status_text: str
    requested_at: str
    decided_at: str | None
    decided_by: str | None  # the finance user's username
    note: str


def withdrawal_out(row) -> dict:
    return {"id": row.id, "supplier_id": row.supplier_id, "amount": str(Money(row.amount_fen)), "status": row.status,
            "status_text": str(row.get_status_display()), "requested_at": iso(row.requested_at),
            "decided_at": iso(row.decided_at) if row.decided_at else None,
            "decided_by": row.decided_by.username if row.decided_by_id else None, "note": row.note}


def _supplier(request):
    if request.auth.role != Role.SUPPLIER:
        raise Forbidden("only suppliers have a supplier balance", code="ROLE_FORBIDDEN")
    return request.auth


@api.get("/supplier/balance", tags=["supplier"], response=answers({200: SupplierBalanceOut}, 403), exclude_unset=True)
def supplier_balance(request):
    figures = money.supplier_balance(_supplier(request))
    supplier = request.auth
    return {"available": str(figures.available), "pending": str(figures.pending), "withdrawn": str(figures.withdrawn),
            "chargebacks": str(figures.chargebacks), "withdrawing": str(figures.withdrawing),
            "deposit": str(figures.deposit), "commission_rate": rate_str(terms.commission_rate_of(supplier.id))}


class WithdrawalIn(Schema):
    amount: Code | int


@api.post("/supplier/withdrawals", tags=["supplier"],
          response=answers({201: WithdrawalOut}, 403, 409, body=True), exclude_unset=True)
def supplier_withdrawal_request(request, body: WithdrawalIn):
    row = money.withdrawal_request(supplier=_supplier(request), amount=body.amount)
    return api.create_response(request, withdrawal_out(row), status=201)


@api.get("/supplier/withdrawals", tags=["supplier"], response=answers({200: list[WithdrawalOut]}, 403),
         exclude_unset=True)
def supplier_withdrawals(request):
    return [withdrawal_out(row) for row in money.withdrawals_of(_supplier(request))]


@api.get("/finance/withdrawals", tags=["finance"], response=answers({200: list[WithdrawalOut]}, 403, 422),
         exclude_unset=True)
def finance_withdrawals(request, status: str | None = None):
    return [withdrawal_out(row) for row in money.withdrawals_for_finance(actor=request.auth, status=status)]


@api.post("/finance/withdrawals/{withdrawal_id}/approve", tags=["finance"],
          response=answers({200: WithdrawalOut}, 404, 409, 422), exclude_unset=True)
def finance_withdrawal_approve(request, withdrawal_id: int):
    return withdrawal_out(money.withdrawal_approve(actor=request.auth, withdrawal_id=withdrawal_id))


class RejectIn(Schema):
    note: Text = ""


@api.post("/finance/withdrawals/{withdrawal_id}/reject", tags=["finance"],
          response=answers({200: WithdrawalOut}, 404, 409, body=True), exclude_unset=True)
def finance_withdrawal_reject(request, withdrawal_id: int, body: RejectIn):
    return withdrawal_out(money.withdrawal_reject(actor=request.auth, withdrawal_id=withdrawal_id, note=body.note))


# ---- a supplier's terms: commission rate and deposit (finance, admin) ---------------------------------


def rate_str(rate) -> str:
    """A rate as the contract writes rates: a decimal string, at least two places ("0.05", "0.0525")."""
    text = format(rate.normalize(), "f")
    whole, _, places = text.partition(".")
    return f"{whole}.{places.ljust(2, '0')}"


class SupplierTermsOut(Out):
    supplier_id: int
    commission_rate: str
    deposit: str


def terms_out(supplier_id: int) -> dict:
    return {"supplier_id": supplier_id, "commission_rate": rate_str(terms.commission_rate_of(supplier_id)),
            "deposit": str(terms.deposit_of(supplier_id))}


class CommissionRateIn(Schema):
    commission_rate: Code | float | int
    note: Text = ""


@api.get("/finance/suppliers/{supplier_id}/terms", tags=["finance"],
         response=answers({200: SupplierTermsOut}, 403, 404, 422), exclude_unset=True)
def finance_supplier_terms(request, supplier_id: int):
    terms.terms_visible(actor=request.auth, supplier_id=supplier_id)
    return terms_out(supplier_id)


@api.put("/finance/suppliers/{supplier_id}/commission-rate", tags=["finance"],
         response=answers({200: SupplierTermsOut}, 403, 404, body=True), exclude_unset=True)
def finance_commission_rate_set(request, supplier_id: int, body: CommissionRateIn):
    """The supplier's rate for its NEW orders (a decimal string, 0 to 0.5); orders already sold keep theirs."""
    terms.commission_rate_set(actor=request.auth, supplier_id=supplier_id, rate=body.commission_rate, note=body.note)
    return terms_out(supplier_id)


class DepositIn(Schema):
    amount: Code | int | float
    note: Text = ""


@api.post("/finance/suppliers/{supplier_id}/deposits", tags=["finance"],
          response=answers({201: SupplierTermsOut}, 403, 404, 409, body=True), exclude_unset=True)
def finance_deposit_lodge(request, supplier_id: int, body: DepositIn):
    """Record a deposit (保证金) the supplier paid in; accepts an Idempotency-Key."""
    def work():
        terms.deposit_lodge(actor=request.auth, supplier_id=supplier_id, amount=body.amount, note=body.note)
        return 201, terms_out(supplier_id)

    status, response = run_idempotent(user=request.auth, key=request.headers.get("Idempotency-Key"),
                                      endpoint=f"POST /finance/suppliers/{supplier_id}/deposits", body=body.dict(),
                                      work=work)
    return api.create_response(request, response, status=status)
