"""站内信 through the API: the user's own messages, written in the user's language (`language`, set with
PATCH /me), newest first; marking one read. Thin: notifications.services reads and writes."""

from kameng.core.times import iso_beijing
from kameng.notifications.render import language_of, message_text
from kameng.notifications.services import inbox_for, inbox_mark_read

from .base import answers, api
from .serializers import Out

PAGE_SIZE = 100


class MessageOut(Out):
    id: int
    title: str
    body: str
    code: str
    refund_id: int | None
    refund_no: str | None
    created_at: str
    read_at: str | None


class InboxOut(Out):
    language: str
    unread: int
    items: list[MessageOut]


def _message_out(message, language: str) -> dict:
    title, body, _rendered = message_text(message, language)
    return {"id": message.id, "title": title, "body": body, "code": message.code, "refund_id": message.refund_id,
            "refund_no": message.refund.refund_no if message.refund_id else None,
            "created_at": iso_beijing(message.created_at), "read_at": iso_beijing(message.read_at)}


@api.get("/inbox", tags=["inbox"], response=answers({200: InboxOut}, 422))
def inbox(request, unread: bool = False):
    """The newest 100 messages (only unread ones with `?unread=true`), in the user's language."""
    user = request.auth
    language = language_of(user)
    rows = inbox_for(user, unread_only=unread).select_related("refund")[:PAGE_SIZE]
    return {"language": language, "unread": inbox_for(user, unread_only=True).count(),
            "items": [_message_out(m, language) for m in rows]}


@api.post("/inbox/{message_id}/read", tags=["inbox"], response=answers({200: MessageOut}, 404))
def inbox_read(request, message_id: str):
    """Mark one of the user's own messages read (the first reading time is kept); another's, or no number, 404."""
    message = inbox_mark_read(request.auth, message_id)
    return _message_out(message, language_of(request.auth))
