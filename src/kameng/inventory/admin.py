"""Stock in the admin: counts, batches and issue records — never a secret, not even encrypted."""

from django.contrib import admin

from .models import BatchEvent, CardSecret, ImportBatch, KeyIssue, RevealRecord


class ReadOnlyAdmin(admin.ModelAdmin):
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
    list_display = ("id", "secret_id", "order_item", "issued_at", "returned_at")


@admin.register(RevealRecord)
class RevealRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "order_item", "user", "revealed_at", "ip_address")
