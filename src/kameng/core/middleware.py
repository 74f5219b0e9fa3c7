from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpResponse, JsonResponse
from django.utils import translation

from kameng.core.error_texts import text_for
from kameng.core.text import INVALID_TEXT, text_problem


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
    cannot be encoded at all. Refusing here, before any view runs, answers 400 INVALID_TEXT and changes
    nothing, for every page and endpoint at once. JSON bodies are checked by the API's schema types
    (kameng.api.base), multipart text fields by the page forms (kameng.web.forms): both use
    kameng.core.text like this gate.

    Payment and refund notifications (/api/v1/payments/notify/…, and the older refund-notify path) and the
    goods sources' callbacks (/api/v1/suppliers/notify/…) pass through: their code records every refused
    notification itself, which a refusal here would hide.
    """

    SKIP = ("/api/v1/payments/notify/", "/api/v1/payments/refund-notify/", "/api/v1/suppliers/notify/")
    FORM = "application/x-www-form-urlencoded"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        self._forget_bad_cookies(request)
        if not request.path.startswith(self.SKIP):
            where = self._bad_part(request)
            if where:
                return self._refuse(request, where)
        return self.get_response(request)

    @staticmethod
    def _forget_bad_cookies(request) -> None:
        """A cookie we never set (a quoted "\\000" becomes a NUL) is treated as absent, not looked up:
        a session lookup with it would be a 500 on PostgreSQL, and refusing would lock the browser out."""
        for name in [name for name, value in request.COOKIES.items() if text_problem(name) or text_problem(value)]:
            del request.COOKIES[name]

    def _bad_part(self, request) -> str | None:
        if text_problem(request.path):
            return "path"
        try:
            return self._bad_field(request)
        except (RequestDataTooBig, TooManyFieldsSent):
            return None  # not parsed, nothing kept: the view meets the same error and answers it (413, 400)

    def _bad_field(self, request) -> str | None:
        if self._any_bad(request.GET):
            return "query"
        # Only url-encoded bodies: they are small (DATA_UPLOAD_MAX_MEMORY_SIZE) and parsing them here costs
        # nothing extra. Multipart bodies carry files: their text fields are judged by the forms.
        if request.method == "POST" and request.content_type == self.FORM and self._any_bad(request.POST):
            return "form"
        return None

    @staticmethod
    def _any_bad(query) -> bool:
        return any(text_problem(key) or any(text_problem(v) for v in values) for key, values in query.lists())

    @staticmethod
    def _refuse(request, where: str):
        with translation.override(translation.get_language_from_request(request)):
            message = text_for(INVALID_TEXT, "the request holds a character that cannot be stored")
        if request.path.startswith("/api/"):
            body = {"error": {"code": INVALID_TEXT, "message": message, "details": {"field": where}}}
            return JsonResponse(body, status=400)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
