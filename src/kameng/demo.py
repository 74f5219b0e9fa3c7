"""Demo data: one user of each role, products of every kind, stock, and wallet credit."""

from django.db import transaction

from kameng.accounts.models import User
from kameng.accounts.services import user_create
from kameng.catalog.models import Product
from kameng.catalog.services import product_create
from kameng.inventory.services import keys_import_list
from kameng.ledger.services import Accounts, Line, journal_post

USERS = [
    ("buyer", "buyer123", "buyer", "13800000001"),
    ("supplier", "supplier123", "supplier", ""),
    ("reviewer", "reviewer123", "reviewer", ""),
    ("senior", "senior123", "senior_reviewer", ""),
    ("finance", "finance123", "finance", ""),
    ("admin", "admin123", "admin", ""),
]


def load_demo() -> list[str]:
    lines = ["demo accounts (username / password / role):"]
    with transaction.atomic():
        for username, password, role, phone in USERS:
            if not User.objects.filter(username=username).exists():
                user_create(username=username, password=password, role=role, phone=phone)
            lines.append(f"  {username:<10} {password:<12} {role}")
        supplier = User.objects.get(username="supplier")
        buyer = User.objects.get(username="buyer")
        if not Product.objects.exists():
            card = product_create(actor=supplier, name="王者荣耀 60 点券", kind="card", price="5.70", face_value="6.00",
                                  delivery_promise_minutes=1, description="官方点券卡密，自动发货，到账即可兑换。")
            keys_import_list(actor=supplier, product_id=card.id, keys=[f"WZRY-DEMO-{i:04d}-{card.id}" for i in range(1, 51)])
            link = product_create(actor=supplier, name="某视频会员 月卡兑换链接", kind="link", price="15.00",
                                  face_value="25.00", delivery_promise_minutes=1, description="打开链接即可兑换一个月会员。",
                                  refund_policy={"refund_window_hours": 48})
            keys_import_list(actor=supplier, product_id=link.id,
                             keys=[f"https://redeem.example/v/DEMO{i:04d}{link.id}" for i in range(1, 21)])
            product_create(actor=supplier, name="中国移动 话费直充 50 元", kind="topup", price="49.50", face_value="50.00",
                           delivery_promise_minutes=30, description="直充到手机号，通常 10 分钟内到账。")
            product_create(actor=supplier, name="Steam 礼品卡（人工发货）", kind="card", price="98.00", face_value="100.00",
                           delivery_promise_minutes=120, is_manual=True,
                           description="由供货商人工发货，承诺 2 小时内。", refund_policy={"personal_reason_fee_rate": "0.08"})
            journal_post(reference=f"demo-grant:{buyer.id}", kind="promotion", memo="demo wallet credit",
                         lines=[Line(Accounts.PROMOTIONS, 50000), Line(Accounts.wallet(buyer.id), -50000)])
    return lines
