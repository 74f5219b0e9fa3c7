"""Background jobs. Each is safe to run more than once: it re-reads state under a lock first."""

from django.tasks import task


@task()
def dispatch_topup(order_id: int) -> None:
    from .fulfilment import topup_dispatch

    topup_dispatch(order_id=order_id)


@task()
def refund_failed_topup(order_id: int, timed_out: bool = False) -> str:
    """A failed or timed-out top-up is refunded by the platform without the buyer asking (`timed_out` is
    read from the order's own history now; the argument stays for jobs queued before)."""
    return _refund_if_due(order_id)


@task()
def refund_undelivered(order_id: int) -> str:
    """The platform's own refund of what it could not deliver, if our records say it is due now."""
    return _refund_if_due(order_id)


def _refund_if_due(order_id: int) -> str:
    from kameng.aftersales.proactive import refund_if_due

    refund = refund_if_due(order_id=order_id)
    return refund.refund_no if refund else "nothing due"


@task()
def deliver_backorders(product_id: int) -> int:
    from .fulfilment import backorders_deliver

    return backorders_deliver(product_id=product_id)
