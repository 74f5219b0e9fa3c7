"""站内信: the user's inbox, newest first, and marking a message read."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from kameng.core.errors import DomainError
from kameng.notifications.render import message_text
from kameng.notifications.services import inbox_for, inbox_mark_read

from ..errors import not_found_as_404

PAGE_SIZE = 100


@login_required
def inbox(request):
    unread_only = request.GET.get("unread") == "1"
    rows = list(inbox_for(request.user, unread_only=unread_only).select_related("refund")[:PAGE_SIZE])
    language = get_language()  # the page's language: the one the reader is reading in now
    for row in rows:
        row.shown_title, row.shown_body, row.rendered = message_text(row, language)
    return render(request, "web/inbox.html", {"rows": rows, "unread_only": unread_only,
                                              "is_buyer": request.user.role == "buyer"})


@require_POST
@login_required
def mark_read(request, message_id: int):
    try:
        message = inbox_mark_read(request.user, message_id)
    except DomainError as exc:
        not_found_as_404(exc)
        raise
    if request.POST.get("open") and message.refund_id and request.user.role == "buyer":
        return redirect("web:refund", refund_id=message.refund_id)
    return redirect("web:inbox")
