"""Supplier money: sales mature into `available` after the refund window, chargebacks, withdrawals paid once."""

from kameng.ledger.models import Journal, Withdrawal
from kameng.ledger.services import Accounts, balance

from .conftest import ask, contested


def figures(api_as, supplier):
    response = api_as(supplier).get("/supplier/balance")
    assert response.status_code == 200, response.content
    return response.json()


def matured(bought, advance, api_as, supplier, quantity=1):
    """A delivered 10.00 sale per item, its 72-hour refund window over: 9.50 each available."""
    bought(quantity=quantity)
    advance(73)
    return figures(api_as, supplier)


def test_a_sale_is_pending_during_the_refund_window_and_available_after_it(bought, advance, api_as, supplier):
    api, order = bought()
    assert figures(api_as, supplier) == {"available": "0.00", "pending": "9.50", "withdrawn": "0.00",
                                         "chargebacks": "0.00", "withdrawing": "0.00",
                                         "deposit": "0.00", "commission_rate": "0.05"}
    advance(71)  # still inside the 72 hours
    assert figures(api_as, supplier)["available"] == "0.00"
    advance(2)
    shown = figures(api_as, supplier)
    assert (shown["available"], shown["pending"]) == ("9.50", "0.00")
    advance(100)  # later sweeps move nothing twice
    assert Journal.objects.filter(order__order_no=order["order_no"], kind="supplier_matured").count() == 1
    assert figures(api_as, supplier)["available"] == "9.50"


def test_a_refund_open_at_the_end_of_the_window_holds_the_sale_back_and_is_charged_to_pending(
        bought, advance, api_as, supplier, reviewer):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key", destination="wallet").json()
    contested(refund["id"])  # the supplier contests: it waits for a reviewer past the window
    advance(73)
    assert figures(api_as, supplier)["available"] == "0.00"  # a claim is open: not withdrawable yet
    decided = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "卡密校验失败，属实"})
    assert decided.status_code == 200, decided.content
    advance(1)
    assert figures(api_as, supplier) == {"available": "0.00", "pending": "0.00", "withdrawn": "0.00",
                                         "chargebacks": "9.50", "withdrawing": "0.00",
                                         "deposit": "0.00", "commission_rate": "0.05"}


def test_a_charge_after_maturity_draws_from_available(bought, advance, api_as, supplier):
    from kameng.ledger.services import Line, journal_post
    from kameng.ledger.supplier_money import supplier_account
    from kameng.orders.models import Order

    api, order = bought()
    row = Order.objects.get(order_no=order["order_no"])
    assert supplier_account(row) == Accounts.payable(supplier.id)
    advance(73)
    assert supplier_account(row) == Accounts.available(supplier.id)
    # An appeal upheld weeks later charges what the supplier can withdraw, and may take it below zero.
    journal_post(reference="refund:late-appeal", kind="refund", order=row,
                 lines=[Line(supplier_account(row), 1000), Line(Accounts.wallet(row.buyer_id), -1000)])
    shown = figures(api_as, supplier)
    assert (shown["available"], shown["pending"], shown["chargebacks"]) == ("-0.50", "0.00", "10.00")
    assert api_as(supplier).post("/supplier/withdrawals", {"amount": "0.01"}).status_code == 409


def test_withdrawal_amounts_are_validated_and_never_above_available(bought, advance, api_as, supplier):
    assert matured(bought, advance, api_as, supplier, quantity=2)["available"] == "19.00"
    api = api_as(supplier)
    for bad in ("0", "0.00", "-1.00", "1.001", "abc", 0):
        response = api.post("/supplier/withdrawals", {"amount": bad})
        assert response.status_code == 422, (bad, response.content)
    too_much = api.post("/supplier/withdrawals", {"amount": "19.01"})
    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "INSUFFICIENT_AVAILABLE"
    assert not Withdrawal.objects.exists()
    first = api.post("/supplier/withdrawals", {"amount": "12.00"})
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "requested" and first.json()["amount"] == "12.00"
    assert figures(api_as, supplier)["available"] == "7.00"  # reserved at once
    assert figures(api_as, supplier)["withdrawing"] == "12.00"
    assert api.post("/supplier/withdrawals", {"amount": "7.01"}).status_code == 409
    assert api.post("/supplier/withdrawals", {"amount": "7.00"}).status_code == 201
    assert figures(api_as, supplier)["available"] == "0.00"


def test_finance_pays_a_withdrawal_once(bought, advance, api_as, supplier, make_user):
    matured(bought, advance, api_as, supplier)
    finance, other = make_user("finance"), make_user("supplier")
    withdrawal = api_as(supplier).post("/supplier/withdrawals", {"amount": "9.50"}).json()
    listed = api_as(finance).get("/finance/withdrawals?status=requested").json()
    assert [row["id"] for row in listed] == [withdrawal["id"]]
    # Nobody but finance (or an admin) can pay it; to them it does not exist.
    for stranger in (supplier, other, make_user("buyer"), make_user("reviewer")):
        assert api_as(stranger).post(f"/finance/withdrawals/{withdrawal['id']}/approve").status_code == 404
    assert api_as(supplier).get("/finance/withdrawals").status_code == 403
    paid = api_as(finance).post(f"/finance/withdrawals/{withdrawal['id']}/approve")
    assert paid.status_code == 200, paid.content
    assert paid.json()["status"] == "paid" and paid.json()["decided_by"] == finance.username
    again = api_as(finance).post(f"/finance/withdrawals/{withdrawal['id']}/approve")
    assert again.status_code == 200 and again.json() == paid.json()  # the same answer, nothing paid twice
    assert Journal.objects.filter(kind="withdrawal_paid").count() == 1
    assert figures(api_as, supplier) == {"available": "0.00", "pending": "0.00", "withdrawn": "9.50",
                                         "chargebacks": "0.00", "withdrawing": "0.00",
                                         "deposit": "0.00", "commission_rate": "0.05"}
    assert balance(Accounts.BANK_PAYOUTS).fen == -950  # left the platform's bank account
    assert api_as(finance).post(f"/finance/withdrawals/{withdrawal['id']}/reject",
                                {"note": "重复"}).status_code == 409
    assert api_as(finance).get("/finance/withdrawals?status=requested").json() == []
    assert api_as(finance).get("/finance/withdrawals?status=nope").status_code == 422
    assert api_as(finance).post("/finance/withdrawals/999999/approve").status_code == 404


def test_a_rejected_withdrawal_goes_back_to_available(bought, advance, api_as, supplier, make_user):
    matured(bought, advance, api_as, supplier)
    finance = make_user("finance")
    withdrawal = api_as(supplier).post("/supplier/withdrawals", {"amount": "5.00"}).json()
    assert api_as(finance).post(f"/finance/withdrawals/{withdrawal['id']}/reject", {"note": ""}).status_code == 422
    rejected = api_as(finance).post(f"/finance/withdrawals/{withdrawal['id']}/reject", {"note": "银行账户信息不符"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert figures(api_as, supplier)["available"] == "9.50"
    assert api_as(finance).post(f"/finance/withdrawals/{withdrawal['id']}/approve").status_code == 409
    assert figures(api_as, supplier)["withdrawn"] == "0.00"
