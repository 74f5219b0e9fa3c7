"""The NinjaAPI instance, authentication and the error format of the contract."""

import logging
from typing import Annotated, Any

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import AfterValidator, BaseModel
from pydantic_core import PydanticCustomError

from kameng.accounts.services import token_user
from kameng.core.client_ip import client_ip  # noqa: F401  (the routes take it from here)
from kameng.core.error_texts import one_language, text_for
from kameng.core.errors import DomainError
from kameng.core.locks import Busy, busy_error
from kameng.core.text import INVALID_TEXT, InvalidText, clean_text, refuse_unstorable

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


def _text_rule(rule):
    """A kameng.core.text rule as a pydantic validator: its refusal becomes an `invalid_text` error."""

    def check(value: str) -> str:
        try:
            return rule(value)
        except InvalidText as exc:
            raise PydanticCustomError("invalid_text", exc.message) from None

    return check


# The text types of the API schemas. Every string a body carries is one of these, so NUL bytes and lone
# surrogates are refused (422 INVALID_TEXT) before any service or database sees them.
Code = Annotated[str, AfterValidator(_text_rule(refuse_unstorable))]
"""Identifiers, codes, passwords: refused when unstorable, otherwise taken exactly as sent."""
Text = Annotated[str, AfterValidator(_text_rule(clean_text))]
"""Free text (descriptions, notes, messages): also stripped of bidi controls and zero-width characters."""
Line = Annotated[str, AfterValidator(_text_rule(lambda value: clean_text(value, one_line=True)))]
"""Names: cleaned like Text, and one line without control characters."""


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    details = [
        {"loc": [str(part) for part in e.get("loc", [])], "msg": str(e.get("msg", ""))} for e in exc.errors
    ]
    if any(e.get("type") == "invalid_text" for e in exc.errors):
        return error(request, 422, INVALID_TEXT, "a text field holds a character that is not allowed", details)
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


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: str | None = None
    details: Any = None


class ErrorOut(BaseModel):
    """The contract's error body: {"error": {"code": "SNAKE_CASE", "message": "human text"}}."""

    error: ErrorBody


def answers(ok: dict, *errors: int, auth: bool = True, body: bool = False) -> dict:
    """An operation's declared responses: its success schema and every error status it can answer.

    Every operation can answer 400 (the text gate refuses unstorable text in a path or query) and 503
    (a lock or statement timeout); an authenticated one 401; one with a JSON body 413 and 422.
    """
    statuses = {400, 503, *errors}
    if auth:
        statuses.add(401)
    if body:
        statuses |= {413, 422}
    return {**ok, **dict.fromkeys(sorted(statuses), ErrorOut)}

