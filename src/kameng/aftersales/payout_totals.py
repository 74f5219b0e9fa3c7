"""Refunds paid, per channel and per Beijing day: what finance compares with each gateway's refund statement.

A payout counts on the day it reached the buyer (`completed_at`, read in Beijing time, the day the
gateways' statements use); one grouped query whatever the number of refunds.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from kameng.core.times import BEIJING

from .models import RefundPayout

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class PaidDay:
    day: date
    channel: str
    count: int
    fen: int


def refunds_paid_per_day(*, day_from: date, day_to: date, channel: str | None = None) -> list[PaidDay]:
    """Newest day first; within a day, by channel. Both days are included."""
    start = datetime.combine(day_from, time(0), tzinfo=BEIJING)
    end = datetime.combine(day_to + timedelta(days=1), time(0), tzinfo=BEIJING)
    payouts = RefundPayout.objects.filter(status=RefundPayout.Status.SUCCEEDED, completed_at__gte=start,
                                          completed_at__lt=end)
    if channel:
        payouts = payouts.filter(channel=channel)
    rows = (payouts.annotate(day=TruncDate("completed_at", tzinfo=BEIJING)).values("day", "channel")
            .annotate(count=Count("id"), fen=Sum("amount_fen")).order_by("-day", "channel"))
    return [PaidDay(day=row["day"], channel=row["channel"], count=row["count"], fen=row["fen"] or 0) for row in rows]
