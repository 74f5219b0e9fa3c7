"""The SMS / email outbox: sent after every other deadline of a sweep, so their messages go out at once."""

from kameng.core.deadlines import DELIVER, Deadline

from .services import outbox_send_due

DEADLINES = [Deadline("outbox_sent", outbox_send_due, stage=DELIVER)]
