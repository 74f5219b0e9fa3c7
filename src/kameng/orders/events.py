from kameng.core import clock, compiled

from .models import OrderEvent


def actor_label(user) -> str:
    return f"{user.role}:{user.id}" if user is not None else "system"


def order_event(*, order, event: str, actor: str = "system", note: str = "") -> None:
    compiled.insert([OrderEvent(order=order, at=clock.now(), actor=actor, event=event, note=note)])


def order_events(*, order, events: list[tuple[str, str, str]]) -> None:
    """Several events of one moment (created, paid, delivered) in one INSERT: `(event, actor, note)` each."""
    now = clock.now()
    compiled.insert([OrderEvent(order=order, at=now, actor=actor, event=event, note=note) for event, actor, note in events])
