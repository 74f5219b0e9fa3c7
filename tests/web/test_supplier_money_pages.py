"""The supplier's 资金与提现 page and finance's 提现审核 page: figures, 流水 labels, a withdrawal from request to payment."""

from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.ledger.models import Withdrawal
from kameng.orders.services import order_create


def _matured_sale(buyer, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    order = order_create(buyer=buyer, product_id=make_product(keys=1, price="10.00").id, quantity=1,
                         channel="wallet", accept_terms=True)
    clock.advance(seconds=73 * 3600)
    process_due()
    return order


def test_the_supplier_sees_its_money_and_asks_for_a_withdrawal_finance_pays(client_as, buyer, supplier, make_user,
                                                                            make_product, fund_wallet):
    order = _matured_sale(buyer, make_product, fund_wallet)
    page = client_as(supplier).get("/supplier/money/")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="available"><strong>¥9.50</strong>' in text
    assert "售后期满，转入可提现" in text and "销售收入（售后期内，待结算）" in text
    assert order.order_no in text and "supplier_matured" not in text and "order_settled" not in text
    # Three decimals: refused in words, nothing reserved.
    refused = client_as(supplier).post("/supplier/money/", {"amount": "1.001", "confirmed": "1"}, follow=True)
    assert "supplier_matured" not in refused.content.decode() and not Withdrawal.objects.exists()
    too_much = client_as(supplier).post("/supplier/money/", {"amount": "9.51", "confirmed": "1"}, follow=True).content.decode()
    assert "INSUFFICIENT_AVAILABLE" not in too_much and not Withdrawal.objects.exists()
    asked = client_as(supplier).post("/supplier/money/", {"amount": "9.50", "confirmed": "1"}, follow=True).content.decode()
    assert "已申请提现 ¥9.50" in asked and "待审核" in asked
    withdrawal = Withdrawal.objects.get()
    finance = make_user("finance")
    assert client_as(supplier).get("/finance/withdrawals/").status_code == 403
    listed = client_as(finance).get("/finance/withdrawals/?status=requested").content.decode()
    assert f'data-withdrawal="{withdrawal.id}"' in listed and "确认已向该供货商打款 ¥9.50 吗" in listed
    done = client_as(finance).post(f"/finance/withdrawals/{withdrawal.id}/decide/", {"action": "approve", "confirmed": "1"}, follow=True)
    assert "已确认打款" in done.content.decode()
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid" and withdrawal.decided_by == finance
    after = client_as(supplier).get("/supplier/money/").content.decode()
    assert 'id="withdrawn">¥9.50' in after and "已打款" in after


def test_finance_rejects_with_a_note_and_the_money_is_available_again(client_as, buyer, supplier, make_user,
                                                                     make_product, fund_wallet):
    _matured_sale(buyer, make_product, fund_wallet)
    client_as(supplier).post("/supplier/money/", {"amount": "4.00", "confirmed": "1"})
    withdrawal = Withdrawal.objects.get()
    finance = client_as(make_user("finance"))
    finance.post(f"/finance/withdrawals/{withdrawal.id}/decide/", {"action": "reject", "note": "", "confirmed": "1"})
    assert Withdrawal.objects.get().status == "requested"  # a rejection says why
    finance.post(f"/finance/withdrawals/{withdrawal.id}/decide/", {"action": "reject", "note": "账户信息不符", "confirmed": "1"})
    assert Withdrawal.objects.get().status == "rejected"
    page = client_as(supplier).get("/supplier/money/").content.decode()
    assert 'id="available"><strong>¥9.50</strong>' in page and "账户信息不符" in page
    assert "提现被驳回，退回可提现" in page
