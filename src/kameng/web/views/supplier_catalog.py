"""A supplier's catalogue pages: edit a product's terms (price and refund rules apply to new orders only),
上架/下架, the change history, and the line-by-line report of a key import with its CSV download."""

from decimal import Decimal

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kameng.catalog.policies import percent, summary
from kameng.catalog.selectors import product_changes, product_for_manager
from kameng.catalog.services import product_set_on_sale, product_update
from kameng.core.errors import DomainError
from kameng.inventory.report import report_csv, report_filename

from ..access import supplier_required
from ..errors import error_text, not_found_as_404
from ..forms import ProductEditForm
from ..product_errors import add_domain_error
from ..reads import batch_for_supplier

EVENT_LABELS = {"created": _("创建商品"), "edited": _("修改"), "on_sale": _("上架"), "off_sale": _("下架")}
TERM_LABELS = {"name": _("商品名称"), "description": _("商品描述"), "price": _("售价"), "face_value": _("面值"),
               "delivery_promise_minutes": _("承诺发货时间（分钟）")}


def _mine(request, product_id: int):
    try:
        return product_for_manager(actor=request.user, product_id=product_id)
    except DomainError as exc:
        not_found_as_404(exc)
        raise


def _shown(field: str, value) -> str:
    if value is None or value == "":
        return "—"
    if field in ("price", "face_value"):
        return f"¥{value}"
    if field.endswith("_rate"):
        return f"{percent(Decimal(str(value)))}%"
    if field == "description":
        return summary(str(value))
    return str(value)


def change_rows(changes) -> list[dict]:
    """Each change as a person reads it: when, who, what, and every term's old → new in words."""
    rule_labels = {name: ProductEditForm.base_fields[name].label for name in ProductEditForm.POLICY_FIELDS}
    rows = []
    for change in changes:
        items = []
        if change.event == "edited":
            for field, (old, new) in change.changes.items():
                if field == "refund_policy":
                    old, new = old or {}, new or {}
                    for rule, label in rule_labels.items():
                        if old.get(rule) != new.get(rule):
                            items.append((label, _shown(rule, old.get(rule)), _shown(rule, new.get(rule))))
                else:
                    items.append((TERM_LABELS.get(field, field), _shown(field, old), _shown(field, new)))
        rows.append({"at": change.at, "who": change.actor.username, "event": change.event,
                     "event_label": EVENT_LABELS.get(change.event, "—"), "items": items})
    return rows


@supplier_required
def product_edit(request, product_id: int):
    product = _mine(request, product_id)
    form = ProductEditForm(request.POST or None, product=product)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                product_update(actor=request.user, product_id=product.id, changes=form.changes())
            except DomainError as exc:
                not_found_as_404(exc)
                add_domain_error(form, exc)
                status = exc.status
            else:
                messages.success(request, gettext("已保存。新的售价和退款规则只适用于此后的新订单，已下单的订单不变。"))
                return redirect("web:product_edit", product_id=product.id)
        else:
            status = 422
    history = change_rows(product_changes(actor=request.user, product_id=product.id, limit=100))
    return render(request, "web/supplier/product_edit.html",
                  {"form": form, "product": product, "history": history}, status=status)


@require_POST
@supplier_required
def product_sale(request, product_id: int):
    """上架 or 下架 (the button says which), then back to the page the button was on."""
    product = _mine(request, product_id)
    if request.POST.get("on_sale") not in ("0", "1"):  # a form that says neither changes nothing
        messages.error(request, gettext("请使用页面上的“上架”或“下架”按钮。"))
        return redirect("web:supplier_products")
    on_sale = request.POST["on_sale"] == "1"
    try:
        product_set_on_sale(actor=request.user, product_id=product.id, on_sale=on_sale)
    except DomainError as exc:
        not_found_as_404(exc)
        messages.error(request, error_text(exc))
    else:
        text = gettext("%(name)s 已上架。") if on_sale else gettext("%(name)s 已下架：买家看不到、也不能购买；已下单的订单照常处理。")
        messages.success(request, text % {"name": product.name})
    if request.POST.get("back") == "edit":
        return redirect("web:product_edit", product_id=product.id)
    return redirect("web:supplier_products")


@supplier_required
def import_report_csv(request, batch_id: int):
    """Every line not stocked: number and reason, never the line itself."""
    try:
        batch = batch_for_supplier(supplier=request.user, batch_id=batch_id)
    except DomainError as exc:
        not_found_as_404(exc)
        raise
    language = "en" if (get_language() or "").startswith("en") else "zh-hans"
    response = StreamingHttpResponse(report_csv(batch, language=language), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{report_filename(batch)}"'
    response["Cache-Control"] = "no-store"
    return response
