from kameng.core import clock
from kameng.notifications.services import notify

from . import figure_facts
from .models import RefundEvent


def actor_label(user) -> str:
    return f"{user.role}:{user.username}" if user is not None else "system"


def refund_event(*, refund, event: str, actor: str = "system", note: str = "") -> None:
    at = clock.now()
    RefundEvent.objects.create(refund=refund, at=at, actor=actor, event=event, note=note)
    # The published figures' row moves with the timeline, in the same transaction.
    figure_facts.event_recorded(refund=refund, event=event, actor=actor, at=at)


def tell_buyer(refund, code: str, *, sms: bool = False, **params) -> None:
    """A buyer's refund notice (notifications/texts.py `code`), titled with where the refund stands now."""
    notify(user=refund.buyer, code=code, params={"refund_no": refund.refund_no, "status": refund.status, **params},
           refund=refund, sms=sms)


def tell_staff(refund, users, code: str, **params) -> None:
    """站内信 to the reviewers (or finance) who must act next."""
    for user in users:
        notify(user=user, code=code, params={"refund_no": refund.refund_no, **params}, refund=refund)


def senior_reviewers(*, excluding_id: int | None = None):
    from kameng.accounts.models import Role, User

    return User.objects.filter(role=Role.SENIOR_REVIEWER, is_active=True).exclude(id=excluding_id)
