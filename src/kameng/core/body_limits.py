"""How large a request body may be, decided by path from the headers before a byte of it is read.

An anonymous client could otherwise make the server read, parse and spool to disk hundreds of
megabytes (a multipart body to the public notify endpoint) only to refuse them afterwards. Each path
gets the room its honest use needs; a body announced larger is refused at once with 413. The same
table serves the Django middleware below (any WSGI server, the test client) and `kameng serve`'s
front end (`kameng.asgi`), which also bounds bodies sent without a Content-Length (chunked).
"""

import json
import re

from django.http import HttpResponse

from .error_texts import text_for

KB = 1024
MB = 1024 * KB

# The largest evidence file (video, 50 MB) plus room for the multipart framing and the other fields.
EVIDENCE_BODY = 51 * MB
DEFAULT_BODY = 10 * MB  # JSON and forms: above DATA_UPLOAD_MAX_MEMORY_SIZE, so Django's own check speaks first

# First match wins: (kind of upload, path pattern, limit). Paths are the request's, without the query.
LIMITS: tuple[tuple[str, re.Pattern, int], ...] = (
    # Gateways send a few form fields or a small JSON document; nobody honest sends more.
    ("notify", re.compile(r"^/api/v1/payments/notify/"), 64 * KB),
    # A goods source's result callback: a small JSON document, at most a hundred card keys (KSP/1).
    ("", re.compile(r"^/api/v1/suppliers/notify/"), 64 * KB),
    ("evidence", re.compile(r"^/api/v1/refunds/[^/]+/evidence$"), EVIDENCE_BODY),
    ("evidence", re.compile(r"^/refunds/\d+/evidence/$"), EVIDENCE_BODY),
    ("evidence", re.compile(r"^/orders/[^/]+/refund/$"), EVIDENCE_BODY),  # the refund form may carry a file
    # A supplier's key file through the page: 1.5 million keys of 40 characters.
    ("key_file", re.compile(r"^/supplier/products/\d+/import/$"), 64 * MB),
)


def _match(path: str) -> tuple[str, int]:
    for kind, pattern, limit in LIMITS:
        if pattern.match(path):
            return kind, limit
    return "", DEFAULT_BODY


def limit_for(path: str) -> int:
    return _match(path)[1]


def upload_kind(path: str) -> str:
    """"evidence", "notify", "key_file" or "" (anything else): upload handlers ask this."""
    return _match(path)[0]


def declared_length(value) -> int | None:
    """The Content-Length as a number; None when absent; -1 when it is not a number."""
    if value in (None, ""):
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return int(text) if text.strip().isdigit() else -1


def refusal(path: str, limit: int, *, status: int = 413) -> tuple[int, str, bytes]:
    """(status, content type, body) of the answer: the API's error body, or a line of text for pages."""
    code, detail = {
        413: ("PAYLOAD_TOO_LARGE", f"the request body is larger than {limit // KB} KB"),
        408: ("REQUEST_TIMEOUT", "the request body stopped arriving"),
    }.get(status, ("BAD_REQUEST", "invalid Content-Length"))
    message = text_for(code, detail)
    if path.startswith("/api/"):
        body = {"error": {"code": code, "message": message, "detail": detail, "limit_bytes": limit}}
        return status, "application/json", json.dumps(body, ensure_ascii=False).encode("utf-8")
    return status, "text/plain; charset=utf-8", f"{message}（{detail}）\n".encode()


class BodyLimitMiddleware:
    """First in MIDDLEWARE: nothing before it reads the body, and Django parses it only when asked."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        limit = limit_for(path)
        length = declared_length(request.META.get("CONTENT_LENGTH"))
        if length is not None and (length < 0 or length > limit):
            status, content_type, body = refusal(path, limit, status=400 if length < 0 else 413)
            return HttpResponse(body, status=status, content_type=content_type)
        return self.get_response(request)
