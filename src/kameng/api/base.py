"""The NinjaAPI instance, authentication and the error format of the contract."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from kameng.accounts.services import token_user
from kameng.core.error_texts import one_language, text_for
from kameng.core.errors import DomainError
from kameng.core.locks import Busy, busy_error

logger = logging.getLogger(__name__)


class BearerAuth(HttpBearer):
    def authenticate(self, request, token):
        user = token_user(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="kameng API",
    version="1",
    urls_namespace="api",
    auth=BearerAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def error(request, status: int, code: str, message: str, details=None):
    """The contract's error body, in the request's language (Chinese unless asked otherwise)."""
    text = text_for(code, one_language(message))
    body = {"error": {"code": code, "message": text}}
    if text != message:
        body["error"]["detail"] = message  # the service's specific words (amounts, limits)
    if details is not None:
        body["error"]["details"] = details
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    response = error(request, exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, Busy):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(OperationalError)
def on_database_busy(request, exc: OperationalError):
    """A lock or statement timeout (or a collision) anywhere: 503 with a code, try again — not a 500."""
    busy = busy_error(exc)
    if busy is None:
        raise exc
    logger.warning("database busy: %s on %s %s", busy.code, request.method, request.path)
    return on_domain_error(request, busy)


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    details = [
        {"loc": [str(part) for part in e.get("loc", [])], "msg": str(e.get("msg", ""))} for e in exc.errors
    ]
    return error(request, 422, "VALIDATION_ERROR", "the request does not match the expected fields", details)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return error(request, 401, "UNAUTHENTICATED", "send Authorization: Bearer <token> (POST /api/v1/auth/token)")


@api.exception_handler(Http404)
def on_404(request, exc):
    return error(request, 404, "NOT_FOUND", "not found")


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    return error(request, 413, "PAYLOAD_TOO_LARGE", "the request body is too large")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    code = "BAD_REQUEST" if exc.status_code < 500 else "SERVER_ERROR"
    return error(request, exc.status_code, code, str(exc.message))


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None
