"""The book in the admin: read only. Money moves through `journal_post` (balanced, once); a journal added or an
account's kept balance edited here would bypass both, so the admin shows them and changes nothing."""

from django.contrib import admin

from kameng.core.admin_money import YuanInline
from kameng.inventory.admin import ReadOnlyAdmin

from .models import Journal, LedgerAccount, Posting


class PostingInline(YuanInline, admin.TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    fields = readonly_fields = ("account", "amount_fen")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Journal)
class JournalAdmin(ReadOnlyAdmin):
    list_display = ("reference", "kind", "at", "order", "payment")
    list_filter = ("kind",)
    search_fields = ("reference",)
    inlines = [PostingInline]


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "owner", "running_fen")
    list_filter = ("kind",)
    search_fields = ("code", "owner__username")
