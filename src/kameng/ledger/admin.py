from django.contrib import admin

from .models import Journal, LedgerAccount, Posting


class PostingInline(admin.TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    readonly_fields = ("account", "amount_fen")


@admin.register(Journal)
class JournalAdmin(admin.ModelAdmin):
    list_display = ("reference", "kind", "at", "order", "payment")
    list_filter = ("kind",)
    search_fields = ("reference",)
    inlines = [PostingInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(admin.ModelAdmin):
    list_display = ("code", "kind", "owner")
    search_fields = ("code",)
