"""The client's address: the connection's, or behind trusted proxies the one they report.

Used for reveal records and the login throttle (django-axes). `X-Forwarded-For` is believed only as
far as `KAMENG_PROXY_COUNT` proxies of our own put it there: each appends the address it saw, so the
entry that many places from the right is the client's; anything further left the client wrote itself.
"""

from django.conf import settings


def client_ip(request) -> str | None:
    proxies = settings.KAMENG_PROXY_COUNT
    if proxies > 0:
        chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(chain) >= proxies:
            return chain[-proxies]
    return request.META.get("REMOTE_ADDR") or None
