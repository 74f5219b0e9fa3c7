"""Stock in the admin: counts, batches and issue records — never a secret, not even encrypted."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kameng.core.admin_money import YuanAdmin

from .models import BatchEvent, CardSecret, ImportBatch, KeyIssue, RevealRecord


class ReadOnlyAdmin(YuanAdmin):
    """Records that only services write: the admin reads them (amounts in yuan) and changes nothing."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CardSecret)
class CardSecretAdmin(ReadOnlyAdmin):
    list_display = ("id", "product", "status", "batch", "created_at")
    list_filter = ("status",)
    fields = ("id", "product", "status", "batch", "reserved_order", "created_at")  # no ciphertext, no fingerprint
    readonly_fields = fields


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "product", "imported_by", "source", "status", "imported", "duplicates", "rejected", "started_at",
                    "quarantine")
    list_filter = ("status", "source", "quarantine")


@admin.register(BatchEvent)
class BatchEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "batch", "at", "actor", "event")


@admin.register(KeyIssue)
class KeyIssueAdmin(ReadOnlyAdmin):
    list_display = ("id", "secret_number", "order_item", "issued_at", "returned_at")

    @admin.display(description=_("卡密编号"), ordering="secret_id")
    def secret_number(self, issue):
        return issue.secret_id  # the row's number only: never the key


@admin.register(RevealRecord)
class RevealRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "order_item", "user", "revealed_at", "ip_address")
