"""Amounts in the Django admin read as yuan ("98.00"), never as a count of fen ("AMOUNT FEN 9800").

The database keeps whole fen (kameng.core.money); `YuanAdmin` swaps every `*_fen` column of a list and
every `*_fen` field of a read-only page for a `*_yuan` column that formats it, named after the field
("金额（元）"). Editable amounts (a product's price) are typed in yuan by their own forms.
"""

from django.contrib import admin
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .admin_names import money_stem
from .money import Money


def yuan_text(fen) -> str:
    return "—" if fen is None else str(Money(fen))


def yuan_column(field_name: str):
    """A list/read-only column showing `field_name` (fen) as yuan."""
    stem = money_stem(field_name) or field_name.removesuffix("_fen")

    @admin.display(description=format_lazy("{}{}", stem, _("（元）")), ordering=field_name)
    def column(obj):
        return yuan_text(getattr(obj, field_name))

    return column


def _yuan_name(name) -> str:
    return f"{name[:-4]}_yuan" if isinstance(name, str) and name.endswith("_fen") else name


class YuanAdmin(admin.ModelAdmin):
    """A ModelAdmin whose amounts are shown in yuan: in the list, and on the page of one row."""

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        for field in model._meta.concrete_fields:
            if field.name.endswith("_fen") and not hasattr(self, _yuan_name(field.name)):
                setattr(self, _yuan_name(field.name), yuan_column(field.name))

    def get_list_display(self, request):
        return [_yuan_name(name) for name in super().get_list_display(request)]

    def _shown_read_only(self, request, obj) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self._shown_read_only(request, obj):
            return list(dict.fromkeys(_yuan_name(name) for name in fields))  # each once, in the model's order
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = [_yuan_name(name) for name in super().get_readonly_fields(request, obj)]
        if self._shown_read_only(request, obj):
            readonly += [_yuan_name(f.name) for f in self.model._meta.concrete_fields
                         if f.name.endswith("_fen") and _yuan_name(f.name) not in readonly]
        return readonly


class YuanInline:
    """The same for an inline's read-only amounts (a journal's postings)."""

    def __init__(self, parent_model, admin_site):
        super().__init__(parent_model, admin_site)
        for field in self.model._meta.concrete_fields:
            if field.name.endswith("_fen") and not hasattr(self, _yuan_name(field.name)):
                setattr(self, _yuan_name(field.name), yuan_column(field.name))
        self.readonly_fields = [_yuan_name(name) for name in self.readonly_fields]
        if self.fields is not None:
            self.fields = [_yuan_name(name) for name in self.fields]
