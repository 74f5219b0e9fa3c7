from django.contrib import admin

from kameng.inventory.admin import ReadOnlyAdmin

from .models import Payment, PaymentNotification, ReconciliationRun


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("payment_no", "purpose", "order", "payer", "channel", "amount_fen", "status", "trade_no", "paid_at")
    list_filter = ("status", "channel", "purpose")
    search_fields = ("payment_no", "trade_no")


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "gateway", "kind", "payment_no", "trade_no", "outcome")
    list_filter = ("kind", "outcome")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "channel", "day", "source", "status", "matched", "missing_here", "missing_there",
                    "amount_differs", "repaired")
    list_filter = ("channel", "status")
