from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import translation

from kameng.core import body_limits
from kameng.core.error_texts import text_for
from kameng.core.text import INVALID_TEXT, body_field_problem, text_problem


class SandboxGate:
    """Sandbox paths do not exist unless KAMENG_SANDBOX=1 (404, before any authentication)."""

    PREFIXES = ("/api/v1/sandbox/", "/sandbox/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.KAMENG_SANDBOX and request.path.startswith(self.PREFIXES):
            return JsonResponse({"error": {"code": "NOT_FOUND", "message": "not found"}}, status=404)
        return self.get_response(request)


class TextGate:
    """Refuse a request whose path, query string or form fields hold text that cannot be stored.

    A NUL byte reaches PostgreSQL as a driver error (a 500) from any lookup or write; a lone surrogate
    cannot be encoded at all; bytes that are not UTF-8 reach a form body's fields as U+FFFD (Django decodes
    them with errors="replace") and would be stored as text nobody wrote. Refusing here, before any view
    runs, answers 400 INVALID_TEXT and changes nothing, for every page and endpoint at once. Form fields are
    judged in url-encoded and multipart bodies alike — the refund form with its evidence files, the
    supplier's key-file import, evidence uploads through the page and the API — the text parts only: the
    bytes of file parts are judged by their own code (aftersales.evidence, the key import), and Django drops
    unprintable characters from file names. JSON bodies are checked by the API's schema types
    (kameng.api.base); each field's length by its form or schema. All use kameng.core.text like this gate.

    A multipart body that cannot be parsed is answered here too (413 beyond DATA_UPLOAD_MAX_MEMORY_SIZE of
    text, 400 otherwise): once Django's parser has failed on a stream it cannot read it again for the view.

    Payment and refund notifications (/api/v1/payments/notify/…, and the older refund-notify path) and the
    goods sources' callbacks (/api/v1/suppliers/notify/…) pass through: their code records every refused
    notification itself, which a refusal here would hide.
    """

    SKIP = ("/api/v1/payments/notify/", "/api/v1/payments/refund-notify/", "/api/v1/suppliers/notify/")
    FORM = "application/x-www-form-urlencoded"
    MULTIPART = "multipart/form-data"
    UPLOADS = ("evidence", "key_file")  # kameng.core.body_limits: the paths that take files of many megabytes

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        self._forget_bad_cookies(request)
        if not request.path.startswith(self.SKIP):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def _forget_bad_cookies(request) -> None:
        """A cookie we never set (a quoted "\\000" becomes a NUL) is treated as absent, not looked up:
        a session lookup with it would be a 500 on PostgreSQL, and refusing would lock the browser out."""
        for name in [name for name, value in request.COOKIES.items() if text_problem(name) or text_problem(value)]:
            del request.COOKIES[name]

    def _refusal(self, request):
        if text_problem(request.path):
            return self._refuse(request, "path", problem=text_problem(request.path))
        problem = self._first_problem(request.GET, text_problem)
        if problem:
            return self._refuse(request, "query", problem=problem)
        if request.method != "POST" or request.content_type not in (self.FORM, self.MULTIPART):
            return None
        if request.content_type == self.MULTIPART:
            length = body_limits.declared_length(request.META.get("CONTENT_LENGTH"))
            if length is not None and 0 <= length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                # Read whole first (small, like any form or JSON body): Django parses this copy, and a view
                # that reads the raw body (a JSON endpoint sent a form) still can.
                request.body  # noqa: B018
            elif body_limits.upload_kind(request.path_info) not in self.UPLOADS:
                # Only the upload paths take a body this large as a form; anywhere else Django would refuse
                # it as soon as the body was read, and streamed past here it could not be read at all.
                return self._refuse(request, "form", code="PAYLOAD_TOO_LARGE", status=413,
                                    detail="a form body larger than DATA_UPLOAD_MAX_MEMORY_SIZE")
        try:
            # Url-encoded bodies are small (DATA_UPLOAD_MAX_MEMORY_SIZE); a multipart body is parsed once,
            # here, its files streamed to the upload handlers (FILE_UPLOAD_HANDLERS) as the view would.
            problem = self._first_problem(request.POST, body_field_problem)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, MultiPartParserError, BadRequest) as exc:
            if request.content_type == self.FORM:
                return None  # not parsed, nothing kept: the view meets the same error and answers it (413, 400)
            too_big = isinstance(exc, RequestDataTooBig)
            return self._refuse(request, "form", code="PAYLOAD_TOO_LARGE" if too_big else "BAD_REQUEST",
                                status=413 if too_big else 400, detail=str(exc))
        return self._refuse(request, "form", problem=problem) if problem else None

    @staticmethod
    def _first_problem(query, judge) -> str | None:
        for key, values in query.lists():
            for text in (key, *values):
                problem = judge(text)
                if problem:
                    return problem
        return None

    @staticmethod
    def _refuse(request, where: str, *, problem: str | None = None, code: str = INVALID_TEXT, status: int = 400,
                detail: str = "the request holds a character that cannot be stored"):
        with translation.override(translation.get_language_from_request(request)):
            message = text_for(code, detail)
        if request.path.startswith("/api/"):
            details = {"field": where, **({"problem": problem} if problem else {})}
            body = {"error": {"code": code, "message": message, "details": details}}
            return JsonResponse(body, status=status)
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
