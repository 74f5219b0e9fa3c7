"""Every page a person can open, built from the URLconf, with a small world in which each one has something to show.

The browser test (no sideways scrolling at 390 px and on a desktop) and the label test (no raw code, no other
language's punctuation, in Chinese and English) both walk `PAGES`. A new URL pattern must be added here, as a
page or as a non-page with a reason, or `test_every_url_is_walked` fails: a new page cannot slip past both.
"""

import io
from dataclasses import dataclass, field
from datetime import date

from django.urls import URLPattern, URLResolver, get_resolver

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


@dataclass
class World:
    users: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)


# name → (role that opens it, the URL's arguments from the world). Role None: anyone.
PAGES = {
    "web:products": (None, lambda w: {}),
    "web:product": (None, lambda w: {"product_id": w.ids["card"]}),
    "web:checkout": ("buyer", lambda w: {"product_id": w.ids["topup"]}),
    "web:login": (None, lambda w: {}),
    "web:password_change": ("buyer", lambda w: {}),
    "web:orders": ("buyer", lambda w: {}),
    "web:order": ("buyer", lambda w: {"order_no": w.ids["order_revealed"]}),
    "web:refund_apply": ("buyer", lambda w: {"order_no": w.ids["order_revealed"]}),
    "web:refunds": ("buyer", lambda w: {}),
    "web:refund": ("buyer", lambda w: {"refund_id": w.ids["refund_rejected"]}),
    "web:inbox": ("buyer", lambda w: {}),
    "web:staff_queue": ("reviewer", lambda w: {}),
    "web:staff_case": ("reviewer", lambda w: {"refund_id": w.ids["refund_open"]}),
    "web:finance_reconciliation": ("finance", lambda w: {}),
    "web:sandbox_pay": ("buyer", lambda w: {"payment_no": w.ids["payment_pending"]}),
    "web:pay": ("buyer", lambda w: {"payment_no": w.ids["payment_pending"]}),
    "web:wallet": ("buyer", lambda w: {}),
    "web:settings": ("buyer", lambda w: {}),
    "web:wallet_history": ("buyer", lambda w: {}),
    "web:transparency": (None, lambda w: {}),
    "web:supplier_products": ("supplier", lambda w: {}),
    "web:product_new": ("supplier", lambda w: {}),
    "web:key_import": ("supplier", lambda w: {"product_id": w.ids["card"]}),
    "web:import_progress": ("supplier", lambda w: {"batch_id": w.ids["batch"]}),
    "web:product_edit": ("supplier", lambda w: {"product_id": w.ids["card"]}),
    "web:manual_orders": ("supplier", lambda w: {}),
    "web:supplier_claims": ("supplier", lambda w: {}),
    "web:staff_batches": ("admin", lambda w: {}),
    "web:supplier_money": ("supplier", lambda w: {}),
    "web:finance_withdrawals": ("finance", lambda w: {}),
    "web:finance_home": ("finance", lambda w: {}),
    "web:finance_book": ("finance", lambda w: {}),
    "web:finance_balances": ("finance", lambda w: {}),
    "web:finance_journals": ("finance", lambda w: {}),
    "web:finance_refunds_paid": ("finance", lambda w: {}),
    "web:finance_suppliers": ("finance", lambda w: {}),
    "web:finance_supplier": ("finance", lambda w: {"supplier_id": w.users["supplier"].id}),
}

# More states of the pages that change most with their data (each is walked like a page).
EXTRA = {
    "refund (open)": ("buyer", "web:refund", lambda w: {"refund_id": w.ids["refund_open"]}),
    "order awaiting the supplier (取消订单)": ("buyer", "web:order", lambda w: {"order_no": w.ids["order_manual"]}),
    "refund (refunded)": ("buyer", "web:refund", lambda w: {"refund_id": w.ids["refund_refunded"]}),
    "refund (by the platform)": ("buyer", "web:refund", lambda w: {"refund_id": w.ids["refund_by_platform"]}),
    "staff case (rejected)": ("reviewer", "web:staff_case", lambda w: {"refund_id": w.ids["refund_rejected"]}),
    "staff case (refunded)": ("reviewer", "web:staff_case", lambda w: {"refund_id": w.ids["refund_refunded"]}),
    "supplier inbox": ("supplier", "web:inbox", lambda w: {}),
    "reviewer inbox": ("reviewer", "web:inbox", lambda w: {}),
    "checkout (card)": ("buyer", "web:checkout", lambda w: {"product_id": w.ids["card"]}),
    "import report (lines not imported)": ("supplier", "web:import_progress",
                                           lambda w: {"batch_id": w.ids["batch_with_problems"]}),
    "product edit (off sale, with its changes)": ("supplier", "web:product_edit", lambda w: {"product_id": w.ids["held"]}),
}

NOT_PAGES = {
    "web:logout": "POST only",
    "web:order_reveal": "POST only; its page is walked by pressing the reveal button (reveal_page)",
    "web:refund_evidence": "POST only (an upload)",
    "web:refund_evidence_file": "a file download",
    "web:refund_evidence_view": "a file shown inline (a picture or PDF); opened from the case page's viewer",
    "web:refund_evidence_thumb": "a thumbnail picture on the case page",
    "web:refund_evidence_remove": "POST only (the buyer takes an upload back before review)",
    "web:refund_message": "POST only",
    "web:refund_urge": "POST only",
    "web:refund_appeal": "POST only",
    "web:refund_withdraw": "POST only",
    "web:refund_dossier": "a file download",
    "web:inbox_read": "POST only",
    "web:staff_request_info": "POST only",
    "web:staff_approve": "POST only",
    "web:staff_reject": "POST only",
    "web:staff_evidence_file": "a file download",
    "web:staff_evidence_view": "a file shown inline (a picture or PDF); opened from the case page's viewer",
    "web:staff_evidence_thumb": "a thumbnail picture on the case page",
    "web:import_status": "JSON polled by the progress page",
    "web:supplier_claim_accept": "POST only",
    "web:supplier_claim_contest": "POST only",
    "web:manual_deliver": "POST only",
    "web:order_cancel": "POST only; its confirmation is on the order page (order awaiting the supplier)",
    "web:staff_batch_release": "POST only",
    "web:staff_batch_void": "POST only; its confirmation is on the batches page",
    "web:finance_withdrawal_decide": "POST only; its confirmations are on the withdrawals page",
    "web:export": "POST only, a file download (its button is on the wallet history page)",
    "web:finance_book_csv": "a CSV download (its button is on the 账目检查 page)",
    "web:finance_balances_csv": "a CSV download (its button is on the 账户余额 page)",
    "web:finance_journals_csv": "a CSV download (its button is on the 会计凭证 page)",
    "web:finance_refunds_paid_csv": "a CSV download (its button is on the 退款支付 page)",
    "web:finance_withdrawals_csv": "a CSV download (its button is on the 提现审核 page)",
    "web:finance_reconciliation_csv": "a CSV download (its button is on the 对账 page)",
    "web:product_sale": "POST only; its buttons are on the product list and the edit page",
    "web:import_report_csv": "a file download (its button is on the import report)",
}


def url_names(resolver=None, prefix="") -> set[str]:
    """Every named pattern of the site's pages (the API and Django's admin are not pages of ours)."""
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in ("admin",) or str(entry.pattern).startswith("api/"):
                continue
            inner = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            names |= url_names(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{prefix}{entry.name}")
    return names - {"set_language"}


def walk():
    """(label, role, url name, kwargs maker) for every page and extra state."""
    rows = [(name, role, name, kwargs) for name, (role, kwargs) in PAGES.items()]
    rows += [(label, role, name, kwargs) for label, (role, name, kwargs) in EXTRA.items()]
    return rows


def build_world(make_user, make_product, fund_wallet) -> World:
    """Products, one user of each role, orders and refunds in the states the pages show."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from kameng.aftersales.decisions import refund_approve, refund_reject
    from kameng.aftersales.services import evidence_add, refund_create, refund_message
    from kameng.aftersales.supplier_claims import claim_contest
    from kameng.core import clock
    from kameng.core.worker import run_queued_tasks
    from kameng.inventory.models import ImportBatch
    from kameng.orders.services import order_create, order_reveal
    from kameng.payments.models import ReconciliationRun

    w = World()
    buyer, supplier = make_user("buyer"), make_user("supplier")
    reviewer, senior, finance = make_user("reviewer"), make_user("senior_reviewer"), make_user("finance")
    w.users = {"buyer": buyer, "supplier": supplier, "reviewer": reviewer, "senior_reviewer": senior,
               "finance": finance}
    policy = {"personal_reason_fee_rate": "0.10"}  # a 10 % fee must read "10%", not "1E+1%"
    card = make_product(keys=12, price="11.40", face_value="12.00", owner=supplier, refund_policy=policy,
                        description="全国通用游戏点卡，兑换地址 https://pay.example.com/redeem")
    topup = make_product(kind="topup", price="30.00", face_value="30.00", owner=supplier)
    manual = make_product(kind="card", is_manual=True, owner=supplier)
    w.ids.update(card=card.id, topup=topup.id, batch=ImportBatch.objects.filter(product=card).first().id)
    fund_wallet(buyer, 100_000)

    def bought(product, quantity=1, reveal=True, channel="wallet"):
        order = order_create(buyer=buyer, product_id=product.id, quantity=quantity, channel=channel, accept_terms=True)
        run_queued_tasks()
        if reveal:
            order_reveal(user=buyer, order_no=order.order_no, ip_address="127.0.0.1", user_agent="Chrome test")
        return order

    revealed = bought(card, quantity=2)
    w.ids["order_revealed"] = revealed.order_no
    # A rejected claim, appealable, with the buyer's evidence and messages.
    rejected = refund_create(buyer=buyer, order_no=revealed.order_no, reason="invalid_key", description=GOOD,
                             destination="original", item_ids=[revealed.items.order_by("position").first().id])
    png = _png()
    evidence_add(user=buyer, refund_id=rejected.id,
                 uploaded_file=SimpleUploadedFile("兑换失败截图.png", png, content_type="image/png"))
    claim_contest(supplier=supplier, refund_id=rejected.id, note="我方记录显示该卡密发货时有效。")
    refund_message(user=buyer, refund_id=rejected.id, body="截图已上传，请查看。")
    refund_reject(actor=reviewer, refund_id=rejected.id, reason_code="not_reproducible", note="兑换记录显示该卡密未被使用。")
    w.ids["refund_rejected"] = rejected.id

    # An open claim (the order shows 售后中), and a refunded one on the original path.
    open_order = bought(card, channel="wallet")
    opened = refund_create(buyer=buyer, order_no=open_order.order_no, reason="key_already_used", description=GOOD,
                           destination="original")
    claim_contest(supplier=supplier, refund_id=opened.id, note="该卡密在我方系统中未被激活过。")
    w.ids["refund_open"] = opened.id
    paid = bought(card, reveal=False, channel="wallet")
    done = refund_create(buyer=buyer, order_no=paid.order_no, reason="system_error",
                         description="页面显示支付成功但订单一直没有卡密，刷新多次仍然如此，时间 11 月 20 日 21:05。",
                         destination="original")
    if done.status == "submitted":
        refund_approve(actor=reviewer, refund_id=done.id, note="核实为系统问题。")
    run_queued_tasks()
    w.ids["refund_refunded"] = done.id

    pending = order_create(buyer=buyer, product_id=card.id, quantity=1, channel="alipay", accept_terms=True)
    w.ids["payment_pending"] = pending.created_payment.payment_no
    # A manual order waits for the supplier.
    w.ids["order_manual"] = bought(manual, reveal=False).order_no
    # Another one was not delivered within its promise: the platform refunded it unasked.
    from datetime import timedelta

    from kameng.aftersales.proactive import refund_if_due
    from kameng.orders.models import Order

    late = bought(manual, reveal=False)
    Order.objects.filter(id=late.id).update(paid_at=late.paid_at - timedelta(hours=1))
    w.ids["refund_by_platform"] = refund_if_due(order_id=late.id).id
    now = clock.now()
    ReconciliationRun.objects.create(channel="alipay", day=date(2026, 11, 22), source="gateway", actor="system",
                                     status="balanced", statement_lines=3, matched=3, started_at=now, finished_at=now)
    # A quarantined batch for the admin's 批次隔离 page (and the supplier's batch table).
    from kameng.inventory.models import CardSecret

    w.users["admin"] = make_user("admin")
    held = make_product(keys=3, price="20.00", owner=supplier)
    type(held).objects.filter(id=held.id).update(name="一批被隔离的游戏点卡（名称较长，检验窄屏换行）")
    batch = ImportBatch.objects.get(product=held)
    ImportBatch.objects.filter(id=batch.id).update(quarantine="quarantined", quarantined_at=now, quarantine_defects=2,
                                                   quarantine_sold=3, quarantine_frozen=3)
    CardSecret.objects.filter(batch=batch).update(status="frozen")
    # The supplier changed that product's price and fee, then took it off sale: its edit page lists the changes.
    from kameng.catalog.services import product_set_on_sale, product_update
    from kameng.inventory.services import keys_import_list

    product_update(actor=supplier, product_id=held.id,
                   changes={"price": "19.50", "description": "新说明：仅限安卓区使用",
                            "refund_policy": {"personal_reason_fee_rate": "0.08", "refund_window_hours": 48}})
    product_set_on_sale(actor=supplier, product_id=held.id, on_sale=False)
    w.ids["held"] = held.id
    # An import with a blank line, a repeat within the file and a key already on the platform: its report.
    w.ids["batch_with_problems"] = keys_import_list(
        actor=supplier, product_id=held.id, keys=["WALK-NEW-1", "", "WALK-NEW-1", f"KEY-{card.id}-000000"]).batch_id
    # Supplier money: part of the sales matured (moved as the sweep would, without moving the clock), one
    # withdrawal paid, one rejected with a note, one waiting for finance.
    from kameng.ledger.services import Accounts, Line, journal_post
    from kameng.ledger.supplier_money import withdrawal_approve, withdrawal_reject, withdrawal_request

    journal_post(reference="walk:matured", kind="supplier_matured",
                 lines=[Line(Accounts.payable(supplier.id), 2000), Line(Accounts.available(supplier.id), -2000)])
    withdrawal_approve(actor=finance, withdrawal_id=withdrawal_request(supplier=supplier, amount="5.00").id)
    withdrawal_reject(actor=finance, withdrawal_id=withdrawal_request(supplier=supplier, amount="3.00").id,
                      note="收款账户信息不完整，请核对后重新申请。")
    withdrawal_request(supplier=supplier, amount="8.88")
    # Its terms: a rate changed with a note, a deposit lodged (finance's 供货商 pages show both).
    from kameng.ledger.supplier_terms import commission_rate_set, deposit_lodge

    commission_rate_set(actor=finance, supplier_id=supplier.id, rate="0.0525", note="按年度合作协议调整为 5.25%。")
    deposit_lodge(actor=finance, supplier_id=supplier.id, amount="5000.00", note="银行转账到账")
    return w


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 32), (220, 40, 40)).save(out, format="PNG")
    return out.getvalue()
