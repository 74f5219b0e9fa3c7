"""Text fields of multipart bodies meet the same gate as url-encoded ones (kameng.core.middleware.TextGate).

The refund form with its evidence files, the supplier's key-file import and evidence uploads (page and API)
are multipart: a NUL, bytes that are not UTF-8 or a field too long is a clear 4xx that changes nothing,
never a 500 (a NUL reached PostgreSQL as a driver error) and never text nobody wrote stored with U+FFFD.
The bytes of the file parts are not text: a PNG full of NUL bytes is still taken. Runs on SQLite and
PostgreSQL.
"""

import io

import pytest
from PIL import Image

from kameng.aftersales.models import Evidence, Refund
from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import ImportBatch
from kameng.orders.services import order_create

pytestmark = pytest.mark.django_db

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"
BOUNDARY = "kameng-test-boundary"
HOSTILE = pytest.mark.parametrize("bad", [
    GOOD.encode() + b"\x00",  # a NUL byte
    GOOD.encode() + b"\xff\xfe",  # bytes that are not UTF-8 at all
    GOOD.encode() + b"\xed\xa0\x80",  # a surrogate written as UTF-8: not UTF-8 either
    GOOD.encode()[:-1],  # a character cut in half
], ids=["nul", "not-utf8", "encoded-surrogate", "truncated"])


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def multipart(fields, files=()) -> bytes:
    """A multipart/form-data body written byte by byte, as a hostile client would: (name, bytes) fields,
    (name, file name, bytes, content type) files."""
    out = b""
    for name, value in fields:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode() + value + b"\r\n")
    for name, file_name, data, content_type in files:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n"
                f"Content-Type: {content_type}\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def post(client, url, body, **headers):
    client.raise_request_exception = False
    return client.post(url, body, content_type=f"multipart/form-data; boundary={BOUNDARY}", headers=headers)


@pytest.fixture
def delivered(buyer, make_product, fund_wallet):
    product = make_product(keys=3, price="10.00")
    fund_wallet(buyer, 100_000)
    placed = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    run_queued_tasks()
    placed.refresh_from_db()
    return placed


@pytest.fixture
def refund(delivered, api_as, buyer):
    answer = api_as(buyer).post("/refunds", {"order_no": delivered.order_no, "reason": "invalid_key",
                                             "description": GOOD, "destination": "wallet"})
    assert answer.status_code == 201, answer.content
    return Refund.objects.get(id=answer.json()["id"])


def refund_form(order, description: bytes) -> bytes:
    item = order.items.get()
    return multipart([("items", str(item.id).encode()), ("reason", b"invalid_key"), ("description", description),
                      ("destination", b"wallet")], [("file", "screen.png", png(), "image/png")])


def counts():
    return Refund.objects.count(), Evidence.objects.count(), ImportBatch.objects.count()


# ---- the refund form, with its evidence file -------------------------------------------------------


def test_the_refund_form_with_a_file_still_works(client_as, buyer, delivered):
    response = post(client_as(buyer), f"/orders/{delivered.order_no}/refund/", refund_form(delivered, GOOD.encode()))
    assert response.status_code == 302, response.content[:300]
    assert Refund.objects.get().description == GOOD and Evidence.objects.filter(source="buyer").count() == 1


@HOSTILE
def test_hostile_text_in_the_refund_form_is_400_and_creates_nothing(client_as, buyer, delivered, bad):
    before = counts()
    response = post(client_as(buyer), f"/orders/{delivered.order_no}/refund/", refund_form(delivered, bad))
    assert response.status_code == 400, response.content[:300]
    assert "文本含有不允许的字符" in response.content.decode()
    assert counts() == before


def test_a_description_over_its_length_in_the_refund_form_is_422_and_creates_nothing(client_as, buyer, delivered):
    response = post(client_as(buyer), f"/orders/{delivered.order_no}/refund/", refund_form(delivered, b"x" * 4001))
    assert response.status_code == 422
    assert Refund.objects.count() == 0 and Evidence.objects.count() == 0


def test_text_fields_beyond_the_upload_memory_limit_are_413_and_create_nothing(client_as, buyer, delivered, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    before = counts()
    response = post(client_as(buyer), f"/orders/{delivered.order_no}/refund/",
                    refund_form(delivered, GOOD.encode() * 1000))
    assert response.status_code == 413, response.content[:300]
    assert counts() == before


# ---- evidence: the refund page's upload and the API ------------------------------------------------


@HOSTILE
def test_hostile_text_beside_an_evidence_upload_on_the_page_is_400(client_as, buyer, refund, bad):
    before = counts()
    body = multipart([("description", bad)], [("file", "screen.png", png(), "image/png")])
    response = post(client_as(buyer), f"/refunds/{refund.id}/evidence/", body)
    assert response.status_code == 400, response.content[:300]
    assert counts() == before


@HOSTILE
def test_hostile_text_beside_an_evidence_upload_through_the_api_is_400_invalid_text(api_as, buyer, refund, bad):
    api = api_as(buyer)
    before = counts()
    body = multipart([("description", bad)], [("file", "screen.png", png(), "image/png")])
    response = post(api.client, f"/api/v1/refunds/{refund.id}/evidence", body, **api.headers)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "INVALID_TEXT" and error["details"]["field"] == "form"
    assert error["details"]["problem"] == ("nul" if b"\x00" in bad else "not_utf8")
    assert counts() == before


def test_the_bytes_of_a_file_part_are_not_judged_as_text(api_as, buyer, refund):
    """A PNG is full of NUL bytes and bytes that are not UTF-8: it is evidence, not text."""
    api = api_as(buyer)
    data = png()
    assert b"\x00" in data
    body = multipart([("description", GOOD.encode())], [("file", "screen.png", data, "image/png")])
    response = post(api.client, f"/api/v1/refunds/{refund.id}/evidence", body, **api.headers)
    assert response.status_code == 201, response.content[:300]
    assert Evidence.objects.filter(refund=refund, source="buyer").count() == 1


def test_an_api_multipart_body_beyond_the_memory_limit_is_413(api_as, buyer, refund, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    api = api_as(buyer)
    before = counts()
    body = multipart([("description", b"x" * 100_000)], [("file", "screen.png", png(), "image/png")])
    response = post(api.client, f"/api/v1/refunds/{refund.id}/evidence", body, **api.headers)
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert counts() == before


def test_the_refusal_speaks_english_on_request(api_as, buyer, refund):
    api = api_as(buyer)
    body = multipart([("description", b"a\x00b")], [("file", "screen.png", png(), "image/png")])
    response = post(api.client, f"/api/v1/refunds/{refund.id}/evidence", body, **api.headers, **{"Accept-Language": "en"})
    assert response.json()["error"]["message"].startswith("The text contains")


# ---- the supplier's key-file import -----------------------------------------------------------------


def key_import(client, product, fields):
    return post(client, f"/supplier/products/{product.id}/import/",
                multipart(fields, [("file", "keys.txt", b"MP-KEY-1\nMP-KEY-2\n", "text/plain")]))


def test_the_key_import_page_still_takes_a_file(client_as, supplier, make_product):
    product = make_product()
    response = key_import(client_as(supplier), product, [])
    assert response.status_code == 302, response.content[:300]
    assert ImportBatch.objects.filter(product=product).count() == 1


@HOSTILE
def test_hostile_text_in_the_key_import_form_is_400_and_imports_nothing(client_as, supplier, make_product, bad):
    product = make_product()
    response = key_import(client_as(supplier), product, [("note", bad)])
    assert response.status_code == 400, response.content[:300]
    assert ImportBatch.objects.filter(product=product).count() == 0


def test_a_nul_in_a_field_name_is_refused_too(client_as, supplier, make_product):
    product = make_product()
    assert key_import(client_as(supplier), product, [("a\x00b", b"x")]).status_code == 400
    assert ImportBatch.objects.filter(product=product).count() == 0


# ---- a form where none is expected --------------------------------------------------------------------


def test_a_json_endpoint_sent_a_form_answers_4xx_not_500(api_as, buyer, delivered):
    api = api_as(buyer)
    body = multipart([("order_no", delivered.order_no.encode()), ("reason", b"invalid_key")])
    response = post(api.client, "/api/v1/refunds", body, **api.headers)
    assert 400 <= response.status_code < 500, response.content[:300]
    assert Refund.objects.count() == 0
    revealed = post(api.client, f"/api/v1/orders/{delivered.order_no}/reveal", multipart([("x", b"a\x00")]),
                    **api.headers)
    assert revealed.status_code == 400 and revealed.json()["error"]["code"] == "INVALID_TEXT"


def test_a_large_form_where_no_file_is_taken_is_413(api_as, buyer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    api = api_as(buyer)
    body = multipart([], [("file", "big.bin", b"\x00" * 100_000, "application/octet-stream")])
    response = post(api.client, "/api/v1/refunds", body, **api.headers)
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
