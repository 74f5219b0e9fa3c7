from kameng.core import clock

from .models import OrderEvent


def actor_label(user) -> str:
    return f"{user.role}:{user.id}" if user is not None else "system"


def order_event(*, order, event: str, actor: str = "system", note: str = "") -> None:
    OrderEvent.objects.create(order=order, at=clock.now(), actor=actor, event=event, note=note)
