"""What falls due on orders: unpaid orders expire, queued top-ups that were not sent go out."""

from kameng.core.deadlines import Deadline

from .fulfilment import topups_send_due
from .services import orders_expire_due

DEADLINES = [
    Deadline("orders_expired", orders_expire_due),
    Deadline("topups_sent", topups_send_due),
]
