"""Real gateways, real concurrent connections: a notification and a query racing each other move money once."""

import pytest

from kameng.aftersales.decisions import refund_approve
from kameng.aftersales.gateway_payouts import payout_query
from kameng.aftersales.models import Refund, RefundPayout
from kameng.aftersales.services import refund_create
from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import KeyIssue
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.orders.models import Order
from kameng.orders.services import order_create, order_reveal
from kameng.payments.checkout import checkout_open, payment_settle_from_gateway
from kameng.payments.gateway_notify import gateway_notification_receive
from kameng.payments.gateways.base import Device
from kameng.payments.models import Payment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def production(settings):
    settings.KAMENG_SANDBOX = False


def _opened(buyer, product, channel) -> tuple[Order, Payment]:
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel=channel, accept_terms=True)
    payment = checkout_open(payment=order.payments.get(), device=Device.QR)
    assert payment.code_url
    return order, payment


def test_an_alipay_notification_repeated_and_the_query_at_once_pay_once(production, alipay_env, make_user,
                                                                          make_product, racer):
    buyer = make_user("buyer")
    order, payment = _opened(buyer, make_product(keys=2, price="8.00"), "alipay")
    body = alipay_env.pay(payment.payment_no, deliver=False)

    def go(i):
        if i < 6:
            return gateway_notification_receive(name="alipay", headers={}, body=body)
        return payment_settle_from_gateway(Payment.objects.get(id=payment.id))

    results = racer(8, go)
    assert all(getattr(a, "body", None) == "success" for a in results[:6]), results  # the repeats get "success" too
    assert all(r in (True, False) for r in results[6:]), results
    assert Journal.objects.filter(payment__isnull=False).count() == 1
    assert KeyIssue.objects.count() == 1
    assert Order.objects.get(id=order.id).status == "delivered"
    assert book_check().ok


def test_a_wechat_refund_notification_repeated_and_the_query_at_once_refund_once(
        production, wechat_env, make_user, make_product, reviewer, racer):
    buyer = make_user("buyer")
    order, payment = _opened(buyer, make_product(keys=2, price="8.00"), "wechat")
    body, headers = wechat_env.pay(payment.payment_no, deliver=False)
    assert gateway_notification_receive(name="wechat", headers=headers, body=body.encode()).status == 204
    order_reveal(user=buyer, order_no=order.order_no)
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", destination="original",
                           description="兑换时提示卡密无效，截图已上传，请核实后退款。谢谢。")
    refund_approve(actor=reviewer, refund_id=refund.id, note="同意")
    run_queued_tasks()
    payout = RefundPayout.objects.get()
    assert payout.status == "sent"
    body, headers = wechat_env.complete_refund(payout.request_no, deliver=False)

    def go(i):
        if i < 5:
            return gateway_notification_receive(name="wechat", headers=headers, body=body.encode()).status
        return payout_query(RefundPayout.objects.select_related("refund").get(id=payout.id))

    results = racer(7, go)
    assert results[:5] == [204] * 5, results
    assert Journal.objects.filter(kind="refund").count() == 1
    assert Refund.objects.get(id=refund.id).status == "refunded"
    assert wechat_env.refund_calls == 1
    assert book_check().ok
