"""The shop window and checkout."""

from django.shortcuts import redirect, render
from django.utils.translation import get_language

from kameng.catalog.policies import stored_policy_or_none
from kameng.catalog.selectors import product_get, product_stock, products_with_stock
from kameng.core.errors import DomainError
from kameng.core.money import Money
from kameng.ledger.services import Accounts, balance
from kameng.orders.models import Channel
from kameng.orders.phone_topup import carrier_label
from kameng.orders.policies import TERMS_TEXT_EN, TERMS_TEXT_ZH
from kameng.orders.services import order_create
from kameng.payments.gateways.registry import served_by_sandbox

from ..access import buyer_required
from ..errors import error_text, not_found_as_404
from ..forms import CheckoutForm
from ..reads import pending_payment_of


def _lang() -> str:
    return "en" if (get_language() or "").startswith("en") else "zh-hans"


def terms_text() -> str:
    return TERMS_TEXT_EN if _lang() == "en" else TERMS_TEXT_ZH


def _product(product_id: int):
    try:
        product = product_get(product_id)
    except DomainError as exc:
        not_found_as_404(exc)
        raise
    product.stock = product_stock(product, product.available_keys)
    policy = stored_policy_or_none(product.refund_policy)
    product.policy_text = policy.text(_lang()) if policy is not None else None  # None: not on sale (the page says so)
    return product


def products(request):
    rows = list(products_with_stock())
    for product in rows:
        product.stock = product_stock(product, product.available_keys)
    return render(request, "web/products.html", {"products": rows})


def product_detail(request, product_id: int):
    return render(request, "web/product.html", {"product": _product(product_id)})


def _needs_confirmation(request, form) -> bool:
    """A phone top-up is paid only after the buyer has seen the number read back (and its carrier) and
    confirmed that very number: a mistyped digit tops up a stranger, and that money does not come back."""
    if form.carrier is None:
        return False
    return request.POST.get("confirmed_account", "") != form.cleaned_data["recharge_account"]


@buyer_required
def checkout(request, product_id: int):
    product = _product(product_id)
    if product.policy_text is None:  # rules nobody can read are rules nobody can be held to: no sale
        return redirect("web:product", product_id=product.id)
    form = CheckoutForm(request.POST or None, product=product)
    status = 200
    confirm = None
    if request.method == "POST":
        if form.is_valid() and "edit" not in request.POST and _needs_confirmation(request, form):
            confirm = {"phone": form.phone, "carrier": carrier_label(form.phone.carrier)}
        elif form.is_valid() and "edit" not in request.POST:
            data = form.cleaned_data
            try:
                order = order_create(
                    buyer=request.user, product_id=product.id, quantity=data["quantity"], channel=data["channel"],
                    recharge_account=data.get("recharge_account"), accept_terms=data["accept_terms"],
                )
            except DomainError as exc:
                not_found_as_404(exc)
                form.add_error(None, error_text(exc))
                status = exc.status
            else:
                payment = pending_payment_of(order)
                if payment is not None and order.channel != Channel.WALLET:
                    page = "web:sandbox_pay" if served_by_sandbox(order.channel) else "web:pay"
                    return redirect(page, payment_no=payment.payment_no)
                return redirect("web:order", order_no=order.order_no)
        elif "edit" not in request.POST:
            status = 422
    unit = Money(product.price_fen)
    quantity = form.cleaned_data.get("quantity") if form.is_bound and hasattr(form, "cleaned_data") else None
    return render(request, "web/checkout.html", {
        "product": product, "form": form, "terms_text": terms_text(), "unit_price": unit, "confirm": confirm,
        "total": unit * (quantity or 1), "quantity": quantity or 1,
        "balance": balance(Accounts.wallet(request.user.id)),
    }, status=status)
