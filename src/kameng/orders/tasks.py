"""Background jobs. Each is safe to run more than once: it re-reads state under a lock first."""

import logging

from django.tasks import task

logger = logging.getLogger(__name__)

FAILED_TOPUP_NOTE = "系统自动申请：供货商报告充值失败，订单款项全额原路退回。The supplier reported the top-up failed."
TIMED_OUT_TOPUP_NOTE = ("系统自动申请：供货商超时未返回充值结果，订单款项全额原路退回。"
                        "The supplier gave no result in time.")


@task()
def dispatch_topup(order_id: int) -> None:
    from .fulfilment import topup_dispatch

    topup_dispatch(order_id=order_id)


@task()
def refund_failed_topup(order_id: int, timed_out: bool = False) -> str:
    """A failed or timed-out top-up is refunded without the buyer having to ask (approved at once by the rules)."""
    from kameng.aftersales.services import refund_create
    from kameng.core.errors import DomainError

    from .models import Order

    order = Order.objects.select_related("buyer").get(id=order_id)
    try:
        refund = refund_create(buyer=order.buyer, order_no=order.order_no, reason="not_delivered",
                               description=TIMED_OUT_TOPUP_NOTE if timed_out else FAILED_TOPUP_NOTE)
    except DomainError as exc:  # already refunded or asked for, or delivered after all: nothing to do
        logger.info("no automatic refund for failed top-up %s: %s", order.order_no, exc.code)
        return exc.code
    return refund.refund_no


@task()
def deliver_backorders(product_id: int) -> int:
    from .fulfilment import backorders_deliver

    return backorders_deliver(product_id=product_id)
