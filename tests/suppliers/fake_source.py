"""A fake goods source over real HTTP speaking KSP/1, written from docs/supplier-protocol.md (not from our adapter).

It checks every request's HMAC-SHA256 signature (API secret), freshness and nonce; dedupes orders on
`out_order_no`; signs every answer (notify secret) bound to the request's nonce; and sends result
callbacks signed with the notify secret. Modes make it hang, answer garbage or sign with the wrong key.
"""

import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MERCHANT = "M10086"
API_SECRET = "api-secret-7f3c9a1e5b2d4f60"
NOTIFY_SECRET = "notify-secret-2b8e6d4c0a9f1357"


def sign(secret: str, purpose: str, merchant: str, ts: str, nonce: str, body: bytes) -> str:
    text = "\n".join(["KSP1", purpose, merchant, ts, nonce, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def signed_headers(secret: str, purpose: str, body: bytes, *, merchant=MERCHANT, ts=None, nonce=None) -> dict:
    ts = ts or str(int(time.time()))
    nonce = nonce or secrets.token_hex(16)
    return {"Content-Type": "application/json; charset=utf-8", "X-KSP-Merchant": merchant, "X-KSP-Timestamp": ts,
            "X-KSP-Nonce": nonce, "X-KSP-Signature": sign(secret, purpose, merchant, ts, nonce, body)}


class FakeSource:
    PURPOSES = {"/v1/order/submit": "order.submit", "/v1/order/query": "order.query",
                "/v1/balance/query": "balance.query"}

    def __init__(self):
        self.mode = "normal"  # normal | timeout | garbage | bad_signature | busy
        self.orders: dict[str, dict] = {}
        self.balance = 123_456  # fen
        self.seen_nonces: set[str] = set()
        self.refusals: list[str] = []  # codes we answered with
        self.release = threading.Event()
        self.calls: list[str] = []
        self.submit_code = "0000"
        self.instant_cards: list | None = None  # answer a card order at once, with these keys
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                fake.calls.append(self.path)
                if fake.mode == "timeout":
                    fake.release.wait(3)
                    return
                fake.serve(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/ksp"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # ---- the supplier's side of the protocol ------------------------------------------------------

    def _refuse(self, code: str) -> tuple[str, dict]:
        self.refusals.append(code)
        return code, {}

    def _check(self, handler, body: bytes, purpose: str) -> str | None:
        h = handler.headers
        ts, nonce, got = h.get("X-KSP-Timestamp", ""), h.get("X-KSP-Nonce", ""), h.get("X-KSP-Signature", "")
        if h.get("X-KSP-Merchant") != MERCHANT:
            return "1004"
        if not hmac.compare_digest(sign(API_SECRET, purpose, MERCHANT, ts, nonce, body), got):
            return "1001"
        if abs(time.time() - int(ts)) > 300:
            return "1002"
        if nonce in self.seen_nonces:
            return "1003"
        self.seen_nonces.add(nonce)
        return None

    def serve(self, handler, body: bytes) -> None:
        path = handler.path.removeprefix("/ksp")
        purpose = self.PURPOSES.get(path)
        request_nonce = handler.headers.get("X-KSP-Nonce", "")
        if purpose is None:
            code, data = "1005", {}
        elif (problem := self._check(handler, body, purpose)) is not None:
            code, data = self._refuse(problem)
        else:
            code, data = self.answer(purpose, json.loads(body))
        if self.mode == "garbage":
            raw = b"<html>502 Bad Gateway</html>"
        else:
            raw = json.dumps({"code": code, "message": "ok" if code == "0000" else "refused", "data": data}).encode()
        if self.mode == "busy":
            raw = json.dumps({"code": "9999", "message": "system busy"}).encode()
        secret = "some-other-secret-entirely" if self.mode == "bad_signature" else NOTIFY_SECRET
        headers = signed_headers(secret, f"answer:{request_nonce}", raw)
        handler.send_response(200)
        for name, value in {**headers, "Content-Length": str(len(raw))}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)

    def answer(self, purpose: str, request: dict) -> tuple[str, dict]:
        if purpose == "balance.query":
            return "0000", {"balance": f"{self.balance // 100}.{self.balance % 100:02d}"}
        order_no = request.get("out_order_no", "")
        if purpose == "order.query":
            order = self.orders.get(order_no)
            return ("0000", self._public(order)) if order else self._refuse("3001")
        if self.submit_code != "0000":
            return self._refuse(self.submit_code)
        order = self.orders.get(order_no)
        if order is None:  # deduped on our order number
            order = {**request, "order_no": "S" + secrets.token_hex(6).upper(), "status": "processing", "cards": []}
            if self.instant_cards is not None:
                order.update(status="success", cards=self.instant_cards)
            self.orders[order_no] = order
        return "0000", self._public(order)

    @staticmethod
    def _public(order: dict) -> dict:
        data = {key: order[key] for key in ("out_order_no", "order_no", "status", "face_value", "quantity")}
        if order["cards"]:
            data["cards"] = order["cards"]
        return data

    # ---- results ---------------------------------------------------------------------------------

    def finish(self, order_no: str, status: str, cards: list | None = None) -> None:
        order = self.orders[order_no]
        order["status"] = status
        order["cards"] = cards or []

    def callback_body(self, order_no: str, **change) -> bytes:
        data = {**self._public(self.orders[order_no]), **change}
        return json.dumps(data, ensure_ascii=False).encode()

    def notify(self, order_no: str, *, body: bytes | None = None, secret: str = NOTIFY_SECRET, **header_kw):
        """Send the order's result callback to the notify URL it gave us; (HTTP status, answer JSON)."""
        order = self.orders[order_no]
        body = body if body is not None else self.callback_body(order_no)
        headers = signed_headers(secret, "notify", body, **header_kw)
        return post(order["notify_url"], body, headers)


def post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
