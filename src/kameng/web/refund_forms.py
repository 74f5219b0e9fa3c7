"""After-sales page forms: they check shape; the services decide eligibility, fees and states."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from kameng.aftersales.models import RejectReason
from kameng.aftersales.policies import ALL_REASONS

from .forms import TextField

MONEY = {"max_digits": 11, "decimal_places": 2, "min_value": Decimal("0")}
DESTINATIONS = [("original", _("原路退回（原支付方式）")), ("wallet", _("退到钱包（更快到账）"))]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input type=file multiple>; cleans to a list (empty when none and not required)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            files = [single(item, initial) for item in data if item]
            if not files and self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return files
        cleaned = single(data, initial)
        return [cleaned] if cleaned else []


EVIDENCE_HELP = _("可一次选择多个文件：截图、录屏、PDF 或文本；图片最大 10 MB，PDF 20 MB，视频 50 MB，一次合计不超过 50 MB。")


class RefundApplyForm(forms.Form):
    items = forms.TypedMultipleChoiceField(label=_("申请退款的商品"), coerce=int, widget=forms.CheckboxSelectMultiple,
                                           error_messages={"required": _("请至少选择一件商品。")})
    # The reasons are drawn by the template (each with its eligibility); the field only checks the code.
    reason = forms.ChoiceField(label=_("退款原因"), choices=[(code, code) for code in ALL_REASONS],
                               error_messages={"required": _("请选择一个可申请的退款原因。")})
    description = TextField(label=_("问题描述"), max_length=4000,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    destination = forms.ChoiceField(label=_("退款去向"), choices=DESTINATIONS, initial="original",
                                    widget=forms.RadioSelect)
    file = MultipleFileField(label=_("证据文件"), required=False, help_text=EVIDENCE_HELP)

    def __init__(self, *args, items, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = [(item.id, _("第 %(n)d 件") % {"n": item.position}) for item in items]
        self.fields["items"].initial = [item.id for item in items]


class EvidenceForm(forms.Form):
    file = MultipleFileField(label=_("上传证据"), help_text=EVIDENCE_HELP,
                             error_messages={"required": _("请选择要上传的文件。")})


class MessageForm(forms.Form):
    body = TextField(label=_("留言"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class AppealForm(forms.Form):
    description = TextField(label=_("申诉理由"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))


class RequestInfoForm(forms.Form):
    message = TextField(label=_("需要买家补充的内容"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class ApproveForm(forms.Form):
    amount = forms.DecimalField(label=_("退款金额（元，留空为申请金额减手续费）"), required=False, **MONEY)
    fee = forms.DecimalField(label=_("手续费（元，留空按规则）"), required=False, **MONEY)
    note = TextField(label=_("备注"), max_length=4000, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


class RejectForm(forms.Form):
    reason_code = forms.ChoiceField(label=_("驳回理由"), choices=RejectReason.choices)
    note = TextField(label=_("向买家说明"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
