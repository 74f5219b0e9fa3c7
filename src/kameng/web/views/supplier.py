"""Supplier pages: products, key file imports with progress, manual deliveries."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from kameng.catalog.selectors import product_for_manager
from kameng.catalog.services import product_create
from kameng.core.errors import DomainError
from kameng.inventory.selectors import batches_of_supplier, report_runs
from kameng.orders.fulfilment import manual_deliver
from kameng.orders.selectors import orders_awaiting_manual_delivery

from ..access import supplier_required
from ..errors import error_text, not_found_as_404
from ..forms import KeyFileForm, ManualDeliveryForm, ProductForm
from ..imports import import_start
from ..product_errors import add_domain_error
from ..reads import batch_for_supplier, products_of_supplier


@supplier_required
def product_list(request):
    return render(request, "web/supplier/products.html", {"products": products_of_supplier(supplier=request.user),
                                                          "batches": batches_of_supplier(supplier=request.user)})


@supplier_required
def product_new(request):
    form = ProductForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                product = product_create(actor=request.user, **form.service_kwargs())
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status
            else:
                messages.success(request, gettext("商品已创建：%(name)s") % {"name": product.name})
                return redirect("web:supplier_products")
        else:
            status = 422
    return render(request, "web/supplier/product_form.html", {"form": form}, status=status)


@supplier_required
def key_import(request, product_id: int):
    try:
        product = product_for_manager(actor=request.user, product_id=product_id)
    except DomainError as exc:
        not_found_as_404(exc)
        raise
    form = KeyFileForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                batch = import_start(actor=request.user, product_id=product.id, upload=form.cleaned_data["file"])
            except DomainError as exc:
                not_found_as_404(exc)
                form.add_error(None, error_text(exc))
                status = exc.status
            else:
                return redirect("web:import_progress", batch_id=batch.id)
        else:
            status = 422
    recent = product.import_batches.order_by("-id")[:10]  # this product's last imports, each with its report
    return render(request, "web/supplier/import.html", {"form": form, "product": product, "recent": recent},
                  status=status)


def _batch(request, batch_id: int):
    try:
        return batch_for_supplier(supplier=request.user, batch_id=batch_id)
    except DomainError as exc:
        not_found_as_404(exc)
        raise


@supplier_required
def import_progress(request, batch_id: int):
    """The import's progress and, once it has lines to report, which were not stocked and why."""
    batch = _batch(request, batch_id)
    runs, total = report_runs(batch)
    return render(request, "web/supplier/import_progress.html",
                  {"batch": batch, "runs": runs, "run_total": total, "runs_shown": len(runs)})


@supplier_required
def import_status(request, batch_id: int):
    """What the progress page polls: counters only, never a key."""
    batch = _batch(request, batch_id)
    return JsonResponse({
        "status": batch.status, "status_label": batch.get_status_display(), "total": batch.total_lines,
        "processed": batch.processed, "imported": batch.imported, "duplicates": batch.duplicates,
        "rejected": batch.rejected, "error": batch.error,
    }, headers={"Cache-Control": "no-store"})


@supplier_required
def manual_orders(request):
    orders = list(orders_awaiting_manual_delivery(supplier=request.user))
    forms = [(order, ManualDeliveryForm(count=order.quantity, prefix=order.order_no)) for order in orders]
    return render(request, "web/supplier/manual.html", {"rows": forms})


@require_POST
@supplier_required
def manual_deliver_view(request, order_no: str):
    order = orders_awaiting_manual_delivery(supplier=request.user).filter(order_no=order_no[:32]).first()
    if order is None:
        messages.error(request, gettext("该订单当前不在待发货状态。"))
        return redirect("web:manual_orders")
    form = ManualDeliveryForm(request.POST, count=order.quantity, prefix=order.order_no)
    if not form.is_valid():
        messages.error(request, gettext("请为每件商品填写发货内容。"))
        return redirect("web:manual_orders")
    try:
        manual_deliver(actor=request.user, order_no=order.order_no, contents=form.contents())
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return redirect("web:manual_orders")
    messages.success(request, gettext("订单 %(no)s 已发货。") % {"no": order.order_no})
    return redirect("web:manual_orders")
