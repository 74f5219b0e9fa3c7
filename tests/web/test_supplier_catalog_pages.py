"""The supplier's catalogue pages: edit (the creation's checks, said at the field), 上架/下架, the change
history, and the import report with its CSV download — never a key."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kameng.catalog.models import Product, ProductChange
from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import ImportBatch

pytestmark = pytest.mark.django_db

FORM = {"name": "王者荣耀点券 60", "description": "全国通用", "price": "5.80", "face_value": "6.00",
        "delivery_promise_minutes": 5, "refund_window_hours": 72, "personal_reason_fee_rate": "0.05",
        "review_sla_workdays": 3, "appeal_window_days": 7, "info_reply_hours": 24, "supplier_reply_hours": 24,
        "late_delivery_compensation_rate": "0.00"}


def test_the_edit_page_shows_the_terms_and_saves_a_new_price_for_new_orders(client_as, supplier, make_product):
    product = make_product(price="5.00")
    client = client_as(supplier)
    page = client.get(f"/supplier/products/{product.id}/edit/")
    assert page.status_code == 200
    assert 'value="5.00"' in page.content.decode()
    saved = client.post(f"/supplier/products/{product.id}/edit/", FORM, follow=True)
    assert saved.status_code == 200 and "只适用于此后的新订单" in saved.content.decode()
    product.refresh_from_db()
    assert product.price_fen == 580 and product.name == "王者荣耀点券 60"
    change = ProductChange.objects.get(product=product, event="edited")
    assert change.actor == supplier and change.changes["price"] == ["5.00", "5.80"]
    history = saved.content.decode()
    assert "¥5.00" in history and "¥5.80" in history  # old → new, in the change history


@pytest.mark.parametrize("field, value, words", [
    ("price", "0", "售价须大于 0 元"),
    ("price", "-3.00", "售价须大于 0 元"),
    ("price", "5.555", "最多两位小数"),
    ("personal_reason_fee_rate", "0.50", "0.00 到 0.10"),
    ("refund_window_hours", "0", "1 到 2160"),
])
def test_bad_terms_are_refused_at_their_field_with_422_and_nothing_changes(client_as, supplier, make_product,
                                                                            field, value, words):
    product = make_product(price="5.00")
    response = client_as(supplier).post(f"/supplier/products/{product.id}/edit/", {**FORM, field: value})
    assert response.status_code == 422
    body = response.content.decode()
    assert words in body and 'class="field has-error"' in body
    product.refresh_from_db()
    assert product.price_fen == 500 and product.name != FORM["name"]
    assert not ProductChange.objects.filter(product=product, event="edited").exists()


def test_creation_refuses_a_fifty_percent_fee_at_its_field(client_as, supplier):
    response = client_as(supplier).post("/supplier/products/new/", {**FORM, "kind": "card",
                                                                    "personal_reason_fee_rate": "0.5"})
    assert response.status_code == 422 and "0.00 到 0.10" in response.content.decode()
    assert not Product.objects.exists()


def test_someone_elses_product_cannot_be_edited_or_taken_off_sale(client_as, supplier, make_user, make_product):
    product = make_product(owner=make_user("supplier"))
    client = client_as(supplier)
    assert client.get(f"/supplier/products/{product.id}/edit/").status_code == 404
    assert client.post(f"/supplier/products/{product.id}/edit/", FORM).status_code == 404
    assert client.post(f"/supplier/products/{product.id}/sale/", {"on_sale": "0"}).status_code == 404
    product.refresh_from_db()
    assert product.is_active and product.price_fen == 1000
    assert client.get(f"/supplier/products/{product.id}/sale/").status_code == 405


def test_off_sale_and_back_from_the_list(client, client_as, supplier, make_product):
    product = make_product(keys=2)
    page = client_as(supplier)
    off = page.post(f"/supplier/products/{product.id}/sale/", {"on_sale": "0"}, follow=True)
    assert "已下架" in off.content.decode()
    assert client.get(f"/products/{product.id}/").status_code == 404
    assert product.name not in client.get("/").content.decode()
    back = page.post(f"/supplier/products/{product.id}/sale/", {"on_sale": "1", "back": "edit"})
    assert back["Location"] == f"/supplier/products/{product.id}/edit/"
    assert client.get(f"/products/{product.id}/").status_code == 200
    page.post(f"/supplier/products/{product.id}/sale/", {})  # neither on nor off: nothing changes
    assert Product.objects.get(id=product.id).is_active


def test_the_import_report_lists_line_numbers_and_downloads_as_csv_without_keys(client_as, supplier, make_product):
    product = make_product(keys=1)  # KEY-<id>-000000 is in stock already
    client = client_as(supplier)
    body = f"SECRET-A\n\nSECRET-B\nSECRET-A\nKEY-{product.id}-000000\n\x01BAD\nSECRET-C\n".encode()
    client.post(f"/supplier/products/{product.id}/import/", {"file": SimpleUploadedFile("k.txt", body)})
    batch = ImportBatch.objects.get(source="page")
    waiting = client.get(f"/supplier/imports/{batch.id}/").content.decode()
    assert "导入完成后" in waiting
    run_queued_tasks()
    page = client.get(f"/supplier/imports/{batch.id}/").content.decode()
    for line, reason in ((2, "空行"), (4, "与本次导入中前面的行重复"), (5, "平台上已有该卡密"), (6, "含有不可见或控制字符")):
        assert f'data-first="{line}"' in page and reason in page
    assert "SECRET" not in page and f"KEY-{product.id}" not in page
    csv = client.get(f"/supplier/imports/{batch.id}/report.csv")
    assert csv.status_code == 200 and "attachment" in csv["Content-Disposition"]
    text = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert text.splitlines() == ["行号,原因", "2,空行", "4,与本次导入中前面的行重复", "5,平台上已有该卡密",
                                 "6,含有不可见或控制字符"]
    assert "SECRET" not in text
    # The list of imports links every report; another supplier's report is 404.
    assert f"/supplier/imports/{batch.id}/" in client.get("/supplier/products/").content.decode()
    assert f"/supplier/imports/{batch.id}/" in client.get(f"/supplier/products/{product.id}/import/").content.decode()
    from kameng.accounts.services import user_create

    other = client_as(user_create(username="other-supplier", password="secret123", role="supplier"))
    assert other.get(f"/supplier/imports/{batch.id}/report.csv").status_code == 404


def test_an_english_csv_says_its_reasons_in_english(client_as, supplier, make_product):
    product = make_product()
    client = client_as(supplier)
    client.post(f"/supplier/products/{product.id}/import/", {"file": SimpleUploadedFile("k.txt", b"A-1\n\nA-1\n")})
    run_queued_tasks()
    batch = ImportBatch.objects.get(source="page")
    csv = client.get(f"/supplier/imports/{batch.id}/report.csv", headers={"Accept-Language": "en"})
    text = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "Line,Reason" and "Empty line" in text


def test_the_catalogue_pages_need_a_supplier(client, client_as, buyer, supplier, make_product):
    product = make_product(keys=1)
    batch = ImportBatch.objects.get(product=product)
    as_buyer = client_as(buyer)
    for url in (f"/supplier/products/{product.id}/edit/", f"/supplier/imports/{batch.id}/report.csv"):
        assert as_buyer.get(url).status_code == 403, url
        assert client.get(url).status_code == 302, url
    assert as_buyer.post(f"/supplier/products/{product.id}/sale/", {"on_sale": "0"}).status_code == 403
    assert Product.objects.get(id=product.id).is_active
