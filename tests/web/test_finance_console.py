"""Finance's console (财务台): the book check, balances by kind, journals searched and paged, refunds paid per
channel and day, and a CSV of each that Excel opens in Chinese — for finance only."""

import csv
import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from kameng.aftersales.models import RefundPayout
from kameng.aftersales.services import refund_create
from kameng.core import clock
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Journal, LedgerAccount, Posting
from kameng.ledger.services import Accounts, Line, journal_post
from kameng.orders.services import order_create

BEIJING = ZoneInfo("Asia/Shanghai")
PAGES = ["/finance/", "/finance/book/", "/finance/balances/", "/finance/journals/", "/finance/refunds-paid/"]
CSVS = ["/finance/book.csv", "/finance/balances.csv", "/finance/journals.csv", "/finance/refunds-paid.csv",
        "/finance/withdrawals.csv", "/finance/reconciliation.csv"]


def _csv(response) -> list[list[str]]:
    assert response.streaming, "a CSV is streamed, never built whole in memory"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode()), "UTF-8 with a byte-order mark, so Excel reads the Chinese"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _refunded(buyer, order, make_user):
    """A system-error claim refunded to the wallet (approved by a reviewer when it waits for one)."""
    from kameng.aftersales.decisions import refund_approve

    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="system_error", destination="wallet",
                           description="页面显示支付成功但订单一直没有卡密，刷新多次仍然如此，时间 11 月 20 日 21:05。")
    if refund.status == "submitted":
        refund_approve(actor=make_user("reviewer"), refund_id=refund.id, note="核实为系统问题。")
    run_queued_tasks()
    assert RefundPayout.objects.get(refund=refund).status == "succeeded"
    return refund


def _bought(buyer, product, fund_wallet):
    fund_wallet(buyer, 10_000)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    run_queued_tasks()
    return order


def test_only_finance_opens_the_console_and_its_downloads(client_as, make_user):
    for path in PAGES + CSVS:
        assert client_as().get(path)["Location"].startswith("/login/"), path
        for role in ("buyer", "supplier", "reviewer", "admin"):
            assert client_as(make_user(role)).get(path).status_code == 403, (path, role)
        assert client_as(make_user("finance")).get(path).status_code == 200, path


def test_the_landing_page_links_every_part_of_the_console(client_as, make_user):
    page = client_as(make_user("finance")).get("/finance/").content.decode()
    for path in ("/finance/book/", "/finance/balances/", "/finance/journals/", "/finance/withdrawals/?status=requested",
                 "/finance/reconciliation/", "/finance/refunds-paid/"):
        assert f'href="{path}"' in page, path


def test_the_book_check_page_and_csv_say_it_balances(client_as, make_user, buyer, make_product, fund_wallet):
    _bought(buyer, make_product(keys=1, price="9.80"), fund_wallet)
    finance = client_as(make_user("finance"))
    page = finance.get("/finance/book/").content.decode()
    assert "账目平衡" in page and "账目不平衡" not in page
    assert f'id="book-journals">{Journal.objects.count()}<' in page
    rows = _csv(finance.get("/finance/book.csv"))
    assert rows[0] == ["检查项", "对象", "金额（元）", "说明"]
    assert ["全账借贷合计（元）", "", "0.00", "应为 0.00"] in rows and rows[-1][:2] == ["结论", "账目平衡"]


@pytest.mark.unbalanced_ledger
def test_a_broken_book_is_shown_as_broken_in_words(client_as, make_user, fund_wallet, buyer):
    fund_wallet(buyer, 500)
    # Someone wrote to the book by hand: a journal of one posting, and a wallet's kept balance off by a yuan.
    lone = Journal.objects.create(reference="hand:1", kind="promotion", at=clock.now())
    Posting.objects.create(journal=lone, account=LedgerAccount.objects.get(code=Accounts.PROMOTIONS), amount_fen=100)
    LedgerAccount.objects.filter(code=Accounts.wallet(buyer.id)).update(running_fen=-600)
    finance = client_as(make_user("finance"))
    page = finance.get("/finance/book/").content.decode()
    assert "账目不平衡" in page and "不完整的凭证" in page and "钱包余额与分录不符" in page
    assert f"买家钱包余额 · {buyer.username}" in page and "wallet:" not in page
    rows = _csv(finance.get("/finance/book.csv"))
    assert ["全账借贷合计（元）", "", "1.00", "应为 0.00"] in rows
    assert rows[-1][:2] == ["结论", "账目不平衡"]


def test_balances_by_account_kind_in_yuan(client_as, make_user, buyer, make_product, fund_wallet):
    _bought(buyer, make_product(keys=1, price="9.80"), fund_wallet)  # 100.00 granted, 9.80 spent, delivered
    finance = client_as(make_user("finance"))
    page = finance.get("/finance/balances/").content.decode()
    assert "负债" in page and "买家钱包余额" in page and "¥90.20" in page and "平台赠送" in page and "¥100.00" in page
    rows = _csv(finance.get("/finance/balances.csv"))
    assert rows[0] == ["类别", "账户", "账户数", "余额（元）"]
    assert ["负债", "买家钱包余额", "1", "90.20"] in rows and ["费用", "平台赠送", "1", "100.00"] in rows
    totals = {row[0]: row[3] for row in rows if row[1] == "合计"}
    # Assets plus expenses equal liabilities plus income: the book, by kind.
    assert float(totals["资产"]) + float(totals["费用"]) == pytest.approx(float(totals["负债"]) + float(totals["收入"]))
    assert not any(cell in ("wallet", "liability", "promotions") for row in rows for cell in row)


def test_journals_are_found_by_order_refund_account_and_beijing_day(client_as, make_user, buyer, make_product,
                                                                      fund_wallet):
    product = make_product(keys=2, price="11.40")
    first, second = _bought(buyer, product, fund_wallet), _bought(buyer, product, fund_wallet)
    refund = _refunded(buyer, second, make_user)
    finance = client_as(make_user("finance"))

    page = finance.get("/finance/journals/", {"order_no": first.order_no}).content.decode()
    assert first.order_no in page and second.order_no not in page
    assert "收款" in page or "发货结算" in page

    page = finance.get("/finance/journals/", {"refund_no": refund.refund_no}).content.decode()
    assert page.count('class="journal"') == 1 and "<strong>退款</strong>" in page and refund.refund_no in page

    # A user's name finds the journals on that user's accounts; an account family finds its accounts'.
    other = make_user("buyer")
    fund_wallet(other, 123)
    mine = finance.get("/finance/journals/", {"username": other.username}).content.decode()
    assert mine.count('class="journal"') == 1 and "¥1.23" in mine
    pending = finance.get("/finance/journals/", {"family": "payable"}).content.decode()  # the suppliers' sales
    assert first.order_no in pending and other.username not in pending

    # Beijing days: 00:30 in Beijing is 16:30 the day before in UTC; the journal belongs to the Beijing day.
    midnight = _next_beijing_midnight()
    clock.advance(seconds=int((midnight - clock.now()).total_seconds()) + 30 * 60 + 2)
    fund_wallet(other, 200)
    late = Journal.objects.order_by("-id").first()
    day, before = midnight.date(), (midnight - timedelta(days=1)).date()
    on_day = finance.get("/finance/journals/", {"day_from": day, "day_to": day}).content.decode()
    on_eve = finance.get("/finance/journals/", {"day_from": before, "day_to": before}).content.decode()
    assert f'data-journal="{late.id}"' in on_day and f'data-journal="{late.id}"' not in on_eve
    assert f"{day:%Y-%m-%d} 00:30:" in on_day


@pytest.mark.parametrize("query,why", [
    ({"day_from": "2026-13-01"}, "有效的日期"),
    ({"day_from": "2026-11-24", "day_to": "2026-11-01"}, "截止日期不能早于起始日期"),
    ({"day_from": "2024-01-01", "day_to": "2026-11-01"}, "日期范围最长一年"),
    ({"order_no": "O" * 40}, ""),
    ({"family": "nonsense"}, ""),
])
def test_a_search_finance_cannot_mean_is_a_400_that_says_why(client_as, make_user, query, why):
    finance = client_as(make_user("finance"))
    for path in ("/finance/journals/", "/finance/journals.csv"):
        answer = finance.get(path, query)
        assert answer.status_code == 400, path
        assert why in answer.content.decode()
    if "day_to" in query or "day_from" in query:
        assert finance.get("/finance/refunds-paid/", query).status_code == 400


def test_journals_page_by_keyset_and_the_csv_has_them_all(client_as, make_user, fund_wallet):
    buyer = make_user("buyer")
    for _ in range(60):
        fund_wallet(buyer, 100)
    finance = client_as(make_user("finance"))
    first = finance.get("/finance/journals/", {"username": buyer.username})
    text = first.content.decode()
    assert text.count('class="journal"') == 50 and 'id="journals-next"' in text
    ids = [j.id for j in Journal.objects.order_by("-id")]
    before = ids[49]
    assert f"before={before}" in text and f"username={buyer.username}" in text
    second = finance.get("/finance/journals/", {"username": buyer.username, "before": before}).content.decode()
    assert second.count('class="journal"') == 10 and 'id="journals-next"' not in second
    assert f'data-journal="{ids[50]}"' in second and f'data-journal="{ids[49]}"' not in second

    rows = _csv(finance.get("/finance/journals.csv", {"username": buyer.username}))
    assert rows[0] == ["凭证号", "时间（北京时间）", "类型", "订单号", "退款单号", "支付单号", "提现编号", "账户", "借方（元）",
                       "贷方（元）"]
    assert len(rows) == 1 + 60 * 2  # two postings a journal
    wallet = [row for row in rows[1:] if row[7] == f"买家钱包余额 · {buyer.username}"]
    assert len(wallet) == 60 and all(row[9] == "1.00" and row[2] == "平台赠送" for row in wallet)
    at = Journal.objects.order_by("id").first().at.astimezone(BEIJING)
    assert rows[1][1] == f"{at:%Y-%m-%d %H:%M:%S}"


def test_refunds_paid_per_channel_per_beijing_day(client_as, make_user, buyer, make_product, fund_wallet):
    product = make_product(keys=3, price="11.40")
    refunds = [_refunded(buyer, _bought(buyer, product, fund_wallet), make_user) for _ in range(3)]
    ids = list(RefundPayout.objects.filter(refund__in=refunds).order_by("id").values_list("id", flat=True))
    # Two on the 23rd in Beijing (one of them at 23:59 Beijing, already the 23rd in UTC too), one just past midnight.
    RefundPayout.objects.filter(id=ids[0]).update(completed_at=datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))
    RefundPayout.objects.filter(id=ids[1]).update(completed_at=datetime(2026, 11, 23, 23, 59, tzinfo=BEIJING))
    RefundPayout.objects.filter(id=ids[2]).update(completed_at=datetime(2026, 11, 24, 0, 1, tzinfo=BEIJING),
                                                  channel="alipay")
    finance = client_as(make_user("finance"))
    query = {"day_from": "2026-11-20", "day_to": "2026-11-24"}
    page = finance.get("/finance/refunds-paid/", query).content.decode()
    assert "钱包余额" in page and "支付宝" in page and "¥22.80" in page
    rows = _csv(finance.get("/finance/refunds-paid.csv", query))
    assert rows == [["日期（北京时间）", "渠道", "笔数", "金额（元）"],
                    ["2026-11-24", "支付宝", "1", "11.40"],
                    ["2026-11-23", "钱包余额", "2", "22.80"]]
    only = _csv(finance.get("/finance/refunds-paid.csv", {**query, "channel": "alipay"}))
    assert only[1:] == [["2026-11-24", "支付宝", "1", "11.40"]]


def test_withdrawals_and_reconciliation_download_in_words(client_as, make_user, supplier):
    from datetime import date

    from kameng.core import clock
    from kameng.ledger.supplier_money import withdrawal_request
    from kameng.payments.models import ReconciliationRun

    journal_post(reference="test:matured", kind="supplier_matured",
                 lines=[Line(Accounts.payable(supplier.id), 2000), Line(Accounts.available(supplier.id), -2000)])
    supplier.username = "=HYPERLINK(1)"  # a name Excel would run as a formula
    supplier.save()
    withdrawal_request(supplier=supplier, amount="8.88")
    now = clock.now()
    ReconciliationRun.objects.create(channel="alipay", day=date(2026, 11, 22), source="gateway", actor="system",
                                     status="balanced", statement_lines=3, matched=3, started_at=now, finished_at=now)
    finance = client_as(make_user("finance"))
    rows = _csv(finance.get("/finance/withdrawals.csv"))
    assert rows[1][1:4] == ["'=HYPERLINK(1)", "8.88", "待审核"]
    rows = _csv(finance.get("/finance/reconciliation.csv"))
    assert rows[1][:3] == ["2026-11-22", "支付宝", "全部相符"] and rows[1][5:7] == ["3", "3"]
    assert LedgerAccount.objects.filter(code=Accounts.available(supplier.id)).exists()


def test_the_console_reads_in_english(client_as, make_user, fund_wallet, buyer):
    fund_wallet(buyer, 100)
    finance = client_as(make_user("finance"))
    finance.cookies["django_language"] = "en"
    assert "The book balances" in finance.get("/finance/book/").content.decode()
    assert "Buyers&#x27; wallets" in finance.get("/finance/balances/").content.decode()
    rows = _csv(finance.get("/finance/journals.csv"))
    assert rows[0][0] == "Journal no." and rows[1][2] == "Platform credit"


def test_timestamps_are_beijing_not_utc(client_as, make_user, fund_wallet, buyer):
    midnight = _next_beijing_midnight()
    clock.advance(seconds=int((midnight - clock.now()).total_seconds()) + 5 * 60 + 2)
    fund_wallet(buyer, 100)
    rows = _csv(client_as(make_user("finance")).get("/finance/journals.csv"))
    assert rows[1][1].startswith(f"{midnight:%Y-%m-%d} 00:05:")  # 16:05 the day before, in UTC


def _next_beijing_midnight() -> datetime:
    today = clock.now().astimezone(BEIJING).date()
    return datetime.combine(today + timedelta(days=1), time(0), tzinfo=BEIJING)


def test_a_suppliers_deposit_reads_in_words(client_as, make_user, supplier):
    from kameng.ledger.supplier_terms import deposit_lodge

    finance_user = make_user("finance")
    deposit_lodge(actor=finance_user, supplier_id=supplier.id, amount="500.00")
    finance = client_as(finance_user)
    balances = finance.get("/finance/balances/").content.decode()
    assert "供货商保证金" in balances and "¥500.00" in balances
    journals = finance.get("/finance/journals/", {"family": "deposit"}).content.decode()
    assert "<strong>缴纳保证金</strong>" in journals and f"供货商保证金 · {supplier.username}" in journals
