from django.contrib import admin

from kameng.inventory.admin import ReadOnlyAdmin

from .models import Refund, RefundEvent, RefundPayout


class RefundEventInline(admin.TabularInline):
    model = RefundEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "actor", "event", "note")


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("refund_no", "order", "reason", "status", "amount_fen", "refund_amount_fen", "sla_due_at", "escalated")
    list_filter = ("status", "reason", "escalated")
    search_fields = ("refund_no", "order__order_no")
    inlines = [RefundEventInline]


@admin.register(RefundPayout)
class RefundPayoutAdmin(ReadOnlyAdmin):
    list_display = ("request_no", "refund", "channel", "amount_fen", "status", "gateway_ref", "expected_arrival_by")
    list_filter = ("status", "channel")
