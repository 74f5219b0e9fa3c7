"""The payment page for a real gateway: the pay button (Alipay, WeChat H5) or the QR code (WeChat Native,
Alipay precreate), refreshed every few seconds until the gateway's notification has paid it."""

import segno
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe

from kameng.core.client_ip import client_ip
from kameng.core.errors import DomainError
from kameng.payments.checkout import checkout_open, device_for
from kameng.payments.models import PaymentStatus

from ..access import buyer_required
from ..errors import not_found_as_404
from ..reads import payment_for_payer

POLL_SECONDS = 3


def sandbox_served(payment) -> bool:
    return payment.pay_url.startswith("/sandbox/")


@buyer_required
def gateway_pay(request, payment_no: str):
    try:
        payment = payment_for_payer(user=request.user, payment_no=payment_no)
    except DomainError as exc:
        not_found_as_404(exc)
        raise
    done = redirect("web:order", order_no=payment.order.order_no) if payment.order_id else redirect("web:wallet")
    if payment.status != PaymentStatus.PENDING or payment.channel == "wallet":
        return done
    if not (payment.pay_url or payment.code_url):
        payment = checkout_open(payment=payment, client_ip=client_ip(request) or "",
                                device=device_for(user_agent=request.headers.get("User-Agent", ""),
                                                  asked=request.GET.get("device")))
    if sandbox_served(payment):
        return redirect("web:sandbox_pay", payment_no=payment.payment_no)
    qr = mark_safe(segno.make(payment.code_url, error="m").svg_inline(scale=5)) if payment.code_url else ""
    return render(request, "web/gateway_pay.html", {"payment": payment, "qr": qr, "poll": POLL_SECONDS})
