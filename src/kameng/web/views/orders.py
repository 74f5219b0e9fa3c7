"""The buyer's orders, the key reveal, and the sandbox payment page."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kameng.aftersales.cancellation import cancel_offer, order_cancel
from kameng.core.client_ip import client_ip
from kameng.core.error_texts import one_language
from kameng.core.errors import DomainError
from kameng.orders.compensation import compensation_paid
from kameng.orders.policies import exchange_link
from kameng.orders.selectors import order_for_buyer, orders_for_buyer
from kameng.orders.services import order_reveal
from kameng.payments.gateways.registry import served_by_sandbox
from kameng.payments.services import sandbox_pay as pay

from ..access import buyer_required
from ..confirmations import ask_first
from ..errors import error_text, not_found_as_404
from ..reads import order_items, orders_in_aftersales, payment_for_payer, pending_payment_of
from .shop import _lang


def _own_order(request, order_no: str):
    try:
        return order_for_buyer(user=request.user, order_no=order_no)
    except DomainError as exc:
        not_found_as_404(exc)
        raise


@buyer_required
def order_list(request):
    orders = list(orders_for_buyer(user=request.user, limit=100))
    return render(request, "web/orders.html", {"orders": orders, "in_aftersales": orders_in_aftersales(orders)})


@buyer_required
def order_detail(request, order_no: str):
    order = _own_order(request, order_no)
    items = order_items(order)
    texts = order.snapshot.get("refund_policy_text") or {}
    payment = pending_payment_of(order) if order.status == "pending_payment" else None
    return render(request, "web/order.html", {
        "order": order,
        "items": items,
        # Items of an order never paid are not "待发货": nothing will be sent until it is paid.
        "unpaid": order.paid_at is None,
        "payment": payment,
        "pay_page": ("web:sandbox_pay" if served_by_sandbox(order.channel) else "web:pay") if payment else None,
        "policy_text": texts.get(_lang()) or texts.get("zh-hans", ""),
        "can_reveal": order.product.kind != "topup" and any(i.status in ("delivered", "refund_pending") for i in items),
        "cancel_refund": cancel_offer(order),  # None: no 取消订单 button
        "late_compensation": compensation_paid(order) if order.paid_at else None,
    })


@require_POST
@buyer_required
def order_cancel_view(request, order_no: str):
    """取消订单 (confirmed on the order page): unpaid closes; paid and undelivered is refunded in full at once."""
    order = _own_order(request, order_no)
    was_paid = order.paid_at is not None
    try:
        order = order_cancel(user=request.user, order_no=order.order_no)
    except DomainError as exc:
        not_found_as_404(exc)
        messages.error(request, one_language(error_text(exc)))
        return redirect("web:order", order_no=order.order_no)
    if was_paid:
        messages.success(request, gettext("订单已取消，货款全额退回，不收手续费。退款进度见下方售后记录。"))
    else:
        messages.success(request, gettext("订单已取消。"))
    return redirect("web:order", order_no=order.order_no)


@never_cache
@require_POST
@buyer_required
def order_reveal_view(request, order_no: str):
    order = _own_order(request, order_no)
    if confirm_page := ask_first(request, "reveal", back=reverse("web:order", args=[order.order_no])):
        return confirm_page
    try:
        revealed = order_reveal(
            user=request.user, order_no=order.order_no,
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except DomainError as exc:
        not_found_as_404(exc)
        messages.error(request, error_text(exc))
        return redirect("web:order", order_no=order.order_no)
    positions = {item.id: item.position for item in order_items(order)}
    rows = [{"position": positions.get(item_id), "secret": secret, "link": exchange_link(secret)}
            for item_id, secret in revealed]
    return render(request, "web/reveal.html", {"order": order, "rows": rows})


@buyer_required
def sandbox_pay(request, payment_no: str):
    if not settings.KAMENG_SANDBOX:
        raise Http404
    try:
        payment = payment_for_payer(user=request.user, payment_no=payment_no)
    except DomainError as exc:
        not_found_as_404(exc)
        raise
    done = redirect("web:order", order_no=payment.order.order_no) if payment.order_id else redirect("web:wallet")
    if request.method == "POST":
        try:
            pay(user=request.user, payment_no=payment.payment_no)
        except DomainError as exc:
            not_found_as_404(exc)
            messages.error(request, error_text(exc))
            return redirect("web:sandbox_pay", payment_no=payment.payment_no)
        messages.success(request, gettext("支付成功。"))
        return done
    return render(request, "web/pay.html", {"payment": payment})

