"""Background jobs. Each is safe to run more than once: it re-reads state under a lock first."""

from django.tasks import task


@task()
def dispatch_topup(order_id: int) -> None:
    from .fulfilment import topup_dispatch

    topup_dispatch(order_id=order_id)


@task()
def deliver_backorders(product_id: int) -> int:
    from .fulfilment import backorders_deliver

    return backorders_deliver(product_id=product_id)
