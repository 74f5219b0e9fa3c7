"""Bodies are refused from their declared size before a byte is read; evidence stops at its limit."""

import io
import json
import tracemalloc

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client

from kameng.aftersales import evidence
from kameng.core import body_limits


class Untouchable(io.RawIOBase):
    """A request body that must never be read."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = readinto = read


class Streamed(io.RawIOBase):
    """A large body made as it is read, so the test itself holds none of it: `head`, zeros, `tail`."""

    def __init__(self, head: bytes, zeros: int, tail: bytes):
        self.parts = [io.BytesIO(head), None, io.BytesIO(tail)]
        self.zeros = zeros

    def readable(self):
        return True

    def readinto(self, buffer):
        while self.parts:
            part = self.parts[0]
            if part is None:
                count = min(len(buffer), self.zeros)
                buffer[:count] = bytes(count)
                self.zeros -= count
            else:
                count = part.readinto(buffer)
            if count:
                return count
            self.parts.pop(0)
        return 0


def multipart_file(magic: bytes, size: int) -> tuple[Streamed, int, str]:
    head = (b'--B0undary\r\nContent-Disposition: form-data; name="file"; filename="shot.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + magic)
    tail = b"\r\n--B0undary--\r\n"
    zeros = size - len(magic)
    return Streamed(head, zeros, tail), len(head) + zeros + len(tail), "multipart/form-data; boundary=B0undary"


def wsgi_post(path, length, content_type="multipart/form-data; boundary=x", body=None, headers=None):
    """Calls the real WSGI application, as any WSGI server would, with a body nobody may read."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(length), "wsgi.input": body or Untouchable(), "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": True,
        "wsgi.multiprocess": True, "wsgi.run_once": False,
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()},
    }
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    # As Django's test client does: the test's transaction must outlive the request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        answer["body"] = b"".join(WSGIHandler()(environ, start_response))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return answer


@pytest.mark.django_db
def test_a_400_mb_body_to_the_public_notify_endpoint_is_refused_unread():
    answer = wsgi_post("/api/v1/payments/notify/sandbox", 400 * 1024 * 1024)
    assert answer["status"] == 413
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["message"] == "请求体过大。"


@pytest.mark.django_db
def test_notify_bodies_get_64_kb_and_evidence_its_own_room():
    assert wsgi_post("/api/v1/payments/notify/alipay", 64 * 1024 + 1)["status"] == 413
    assert wsgi_post("/api/v1/refunds/7/evidence", 60 * 1024 * 1024)["status"] == 413
    assert wsgi_post("/refunds/7/evidence/", 60 * 1024 * 1024)["status"] == 413
    page = wsgi_post("/supplier/products/1/import/", 100 * 1024 * 1024)
    assert page["status"] == 413 and "请求体过大" in page["body"].decode()
    assert wsgi_post("/api/v1/orders", 11 * 1024 * 1024, "application/json")["status"] == 413
    assert wsgi_post("/api/v1/orders", "12abc", "application/json")["status"] == 400
    # The room is what honest use needs: the largest evidence file fits, a gateway's form fits.
    assert body_limits.limit_for("/api/v1/refunds/7/evidence") > evidence.READ_LIMIT
    assert body_limits.limit_for("/api/v1/payments/notify/wechat") >= 16 * 1024


def png_header_then(size: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\0" * (size - 8)


@pytest.mark.django_db
def test_an_oversized_image_is_dropped_while_it_streams_in(refund_for, buyer):
    """A 40 MB "PNG" stops being received at 10 MB: old code held all 40 MB before checking."""
    api, refund = refund_for(buyer)
    body, length, content_type = multipart_file(b"\x89PNG\r\n\x1a\n", 40 * 1024 * 1024)
    tracemalloc.start()
    try:
        answer = wsgi_post(f"/api/v1/refunds/{refund['id']}/evidence", length, content_type, body=body,
                           headers=api.headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer["status"] == 413, answer["body"]
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "FILE_TOO_LARGE" and "10 MB" in error["detail"]
    assert peak < 4 * 1024 * 1024, f"{peak / 2**20:.0f} MB held while receiving a refused file"
    assert api.get(f"/refunds/{refund['id']}").json()["evidence"][-1]["source"] == "platform"  # nothing stored


@pytest.mark.django_db
def test_a_file_of_no_accepted_type_is_refused_at_its_first_chunk(refund_for, buyer):
    api, refund = refund_for(buyer)
    answer = Client().post(f"/api/v1/refunds/{refund['id']}/evidence",
                           {"file": io.BytesIO(b"MZ\x90\x00" + b"\x00" * (3 * 1024 * 1024))}, headers=api.headers)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "UNSUPPORTED_FILE_TYPE"
    text = "卡密无效的说明。".encode() * 10
    kept = Client().post(f"/api/v1/refunds/{refund['id']}/evidence", {"file": io.BytesIO(text)}, headers=api.headers)
    assert kept.status_code == 201, kept.content


@pytest.mark.django_db
def test_the_refund_page_refuses_an_oversized_file_with_a_message(refund_for, buyer):
    _, refund = refund_for(buyer)
    pages = Client()
    pages.force_login(buyer)
    answer = pages.post(f"/refunds/{refund['id']}/evidence/", {"file": io.BytesIO(png_header_then(11 * 1024 * 1024))},
                        follow=True)
    assert answer.status_code == 200
    assert "文件过大" in answer.content.decode()


@pytest.fixture
def refund_for(api_as, make_product, fund_wallet):
    def make(buyer):
        product = make_product(price="10.00", keys=3)
        fund_wallet(buyer, 10_000)
        api = api_as(buyer)
        order = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet",
                                     "accept_terms": True}).json()
        api.post(f"/orders/{order['order_no']}/reveal")
        refund = api.post("/refunds", {"order_no": order["order_no"], "reason": "invalid_key", "destination": "wallet",
                                       "description": "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"})
        assert refund.status_code == 201, refund.content
        return api, refund.json()

    return make
