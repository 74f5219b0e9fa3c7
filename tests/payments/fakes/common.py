"""What the fake gateways share: RSA keys made for the test, and a threaded HTTP server on 127.0.0.1:0."""

import base64
import io
import threading
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> "KeyPair":
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode("ascii")

    @property
    def public_pem(self) -> str:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")

    def sign(self, message: str) -> str:
        """SHA256withRSA (PKCS#1 v1.5), base64: what both Alipay RSA2 and WeChat Pay v3 use."""
        raw = self.private.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")

    def verify(self, message: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(base64.b64decode(signature), message.encode("utf-8"),
                                             padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True


_stranger: KeyPair | None = None


def stranger_key() -> KeyPair:
    """One key nobody trusts, made once: what a fake signs with in BAD_SIGNATURE mode."""
    global _stranger
    if _stranger is None:
        _stranger = KeyPair.generate()
    return _stranger


class Modes:
    """How a fake misbehaves: answer normally, hang past the client's timeout, or answer garbage."""

    NORMAL = "normal"
    TIMEOUT = "timeout"
    GARBAGE = "garbage"
    BAD_SIGNATURE = "bad_signature"  # a well-formed answer signed with the wrong key
    LATE = "late"  # does the work, then hangs past the client's timeout: the caller cannot know it happened


class FakeServer:
    """A threaded HTTP server whose handler calls `self.handle(handler)`."""

    hang_seconds = 5.0

    def __init__(self):
        self.mode = Modes.NORMAL
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str]] = []  # (method, path) seen
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path))
                if fake.mode == Modes.TIMEOUT:
                    fake.release.wait(fake.hang_seconds)
                    return
                if fake.mode == Modes.LATE:
                    real, self.wfile = self.wfile, io.BytesIO()  # the answer is written nowhere
                    fake.handle(self)
                    fake.release.wait(fake.hang_seconds)
                    self.wfile = real
                    self.close_connection = True
                    return
                fake.handle(self)

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @staticmethod
    def reply(handler, status: int, body: bytes | str, content_type: str, headers: dict | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def post(url: str, body: bytes, headers: dict, timeout: float = 10) -> tuple[int, bytes]:
    """Deliver a notification the way a gateway does: one POST, read the answer."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
