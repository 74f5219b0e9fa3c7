import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tasks_db.models import DBTaskResult

from kameng.catalog.models import Product
from kameng.core.errors import Conflict
from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import CardSecret, ImportBatch
from kameng.orders.models import Order
from kameng.web.tasks import import_key_file

# The database first, so it outlives every other fixture of the test (the ledger check among them).
pytestmark = pytest.mark.django_db


def test_supplier_pages_forbid_buyers_and_need_login(client, client_as, buyer, make_product):
    product = make_product(keys=1)
    as_buyer = client_as(buyer)
    for url in ["/supplier/products/", "/supplier/products/new/", f"/supplier/products/{product.id}/import/",
                "/supplier/manual/"]:
        assert as_buyer.get(url).status_code == 403, url
        assert client.get(url).status_code == 302, url


def test_my_products_show_only_mine_with_stock(client_as, supplier, make_user, make_product):
    mine = make_product(keys=4)
    other = make_product(keys=1, owner=make_user("supplier"))
    page = client_as(supplier).get("/supplier/products/").content.decode()
    assert mine.name in page and other.name not in page
    assert re.search(r'<td class="num stock"[^>]*>4', page)


def test_create_a_product(client_as, supplier):
    client = client_as(supplier)
    assert client.get("/supplier/products/new/").status_code == 200
    data = {"name": "测试点卡", "kind": "card", "price": "9.90", "face_value": "10.00", "delivery_promise_minutes": 5,
            "refund_window_hours": 24, "personal_reason_fee_rate": "0.03", "review_sla_workdays": 3,
            "appeal_window_days": 7, "info_reply_hours": 24, "description": ""}
    response = client.post("/supplier/products/new/", data)
    assert response.status_code == 302
    product = Product.objects.get(name="测试点卡")
    assert product.supplier == supplier and product.price_fen == 990
    assert product.refund_policy["refund_window_hours"] == 24
    bad = client.post("/supplier/products/new/", {**data, "price": "0", "personal_reason_fee_rate": "0.5"})
    assert bad.status_code == 422 and Product.objects.count() == 1


def test_import_a_key_file_in_the_background(client_as, supplier, make_product):
    product = make_product(keys=1)  # KEY-<id>-000000 is in stock already
    client = client_as(supplier)
    imports = Path(settings.MEDIA_ROOT) / "imports"
    before = set(imports.iterdir()) if imports.exists() else set()  # other tests' uploads may wait there
    body = f"NEW-A\nNEW-B\n\nKEY-{product.id}-000000\r\nNEW-C".encode()
    response = client.post(f"/supplier/products/{product.id}/import/", {"file": SimpleUploadedFile("k.txt", body)})
    assert response.status_code == 302
    batch = ImportBatch.objects.get(source="page")
    assert response["Location"] == f"/supplier/imports/{batch.id}/"
    assert batch.total_lines == 5 and batch.status == "running"
    stored = list(set(imports.iterdir()) - before)
    assert len(stored) == 1
    progress = client.get(response["Location"]).content.decode()
    assert "import-progress.js" in progress
    assert run_queued_tasks() >= 1
    status = client.get(f"/supplier/imports/{batch.id}/status/").json()
    assert status == {**status, "status": "done", "total": 5, "processed": 5, "imported": 3, "duplicates": 1,
                      "rejected": 1}
    assert not os.path.exists(stored[0])
    assert CardSecret.objects.filter(product=product).count() == 4
    assert "NEW-A" not in client.get(response["Location"]).content.decode()


def test_import_refusals_are_shown_or_404(client_as, supplier, make_user, make_product):
    client = client_as(supplier)
    other = make_product(keys=0, owner=make_user("supplier"))
    upload = SimpleUploadedFile("k.txt", b"X-1\n")
    assert client.post(f"/supplier/products/{other.id}/import/", {"file": upload}).status_code == 404
    topup = make_product(kind="topup")
    response = client.post(f"/supplier/products/{topup.id}/import/", {"file": SimpleUploadedFile("k.txt", b"X-1\n")})
    assert response.status_code == 409 and "只有卡密" in response.content.decode()
    assert not ImportBatch.objects.exists()
    assert client.post(f"/supplier/products/{topup.id}/import/", {}).status_code == 422


def test_someone_elses_import_is_404(client_as, supplier, make_user, make_product):
    product = make_product(keys=0)
    client_as(supplier).post(f"/supplier/products/{product.id}/import/", {"file": SimpleUploadedFile("k.txt", b"A\n")})
    batch = ImportBatch.objects.get()
    other = client_as(make_user("supplier"))
    assert other.get(f"/supplier/imports/{batch.id}/").status_code == 404
    assert other.get(f"/supplier/imports/{batch.id}/status/").status_code == 404


def test_manual_delivery(client_as, supplier, buyer, make_product):
    product = make_product(kind="card", is_manual=True)
    shopper = client_as(buyer)
    response = shopper.post(f"/products/{product.id}/buy/", {"quantity": 2, "channel": "alipay", "accept_terms": "on"})
    shopper.post(response["Location"])
    order = Order.objects.get()
    assert order.status == "paid"
    client = client_as(supplier)
    page = client.get("/supplier/manual/").content.decode()
    assert order.order_no in page
    url = f"/supplier/manual/{order.order_no}/deliver/"
    short = client.post(url, {f"{order.order_no}-content_1": "CODE-1"}, follow=True)
    assert "请为每件商品填写发货内容" in short.content.decode()
    response = client.post(url, {f"{order.order_no}-content_1": "CODE-1", f"{order.order_no}-content_2": "CODE-2"},
                           follow=True)
    assert response.status_code == 200 and "已发货" in response.content.decode()
    assert "CODE-1" not in response.content.decode()
    order.refresh_from_db()
    assert order.status == "delivered"
    again = client.post(url, {f"{order.order_no}-content_1": "X", f"{order.order_no}-content_2": "Y"}, follow=True)
    assert "不在待发货状态" in again.content.decode()
    revealed = shopper.post(f"/orders/{order.order_no}/reveal/", {"confirmed": "1"}).content.decode()
    assert "CODE-1" in revealed and "CODE-2" in revealed


def test_manual_delivery_of_a_duplicate_content_is_a_message(client_as, supplier, buyer, make_product):
    stocked = make_product(keys=1)
    product = make_product(kind="card", is_manual=True)
    shopper = client_as(buyer)
    response = shopper.post(f"/products/{product.id}/buy/", {"quantity": 1, "channel": "alipay", "accept_terms": "on"})
    shopper.post(response["Location"])
    order = Order.objects.get()
    response = client_as(supplier).post(f"/supplier/manual/{order.order_no}/deliver/",
                                        {f"{order.order_no}-content_1": f"KEY-{stocked.id}-000000"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "不能重复使用" in page and f"KEY-{stocked.id}" not in page


def test_an_import_refused_when_it_runs_fails_visibly_and_removes_the_file(client_as, supplier, make_product):
    product = make_product(keys=0)
    client = client_as(supplier)
    client.post(f"/supplier/products/{product.id}/import/", {"file": SimpleUploadedFile("k.txt", b"LATE-1\n")})
    batch = ImportBatch.objects.get()
    Product.objects.filter(id=product.id).update(is_manual=True)  # changed before the worker got to it
    batch_id, path = DBTaskResult.objects.get().args_kwargs["args"]
    assert batch_id == batch.id and os.path.exists(path)
    with pytest.raises(Conflict):
        import_key_file.call(batch_id, path)
    status = client.get(f"/supplier/imports/{batch.id}/status/").json()
    assert status["status"] == "failed" and status["error"] == "PRODUCT_NOT_STOCKED"
    assert not os.path.exists(path)
    assert not CardSecret.objects.exists()
