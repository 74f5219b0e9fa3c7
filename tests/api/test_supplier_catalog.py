"""A supplier runs its own catalogue through the API: edit, price change (new orders only), 上架/下架, refund
rules through the creation's checks, a change history, and a report of every key import."""

from datetime import timedelta

import pytest

from kameng.catalog.models import Product, ProductChange
from kameng.catalog.policies import refund_policy_validated
from kameng.core import clock
from kameng.core.errors import Invalid
from kameng.orders.models import Order

pytestmark = pytest.mark.django_db


def _create(api, **extra):
    body = {"name": "腾讯 Q 币 10 元", "kind": "card", "price": "9.80", "face_value": "10.00", **extra}
    response = api.post("/admin/products", body)
    assert response.status_code == 201, response.content
    return response.json()


def _buy(api_as, buyer, product_id):
    response = api_as(buyer).post("/orders", {"product_id": product_id, "quantity": 1, "channel": "wallet",
                                              "accept_terms": True})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_price_change_applies_to_new_orders_only(api_as, supplier, buyer, fund_wallet):
    fund_wallet(buyer, 100_000)
    api = api_as(supplier)
    product = _create(api, refund_policy={"refund_window_hours": 48})
    api.post(f"/admin/products/{product['id']}/keys", {"keys": ["OLD-1", "OLD-2"]})
    before = _buy(api_as, buyer, product["id"])

    changed = api.patch(f"/admin/products/{product['id']}", {"price": "12.50",
                                                            "refund_policy": {"personal_reason_fee_rate": "0.02"}})
    assert changed.status_code == 200, changed.content
    assert changed.json()["price"] == "12.50"
    # A rule left out keeps its value: the 48-hour window stays.
    assert changed.json()["refund_policy"]["refund_window_hours"] == 48
    assert changed.json()["refund_policy"]["personal_reason_fee_rate"] == "0.02"
    assert api_as().get(f"/products/{product['id']}").json()["price"] == "12.50"

    after = _buy(api_as, buyer, product["id"])
    assert before["amount"] == "9.80" and after["amount"] == "12.50"
    first = Order.objects.get(order_no=before["order_no"])
    assert first.unit_price_fen == 980 and first.snapshot["price"] == "9.80"
    assert first.snapshot["refund_policy"]["personal_reason_fee_rate"] == "0.05"
    assert api_as(buyer).get(f"/orders/{before['order_no']}").json()["amount"] == "9.80"


@pytest.mark.parametrize("price", ["0", "0.00", "-1.00", "9.999", "1e3", "abc", 0, -5])
def test_a_price_of_zero_negative_or_three_places_is_refused_and_nothing_changes(api_as, supplier, price):
    api = api_as(supplier)
    product = _create(api)
    response = api.patch(f"/admin/products/{product['id']}", {"price": price, "name": "改过的名字"})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "INVALID_AMOUNT"
    assert response.json()["error"]["details"]["field"] == "price"
    stored = Product.objects.get(id=product["id"])
    assert stored.price_fen == 980 and stored.name == "腾讯 Q 币 10 元"
    assert not ProductChange.objects.filter(product=stored, event="edited").exists()


def test_a_float_price_is_refused_by_the_schema(api_as, supplier):
    api = api_as(supplier)
    product = _create(api)
    response = api.patch(f"/admin/products/{product['id']}", {"price": 9.8})
    assert response.status_code == 422 and Product.objects.get(id=product["id"]).price_fen == 980


@pytest.mark.parametrize("policy, field", [
    ({"personal_reason_fee_rate": "0.50"}, "personal_reason_fee_rate"),
    ({"personal_reason_fee_rate": 0.05}, "personal_reason_fee_rate"),
    ({"refund_window_hours": "72"}, "refund_window_hours"),
    ({"refund_window_hours": 0}, "refund_window_hours"),
    ({"late_delivery_compensation_rate": "0.9"}, "late_delivery_compensation_rate"),
    ({"surprise": 1}, "refund_policy"),
    ([1, 2], "refund_policy"),
])
def test_refund_rules_are_edited_through_the_creation_checks(api_as, supplier, policy, field):
    api = api_as(supplier)
    product = _create(api)
    response = api.patch(f"/admin/products/{product['id']}", {"refund_policy": policy})
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] in ("INVALID_REFUND_POLICY", "VALIDATION_ERROR")
    if error["code"] == "INVALID_REFUND_POLICY":
        assert error["details"]["field"] == field
    # The same rules refuse it at creation, and the one validator the admin calls refuses it too.
    created = api.post("/admin/products", {"name": "x", "kind": "card", "price": "1.00", "refund_policy": policy})
    assert created.status_code == 422
    with pytest.raises(Invalid):
        refund_policy_validated(policy)
    assert api_as().get(f"/products/{product['id']}").json()["refund_policy"]["personal_reason_fee_rate"] == "0.05"


def test_another_suppliers_product_is_404_for_every_change(api_as, supplier, make_user, make_product):
    product = make_product(keys=1)
    other = api_as(make_user("supplier"))
    for call in (lambda: other.get(f"/admin/products/{product.id}"),
                 lambda: other.patch(f"/admin/products/{product.id}", {"price": "1.00"}),
                 lambda: other.post(f"/admin/products/{product.id}/off-sale"),
                 lambda: other.get(f"/admin/products/{product.id}/changes"),
                 lambda: other.get(f"/admin/products/{product.id}/as-of?at=2026-11-24T10:00:00%2B08:00")):
        response = call()
        assert response.status_code == 404 and response.json()["error"]["code"] == "PRODUCT_NOT_FOUND"
    assert api_as(make_user("buyer")).patch(f"/admin/products/{product.id}", {"price": "1.00"}).status_code == 403
    assert Product.objects.get(id=product.id).price_fen == 1000 and Product.objects.get(id=product.id).is_active


def test_off_sale_hides_and_stops_sales_on_sale_brings_it_back(api_as, supplier, buyer, fund_wallet):
    fund_wallet(buyer, 10_000)
    api = api_as(supplier)
    product = _create(api)
    api.post(f"/admin/products/{product['id']}/keys", {"keys": ["K-1", "K-2"]})
    off = api.post(f"/admin/products/{product['id']}/off-sale")
    assert off.status_code == 200 and off.json()["on_sale"] is False
    assert api.post(f"/admin/products/{product['id']}/off-sale").json()["on_sale"] is False  # again: no change
    assert api_as().get("/products").json() == []
    assert api_as().get(f"/products/{product['id']}").status_code == 404
    refused = api_as(buyer).post("/orders", {"product_id": product["id"], "quantity": 1, "channel": "wallet",
                                             "accept_terms": True})
    assert refused.status_code == 404
    # The supplier still sees it, with its stock, marked off sale.
    mine = api.get(f"/admin/products/{product['id']}").json()
    assert mine["on_sale"] is False and mine["stock"] == 2
    assert api.post(f"/admin/products/{product['id']}/on-sale").json()["on_sale"] is True
    assert _buy(api_as, buyer, product["id"])["status"] == "delivered"
    events = [c["event"] for c in api.get(f"/admin/products/{product['id']}/changes").json()]
    assert events == ["on_sale", "off_sale", "created"]  # the repeated 下架 recorded nothing


def test_changes_say_who_when_and_old_to_new_and_the_page_can_be_read_as_it_was(api_as, supplier, reviewer):
    api = api_as(supplier)
    product = _create(api, description="全国通用")
    created_at = clock.now()
    clock_moment = created_at + timedelta(seconds=1)
    api.patch(f"/admin/products/{product['id']}", {"description": "仅限安卓区", "price": "9.90"})
    api.patch(f"/admin/products/{product['id']}", {"price": "9.90"})  # the same price: nothing recorded
    changes = api.get(f"/admin/products/{product['id']}/changes").json()
    assert [c["event"] for c in changes] == ["edited", "created"]
    assert changes[0]["actor"] == f"supplier:{supplier.username}"
    assert changes[0]["changes"] == {"description": {"old": "全国通用", "new": "仅限安卓区"},
                                     "price": {"old": "9.80", "new": "9.90"}}
    assert changes[0]["at"].endswith("+08:00")
    # A reviewer deciding a dispute reads the page as it stood before the edit.
    change = ProductChange.objects.get(product_id=product["id"], event="edited")
    before = (change.at - timedelta(microseconds=1)).isoformat().replace("+", "%2B")
    as_of = api_as(reviewer).get(f"/admin/products/{product['id']}/as-of?at={before}").json()
    assert as_of["existed"] and as_of["terms"]["description"] == "全国通用" and as_of["terms"]["price"] == "9.80"
    now = api_as(reviewer).get(f"/admin/products/{product['id']}/as-of?at={clock_moment.isoformat().replace('+', '%2B')}")
    assert now.status_code == 200
    naive = api.get(f"/admin/products/{product['id']}/as-of?at=2026-11-24T10:00:00")
    assert naive.status_code == 422 and naive.json()["error"]["code"] == "INVALID_TIME"


def test_a_stored_policy_that_does_not_validate_never_breaks_the_product_page(api_as, client, supplier):
    api = api_as(supplier)
    product = _create(api)
    Product.objects.filter(id=product["id"]).update(refund_policy={"personal_reason_fee_rate": "0.50"})
    assert api_as().get(f"/products/{product['id']}").json()["refund_policy"] is None
    page = client.get(f"/products/{product['id']}/")
    assert page.status_code == 200 and "暂停销售" in page.content.decode()
    # Fixing the rules through the edit replaces what cannot be read.
    fixed = api.patch(f"/admin/products/{product['id']}", {"refund_policy": {"personal_reason_fee_rate": "0.05"}})
    assert fixed.status_code == 200 and fixed.json()["refund_policy"]["refund_window_hours"] == 72


def test_the_key_import_answer_links_a_report_of_line_numbers_never_keys(api_as, supplier, make_user, make_product):
    taken = make_product(keys=1, owner=make_user("supplier"))  # KEY-<id>-000000 is on the platform
    api = api_as(supplier)
    product = _create(api)
    keys = ["NEW-1", "", f"KEY-{taken.id}-000000", "NEW-1", 42, "NEW-2", "NEW-2", "NEW-2"]
    answer = api.post(f"/admin/products/{product['id']}/keys", {"keys": keys}).json()
    assert answer["imported"] == 2 and answer["duplicates"] == 4 and answer["rejected"] == 2
    report = api.get(answer["report_url"].removeprefix("/api/v1"))
    assert report.status_code == 200, report.content
    runs = [(r["first_line"], r["last_line"], r["problem"]) for r in report.json()["problems"]]
    assert runs == [(2, 2, "empty"), (3, 3, "already_on_platform"), (4, 4, "duplicate_in_import"),
                    (5, 5, "not_a_string"), (7, 8, "duplicate_in_import")]
    assert report.json()["problems_complete"] is True
    csv = api.get(answer["report_csv_url"].removeprefix("/api/v1"))
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "行号,原因"
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == ["2", "3", "4", "5", "7", "8"]
    for secret in ("NEW-1", "NEW-2", f"KEY-{taken.id}"):
        assert secret not in report.content.decode() and secret not in text
    # Someone else's report is 404; a buyer's try is 403.
    assert api_as(make_user("supplier")).get(f"/admin/imports/{answer['report_id']}").status_code == 404
    assert api_as(make_user("buyer")).get(f"/admin/imports/{answer['report_id']}").status_code == 403


def test_a_re_imported_file_is_one_run_however_long(supplier, make_product):
    from kameng.inventory.importing import import_lines
    from kameng.inventory.models import ImportProblem
    from kameng.inventory.services import batch_start, keys_import_stream

    product = make_product()
    lines = [f"RUN-{i:05d}" for i in range(2500)] + ["", ""]
    keys_import_stream(actor=supplier, product_id=product.id, lines=iter(lines), source="cli")
    batch = batch_start(actor=supplier, product=product, source="cli")
    result = import_lines(batch=batch, lines=iter(lines), chunk_size=1000)  # three chunks: the run goes on
    assert result.duplicates == 2500 and result.rejected == 2
    assert list(ImportProblem.objects.filter(batch=batch).order_by("first_line")
                .values_list("first_line", "last_line", "problem")) == [(1, 2500, "already_on_platform"),
                                                                        (2501, 2502, "empty")]


def test_a_change_saved_elsewhere_is_recorded_through_the_same_history(admin, make_product):
    from kameng.catalog.services import product_change_record, terms_state

    product = make_product(price="10.00")
    before = terms_state(product)
    product.price_fen, product.is_active = 1250, False
    product.save()
    change = product_change_record(actor=admin, product=product, before=before)
    assert change.event == "edited" and change.changes == {"price": ["10.00", "12.50"], "on_sale": [True, False]}
    assert product_change_record(actor=admin, product=product, before=terms_state(product)) is None


def test_a_broken_stored_policy_refuses_new_orders_with_409_and_the_case_page_still_opens(
        api_as, buyer, reviewer, make_product, fund_wallet):
    from django.test import Client

    from kameng.aftersales.services import refund_create

    fund_wallet(buyer, 10_000)
    product = make_product(keys=3)
    bought = _buy(api_as, buyer, product.id)
    refund = refund_create(buyer=buyer, order_no=bought["order_no"], reason="invalid_key", destination="wallet",
                           description="兑换页面提示“该卡密无效”，时间 11 月 20 日 21:05，截图稍后上传。")
    Product.objects.filter(id=product.id).update(refund_policy={"personal_reason_fee_rate": "0.50"})
    refused = api_as(buyer).post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet",
                                             "accept_terms": True})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "REFUND_POLICY_BROKEN"
    assert Order.objects.filter(product=product).count() == 1
    staff = Client()
    staff.force_login(reviewer)
    case = staff.get(f"/staff/refunds/{refund.id}/")
    assert case.status_code == 200 and "当前退款规则无法读取" in case.content.decode()
