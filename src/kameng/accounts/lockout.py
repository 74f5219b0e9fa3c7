"""What a client locked out by django-axes sees: 429, a JSON error on the API, a page elsewhere.

Axes counts failed logins per username and client address on every path that authenticates with the
request (the token endpoint, `/login/`, `/admin/login/`) and calls this once the limit is reached.
"""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from kameng.core.error_texts import text_for

from .services import too_many_attempts


def lockout_response(request, original_response=None, credentials=None):
    exc = too_many_attempts()
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        body = {"error": {"code": exc.code, "message": text_for(exc.code, exc.message), "detail": exc.message}}
        response = JsonResponse(body, status=exc.status, json_dumps_params={"ensure_ascii": False})
    else:
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        response = render(request, "web/locked_out.html", {"minutes": minutes}, status=exc.status)
    response["Retry-After"] = retry_after
    return response
