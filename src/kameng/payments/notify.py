"""The notify endpoints' door: read a gateway's form body without ever answering 500 for its bytes.

A body Django cannot parse (broken multipart, too many fields, too large) is refused with a 4xx and
recorded like any other refused notification; the fields themselves are judged by the services.
"""

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http.multipartparser import MultiPartParserError

from . import audit, errors


def read_form(request, *, gateway: str, kind: str, expected: tuple[str, ...]) -> dict:
    try:
        return dict(request.POST.items())
    except RequestDataTooBig:
        error = errors.too_large()
    except (BadRequest, MultiPartParserError, SuspiciousOperation, UnicodeError, ValueError):
        error = errors.unreadable_body()
    audit.record(gateway=gateway, kind=kind, fields={}, expected=expected, outcome=error.code)
    raise error


def sandbox_payment_form(request) -> dict:
    from .gateways import sandbox

    return read_form(request, gateway=sandbox.NAME, kind="payment", expected=sandbox.FIELDS)


def sandbox_refund_form(request) -> dict:
    from .gateways import sandbox, sandbox_refunds

    return read_form(request, gateway=sandbox.NAME, kind="refund", expected=sandbox_refunds.FIELDS)
