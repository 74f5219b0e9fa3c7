"""Domain errors shown on pages: a translated sentence for the codes a page user meets, else the
service's own message. Services never put a secret in a message, so neither do we."""

from django.http import Http404

from kameng.core.error_texts import text_for
from kameng.core.errors import DomainError, NotFound


def error_text(exc: DomainError) -> str:
    return text_for(exc.code, exc.message)


def not_found_as_404(exc: DomainError) -> None:
    """A missing object or someone else's: the page is a 404, like the API."""
    if isinstance(exc, NotFound) or exc.status == 404:
        raise Http404(exc.message)
