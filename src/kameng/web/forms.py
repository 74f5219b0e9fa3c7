"""Page forms: they check shape; the services check the rules."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from kameng.accounts.models import RefundDestination
from kameng.catalog.models import ProductKind
from kameng.catalog.policies import (
    MAX_DELIVERY_PROMISE_MINUTES,
    MAX_LATE_COMPENSATION_RATE,
    MAX_PERSONAL_FEE_RATE,
    PRODUCT_DESCRIPTION_MAX,
    WHOLE_NUMBER_BOUNDS,
)
from kameng.core.text import InvalidText, clean_text
from kameng.orders.models import Channel
from kameng.orders.phone_topup import carrier_label, check_number, product_carrier
from kameng.payments.services import GATEWAY_CHANNELS

MONEY = {"max_digits": 11, "decimal_places": 2}


class TextField(forms.CharField):
    """A CharField judged by kameng.core.text, like the API's text types: text that cannot be stored is
    refused, bidi controls and zero-width characters are stripped before length and vagueness checks.
    `one_line` for names."""

    def __init__(self, *args, one_line: bool = False, **kwargs):
        self.one_line = one_line
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        try:
            value = clean_text(value, one_line=self.one_line)
        except InvalidText as exc:
            raise forms.ValidationError(_("文本含有不允许的字符（空字符、孤立代理项或控制字符）。"), code="invalid_text") from exc
        return value.strip() if self.strip else value


class CheckoutForm(forms.Form):
    quantity = forms.IntegerField(label=_("数量"), min_value=1, initial=1)
    channel = forms.ChoiceField(label=_("支付方式"), choices=Channel.choices, initial=Channel.ALIPAY,
                                widget=forms.RadioSelect)
    recharge_account = TextField(label=_("充值账号"), max_length=64, required=False,
                                       help_text=_("手机号或游戏账号，直充商品必填"))
    accept_terms = forms.BooleanField(
        label=_("我已知悉并同意：本商品为数字商品，依《消费者权益保护法》第二十五条不适用七日无理由退货。"),
        required=True,
        error_messages={"required": _("请先勾选确认：数字商品不适用七日无理由退货。")},
    )

    def __init__(self, *args, product, **kwargs):
        super().__init__(*args, **kwargs)
        self.product = product
        self.fields["quantity"].max_value = settings.KAMENG_MAX_QUANTITY
        self.fields["quantity"].widget.attrs["max"] = settings.KAMENG_MAX_QUANTITY
        self.carrier = product_carrier(product.name) if product.kind == ProductKind.TOPUP else None
        if product.kind == ProductKind.TOPUP:
            self.fields["recharge_account"].required = True
            if self.carrier is not None:  # a phone top-up: the number, for the carrier the product names
                field = self.fields["recharge_account"]
                field.label = _("充值手机号")
                field.widget.attrs.update({"inputmode": "numeric", "autocomplete": "tel", "maxlength": 16})
                field.help_text = (_("请填写%(carrier)s的 11 位手机号") % {"carrier": carrier_label(self.carrier)} if self.carrier
                                   else _("请填写 11 位中国大陆手机号"))
        else:
            del self.fields["recharge_account"]

    def clean_recharge_account(self):
        """The same rule the order service applies (kameng.orders.phone_topup), said at the field."""
        value = self.cleaned_data.get("recharge_account", "")
        if self.carrier is None or not value:
            return value
        check = check_number(value, self.carrier)
        if check.problem == "not_mobile":
            raise forms.ValidationError(
                _("“%(value)s”不是有效的中国大陆手机号：手机号为 11 位数字，以 1 开头，例如 138 0013 8000。"),
                params={"value": value}, code="not_mobile")
        if check.problem == "wrong_carrier":
            raise forms.ValidationError(
                _("%(number)s 是%(carrier)s号码，本商品只能为%(expected)s号码充值。请核对号码，或选择%(carrier)s的充值商品。"),
                params={"number": check.spaced(), "carrier": carrier_label(check.carrier) or _("其他运营商"),
                        "expected": carrier_label(self.carrier)},
                code="wrong_carrier")
        self.phone = check
        return check.number


class RechargeForm(forms.Form):
    amount = forms.DecimalField(label=_("充值金额（元）"), min_value=Decimal("0.01"), max_value=Decimal("50000"), **MONEY)
    channel = forms.ChoiceField(label=_("支付方式"), widget=forms.RadioSelect, initial="alipay",
                                choices=[(c, label) for c, label in Channel.choices if c in GATEWAY_CHANNELS])


def _hint(low, high, step=None) -> dict:
    """The browser's hint of a rule's bounds; the rule itself is checked by the service (catalog.policies)."""
    attrs = {"min": low, "max": high}
    if step:
        attrs["step"] = step
    return attrs


_INT = WHOLE_NUMBER_BOUNDS


class ProductForm(forms.Form):
    """The shape of a product's terms. Every rule (price above 0 with two places, the refund rules' bounds)
    is the service's: the same checks as the API and the admin, said at the field they concern."""

    name = TextField(label=_("商品名称"), max_length=200, one_line=True)
    kind = forms.ChoiceField(label=_("类型"), choices=ProductKind.choices)
    is_manual = forms.BooleanField(label=_("人工发货（不从库存自动发卡）"), required=False)
    price = forms.DecimalField(label=_("售价（元）"), widget=forms.NumberInput(attrs={"min": "0.01", "step": "0.01"}))
    face_value = forms.DecimalField(label=_("面值（元）"), initial=Decimal("0"),
                                    widget=forms.NumberInput(attrs={"min": "0", "step": "0.01"}))
    delivery_promise_minutes = forms.IntegerField(
        label=_("承诺发货时间（分钟）"), initial=5,
        widget=forms.NumberInput(attrs=_hint(0, MAX_DELIVERY_PROMISE_MINUTES)))
    description = TextField(label=_("商品描述"), required=False, max_length=PRODUCT_DESCRIPTION_MAX,
                            widget=forms.Textarea(attrs={"rows": 3, "class": "user-text"}))
    refund_window_hours = forms.IntegerField(label=_("售后申请时限（小时）"), initial=72,
                                             widget=forms.NumberInput(attrs=_hint(*_INT["refund_window_hours"])))
    personal_reason_fee_rate = forms.DecimalField(
        label=_("个人原因退款手续费率"), initial=Decimal("0.05"),
        help_text=_("如 0.05 即 5%，最高 0.10；只在买家因个人原因退款时收取"),
        widget=forms.NumberInput(attrs=_hint("0", str(MAX_PERSONAL_FEE_RATE), "0.01")))
    review_sla_workdays = forms.IntegerField(label=_("审核时限（工作日）"), initial=3,
                                             widget=forms.NumberInput(attrs=_hint(*_INT["review_sla_workdays"])))
    appeal_window_days = forms.IntegerField(label=_("申诉时限（天）"), initial=7,
                                            widget=forms.NumberInput(attrs=_hint(*_INT["appeal_window_days"])))
    info_reply_hours = forms.IntegerField(label=_("补充材料答复时限（小时）"), initial=24,
                                          widget=forms.NumberInput(attrs=_hint(*_INT["info_reply_hours"])))
    supplier_reply_hours = forms.IntegerField(
        label=_("供货商答复售后时限（小时，逾期视为同意退款）"), initial=24, required=False,
        widget=forms.NumberInput(attrs=_hint(*_INT["supplier_reply_hours"])))
    late_delivery_compensation_rate = forms.DecimalField(
        label=_("迟发补偿比例"), initial=Decimal("0.00"), required=False,
        widget=forms.NumberInput(attrs=_hint("0", str(MAX_LATE_COMPENSATION_RATE), "0.01")),
        help_text=_("超过承诺发货时间才发货时，按商品价格的这一比例补偿到买家钱包，由您承担；0 为不补偿，最高 0.50"))

    POLICY_FIELDS = ("refund_window_hours", "personal_reason_fee_rate", "review_sla_workdays",
                     "appeal_window_days", "info_reply_hours", "supplier_reply_hours", "late_delivery_compensation_rate")
    RATE_FIELDS = ("personal_reason_fee_rate", "late_delivery_compensation_rate")

    def refund_policy(self) -> dict:
        data = self.cleaned_data
        policy = {name: data[name] for name in self.POLICY_FIELDS if data.get(name) is not None}
        for name in self.RATE_FIELDS:  # the service takes rates as decimal strings, like the API
            if name in policy:
                policy[name] = str(policy[name])
        return policy

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"], "kind": data["kind"], "is_manual": data["is_manual"],
            "price": str(data["price"]), "face_value": str(data["face_value"]),
            "delivery_promise_minutes": data["delivery_promise_minutes"], "description": data["description"],
            "refund_policy": self.refund_policy(),
        }


class ProductEditForm(ProductForm):
    """A product's terms after creation: its kind and way of delivery stay (a different kind is a new product)."""

    def __init__(self, *args, product=None, **kwargs):
        if product is not None:  # shown when unbound; a bound form shows what was sent
            kwargs.setdefault("initial", self.initial_for(product))
        super().__init__(*args, **kwargs)
        del self.fields["kind"]
        del self.fields["is_manual"]

    @classmethod
    def initial_for(cls, product) -> dict:
        from kameng.core.money import Money

        initial = {"name": product.name, "description": product.description,
                   "price": Money(product.price_fen).yuan, "face_value": Money(product.face_value_fen).yuan,
                   "delivery_promise_minutes": product.delivery_promise_minutes}
        policy = product.refund_policy if isinstance(product.refund_policy, dict) else {}
        for name in cls.POLICY_FIELDS:
            if name in policy:
                initial[name] = policy[name]
        return initial

    def changes(self) -> dict:
        data = self.cleaned_data
        return {"name": data["name"], "description": data["description"], "price": str(data["price"]),
                "face_value": str(data["face_value"]), "delivery_promise_minutes": data["delivery_promise_minutes"],
                "refund_policy": self.refund_policy()}


class KeyFileForm(forms.Form):
    file = forms.FileField(label=_("卡密文件（UTF-8 文本，每行一个）"))


class ManualDeliveryForm(forms.Form):
    """One content per pending item of the order."""

    def __init__(self, *args, count: int, **kwargs):
        super().__init__(*args, **kwargs)
        for position in range(1, count + 1):
            self.fields[f"content_{position}"] = forms.CharField(
                label=_("第 %(n)d 件的内容") % {"n": position}, max_length=512,
                widget=forms.TextInput(attrs={"autocomplete": "off"}),
            )

    def contents(self) -> list[str]:
        return [self.cleaned_data[name] for name in self.fields]


class LanguageForm(forms.Form):
    # Each language named in itself: a reader who cannot read the page can still find their own.
    language = forms.ChoiceField(
        label=_("站内信、短信和邮件的语言"), choices=[("zh-hans", "简体中文"), ("en", "English")],
        widget=forms.RadioSelect,
        help_text=_("平台发给您的站内信、短信和邮件使用这种语言；在页面顶部切换语言时也会记住。"))


class RefundDestinationForm(forms.Form):
    refund_destination = forms.ChoiceField(
        label=_("平台主动退款的默认去向"), choices=RefundDestination.choices, widget=forms.RadioSelect,
        help_text=_("充值失败、无法发货或超过承诺时间未发货时，平台会主动退款，无需您申请。"
                    "原路退回：按付款渠道退回（1–5 个工作日）；退回钱包：即时到账。您自己申请的退款仍可逐笔选择。"))
