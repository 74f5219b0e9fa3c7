from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kameng.core import clock
from kameng.core.admin_money import YuanAdmin
from kameng.core.error_texts import text_for
from kameng.core.errors import Invalid
from kameng.core.money import Money

from .models import Product, SupplierNotification, SupplierSource
from .services import product_change_record, terms_state
from .suppliers.base import SupplierError

MAX_PRICE_FEN = 10**11  # what product creation accepts (catalog.services)


class SupplierSourceForm(forms.ModelForm):
    """The secrets are write-only: never rendered back, replaced only when a new value is typed."""

    api_secret = forms.CharField(label=_("接口密钥"), required=False, strip=True,
                                 widget=forms.PasswordInput(render_value=False),
                                 help_text=_("我方请求的签名密钥（HMAC-SHA256）。保存后不再显示；留空则保持不变。"))
    notify_secret = forms.CharField(label=_("回调密钥"), required=False, strip=True,
                                    widget=forms.PasswordInput(render_value=False),
                                    help_text=_("货源应答与结果回调的签名密钥。保存后不再显示；留空则保持不变。"))

    class Meta:
        model = SupplierSource
        fields = ("name", "endpoint_url", "merchant_id", "timeout_seconds", "is_active")

    def clean_endpoint_url(self):
        from urllib.parse import urlsplit

        url = self.cleaned_data["endpoint_url"].strip()
        parts = urlsplit(url)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and (local or settings.KAMENG_SANDBOX)):
            raise ValidationError(_("接口地址必须使用 https。"))
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValidationError(_("接口地址不能包含查询参数、片段或账号密码。"))
        return url

    def clean_merchant_id(self):
        value = self.cleaned_data["merchant_id"].strip()
        if not value.isascii() or not all(c.isalnum() or c in "-_" for c in value):
            raise ValidationError(_("商户号只能包含字母、数字、- 和 _。"))
        return value

    def clean_timeout_seconds(self):
        value = self.cleaned_data["timeout_seconds"]
        if not 1 <= value <= 60:
            raise ValidationError(_("超时须在 1 到 60 秒之间。"))
        return value

    def _secret(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        creating = self.instance.pk is None
        if not value:
            if creating:
                raise ValidationError(_("新建货源时必须填写此密钥。"))
            return ""
        if len(value) < 16 or len(value) > 256 or not value.isascii() or not value.isprintable() or " " in value:
            raise ValidationError(_("密钥须为 16 到 256 个可打印 ASCII 字符，且不含空格。"))
        return value

    def clean_api_secret(self):
        return self._secret("api_secret")

    def clean_notify_secret(self):
        return self._secret("notify_secret")

    def save(self, commit=True):
        source = super().save(commit=False)
        now = clock.now()
        source.created_at = source.created_at or now
        source.updated_at = now
        source.set_secrets(api_secret=self.cleaned_data.get("api_secret"),
                           notify_secret=self.cleaned_data.get("notify_secret"))
        if commit:
            source.save()
        return source


@admin.register(SupplierSource)
class SupplierSourceAdmin(admin.ModelAdmin):
    form = SupplierSourceForm
    list_display = ("id", "name", "endpoint_url", "merchant_id", "timeout_seconds", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "merchant_id")
    readonly_fields = ("notify_url",)
    actions = ["query_balance"]

    @admin.display(description=_("回调地址（填写到货源后台）"))
    def notify_url(self, source):
        from .supply import notify_url

        return notify_url(source) if source.pk else _("保存后生成")

    @admin.action(description=_("查询所选货源的余额"))
    def query_balance(self, request, queryset):
        from .suppliers.protocol import yuan
        from .supply import balance_fen

        for source in queryset:
            try:
                figure = balance_fen(source)
            except SupplierError as exc:
                self.message_user(request, _("%(name)s：余额查询失败（%(why)s）") % {"name": source.name,
                                  "why": type(exc).__name__}, messages.WARNING)
                continue
            self.message_user(request, _("%(name)s：余额 %(yuan)s 元") % {"name": source.name, "yuan": yuan(figure)})

    def has_delete_permission(self, request, obj=None):  # orders point at it; switch it off instead
        return False


@admin.register(SupplierNotification)
class SupplierNotificationAdmin(admin.ModelAdmin):
    list_display = ("received_at", "source", "order_no", "outcome")
    list_filter = ("outcome",)
    search_fields = ("order_no",)
    readonly_fields = ("source", "source_ref", "order_no", "nonce", "nonce_spent", "fields", "outcome", "received_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ProductAdminForm(forms.ModelForm):
    """A product as the admin edits it: prices typed in yuan, and every rule the supplier's page and the API
    apply on creation (kameng.catalog.policies) applied here too — a 50 % fee or a malformed policy is a form
    error, never a row that makes the product page fail."""

    price = forms.CharField(label=_("售价（元）"), max_length=16, help_text=_("如 98.00，大于 0，最多两位小数。"))
    face_value = forms.CharField(label=_("面值（元）"), max_length=16, initial="0.00",
                                 help_text=_("如 100.00，最多两位小数；没有面值填 0。"))

    class Meta:
        model = Product
        fields = ("supplier", "name", "description", "kind", "price", "face_value", "delivery_promise_minutes",
                  "refund_policy", "is_manual", "source", "source_sku", "is_active", "created_at", "updated_at")
        help_texts = {"refund_policy": _(
            "JSON 对象，字段可省略（取默认值）：refund_window_hours、personal_reason_fee_rate（如 \"0.05\"，最高 0.10）、"
            "review_sla_workdays、appeal_window_days、info_reply_hours、supplier_reply_hours、"
            "late_delivery_compensation_rate（迟发补偿比例，如 \"0.10\"，默认 \"0.00\" 不补偿，最高 0.50）。")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["price"] = str(Money(self.instance.price_fen))
            self.initial["face_value"] = str(Money(self.instance.face_value_fen))

    def _yuan(self, name: str, *, positive: bool) -> int:
        from kameng.core.money import InvalidAmount

        try:
            fen = Money.parse(self.cleaned_data.get(name, "")).fen
        except InvalidAmount as exc:
            raise ValidationError(_("金额须为最多两位小数的数字，如 98.00。")) from exc
        if fen < 0 or (positive and fen == 0) or fen > MAX_PRICE_FEN:
            raise ValidationError(_("售价须大于 0。") if positive else _("面值不能为负数。"))
        return fen

    def clean_price(self):
        return self._yuan("price", positive=True)

    def clean_face_value(self):
        return self._yuan("face_value", positive=False)

    def clean_refund_policy(self):
        """The same rules as the API and the supplier's page: a bad policy is refused, a good one stored whole."""
        from .policies import RefundPolicy

        try:
            return RefundPolicy.from_input(self.cleaned_data.get("refund_policy")).to_stored()
        except Invalid as exc:
            raise ValidationError(_why(exc)) from exc

    def clean(self):
        data = super().clean()
        from .policies import product_text

        if "name" in data:
            try:
                data["name"], data["description"] = product_text(name=data["name"],
                                                                 description=data.get("description") or "")
            except Invalid as exc:
                raise ValidationError(_why(exc)) from exc
        minutes = data.get("delivery_promise_minutes")
        if minutes is not None and not 0 <= minutes <= 60 * 24 * 7:
            self.add_error("delivery_promise_minutes", _("承诺发货时间须在 0 到 10080 分钟之间。"))
        if data.get("source") is not None:
            if data.get("is_manual"):
                raise ValidationError(_("人工发货的商品不能指定货源。"))
            if not data.get("source_sku"):
                raise ValidationError(_("指定货源时必须填写货源商品编码。"))
        return data

    def save(self, commit=True):
        product = super().save(commit=False)
        product.price_fen = self.cleaned_data["price"]
        product.face_value_fen = self.cleaned_data["face_value"]
        product.updated_at = clock.now()
        if commit:
            product.save()
        return product


def _why(exc: Invalid) -> str:
    """The reason in the admin's words, with the rule that failed (its field name, for whoever fixes the JSON)."""
    from kameng.core.error_texts import is_english

    return f"{text_for(exc.code, exc.message)} ({exc.message})" if is_english() else \
        f"{text_for(exc.code, exc.message)}（{exc.message}）"


@admin.register(Product)
class ProductAdmin(YuanAdmin):
    form = ProductAdminForm
    list_display = ("id", "name", "kind", "price_fen", "supplier", "source", "is_manual", "is_active", "created_at")
    list_filter = ("kind", "is_manual", "is_active", "source")
    search_fields = ("name",)
    raw_id_fields = ("supplier",)

    def save_model(self, request, obj, form, change):
        # An admin's edit joins the product's change history like a supplier's (who, when, old → new), so a
        # buyer's dispute can still show the page as it was.
        before = terms_state(Product.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        if before is not None:
            product_change_record(actor=request.user, product=obj, before=before)
