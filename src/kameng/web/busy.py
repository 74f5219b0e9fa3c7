"""Pages answer "busy, try again" when the database only means "not now" — never a 500.

The API turns a lock or statement timeout into 503 `LOCK_TIMEOUT` (api/base.py). A page view can
meet the same timeout on a write it never locked explicitly (a plain UPDATE waits on a row lock
too), so this middleware gives pages the same answer: a 503 page saying nothing changed, with
`Retry-After`. Everything that is not a timeout is left to Django's own 500 handling.
"""

import logging

from django.shortcuts import render

from kameng.core.locks import busy_error
from kameng.web.errors import error_text

logger = logging.getLogger(__name__)


class BusyPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
        busy = busy_error(exc)
        if busy is None:
            return None
        logger.warning("database busy on a page: %s on %s %s", busy.code, request.method, request.path)
        response = render(request, "web/busy.html", {"message": error_text(busy)}, status=503)
        response["Retry-After"] = str(busy.retry_after)
        return response
