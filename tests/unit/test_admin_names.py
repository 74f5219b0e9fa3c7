"""The Django admin speaks the platform's language: Chinese names, yuan, and refund rules checked as creation checks them."""

import json
import re

import pytest
from django.contrib import admin
from django.test import Client

from kameng.catalog.models import Product
from kameng.orders.services import order_create

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def staff(make_user):
    client = Client()
    client.force_login(make_user("admin"))
    return client


def _headers(html: str) -> list[str]:
    cells = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', html, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells if re.sub(r"<[^>]+>", "", cell).strip()]


def test_every_model_in_the_admin_has_a_chinese_name(staff):
    index = staff.get("/admin/").content.decode()
    for model in admin.site._registry:
        meta = model._meta
        assert CJK.search(str(meta.verbose_name)), meta.label
        assert str(meta.verbose_name_plural) == str(meta.verbose_name), meta.label  # Chinese has no plural
    assert "batchs" not in index.lower() and "Import batch" not in index and "导入批次" in index


def test_every_list_page_names_its_columns_in_chinese_and_never_in_fen(staff, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    order_create(buyer=buyer, product_id=make_product(keys=1, price="98.00").id, quantity=1, channel="wallet",
                 accept_terms=True)
    for model in admin.site._registry:
        path = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        page = staff.get(path)
        assert page.status_code == 200, path
        html = page.content.decode()
        # The form's random CSRF token is no wording: it spelt "fen" once in CI ("...NXNFENM1...").
        words = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
        assert "FEN" not in words.upper().replace("FENCE", ""), path
        for header in _headers(html):
            assert CJK.search(header) or header in ("ID", "IP"), (path, header)
    orders = staff.get("/admin/orders/order/").content.decode()
    assert "金额（元）" in orders and "98.00" in orders and ">9800<" not in orders


def test_a_record_page_shows_its_amounts_in_yuan(staff, buyer, make_product, fund_wallet):
    from kameng.ledger.models import Journal

    fund_wallet(buyer, 10_000)
    order = order_create(buyer=buyer, product_id=make_product(keys=1, price="98.00").id, quantity=1,
                         channel="wallet", accept_terms=True)
    page = staff.get(f"/admin/orders/order/{order.id}/change/").content.decode()
    assert "金额（元）" in page and "98.00" in page and "9800" not in page
    journal = Journal.objects.filter(order=order).first()
    page = staff.get(f"/admin/ledger/journal/{journal.id}/change/").content.decode()
    assert "金额（元）" in page and "98.00" in page and "9800" not in page
    # The book is read only here: money moves through journal_post, balanced and once.
    assert staff.get("/admin/ledger/journal/add/").status_code == 403
    assert staff.post(f"/admin/ledger/ledgeraccount/{journal.postings.first().account_id}/change/",
                      {"running_fen": "1"}).status_code == 403


def test_the_admin_reads_in_english_too(staff):
    staff.cookies["django_language"] = "en"
    html = staff.get("/admin/inventory/importbatch/").content.decode()
    assert "Import batches" in html and "导入批次" not in html


def _product_form(make_user, **changes) -> dict:
    data = {"supplier": make_user("supplier").id, "name": "王者荣耀 60 点券", "description": "", "kind": "card",
            "price": "98.00", "face_value": "100.00", "delivery_promise_minutes": "5",
            "refund_policy": json.dumps({"personal_reason_fee_rate": "0.05"}), "is_active": "on",
            "created_at_0": "2026-11-24", "created_at_1": "08:00:00", "updated_at_0": "2026-11-24",
            "updated_at_1": "08:00:00", "source": "", "source_sku": ""}
    data.update(changes)
    return data


@pytest.mark.parametrize("policy,why", [
    ({"personal_reason_fee_rate": "0.50"}, "退款规则无效"),  # a 50 % fee: the seeds' complaint
    ({"refund_window_hours": "seventy-two"}, "退款规则无效"),
    ({"no_such_rule": 1}, "退款规则无效"),
    (["not", "an", "object"], "退款规则无效"),
])
def test_a_bad_refund_policy_is_a_form_error_and_nothing_is_saved(staff, make_user, policy, why):
    answer = staff.post("/admin/catalog/product/add/", _product_form(make_user, refund_policy=json.dumps(policy)))
    assert answer.status_code == 200 and why in answer.content.decode()
    assert not Product.objects.exists()


@pytest.mark.parametrize("field,value,why", [
    ("price", "0", "售价须大于 0"), ("price", "9.999", "最多两位小数"), ("price", "-1.00", "售价须大于 0"),
    ("face_value", "abc", "最多两位小数"), ("name", "\u202e\u200b", "商品名称无效"),
])
def test_prices_are_typed_in_yuan_and_checked_like_creation(staff, make_user, field, value, why):
    answer = staff.post("/admin/catalog/product/add/", _product_form(make_user, **{field: value}))
    assert answer.status_code == 200 and why in answer.content.decode()
    assert not Product.objects.exists()


def test_a_good_product_is_saved_with_its_yuan_as_fen_and_its_policy_whole(staff, make_user):
    answer = staff.post("/admin/catalog/product/add/", _product_form(make_user))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    product = Product.objects.get()
    assert (product.price_fen, product.face_value_fen) == (9800, 10000)
    assert product.refund_policy["personal_reason_fee_rate"] == "0.05" and product.refund_policy["refund_window_hours"] == 72
    page = staff.get(f"/admin/catalog/product/{product.id}/change/").content.decode()
    assert 'value="98.00"' in page and "售价（元）" in page
    edited = staff.post(f"/admin/catalog/product/{product.id}/change/",
                        _product_form(make_user, price="88.80",
                                      refund_policy=json.dumps({"personal_reason_fee_rate": "0.50"})))
    assert "退款规则无效" in edited.content.decode()
    product.refresh_from_db()
    assert product.price_fen == 9800 and product.refund_policy["personal_reason_fee_rate"] == "0.05"


def test_an_admins_edit_joins_the_products_change_history(staff, make_user):
    from kameng.catalog.models import ProductChange

    staff.post("/admin/catalog/product/add/", _product_form(make_user))
    product = Product.objects.get()
    assert not ProductChange.objects.filter(product=product).exists()
    edited = staff.post(f"/admin/catalog/product/{product.id}/change/", _product_form(make_user, price="88.80"))
    assert edited.status_code == 302, edited.content.decode()[:2000]
    change = ProductChange.objects.get(product=product)
    assert change.actor.is_superuser or change.actor.role == "admin"
    assert change.changes["price"] == ["98.00", "88.80"]


@pytest.mark.parametrize("stored", [{"personal_reason_fee_rate": "0.50"}, {"refund_window_hours": None}, {"x": 1},
                                    ["list"], "text", 7])
def test_a_product_page_never_fails_on_a_stored_policy(make_product, make_user, stored):
    product = make_product(keys=1)
    Product.objects.filter(id=product.id).update(refund_policy=stored)  # written by hand, before the admin checked
    page = Client().get(f"/products/{product.id}/")
    assert page.status_code == 200
    assert "该商品的退款规则暂不可用，暂停销售。" in page.content.decode()
    assert f'href="/products/{product.id}/buy/"' not in page.content.decode()
    buyer = Client()
    buyer.force_login(make_user("buyer"))
    assert buyer.get(f"/products/{product.id}/buy/")["Location"] == f"/products/{product.id}/"
    assert buyer.post(f"/products/{product.id}/buy/", {"quantity": 1, "channel": "wallet",
                                                      "accept_terms": "on"}).status_code == 302
