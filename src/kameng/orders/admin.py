from django.contrib import admin

from kameng.inventory.admin import ReadOnlyAdmin

from .models import Order, OrderEvent, TopupDispatch


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "actor", "event", "note")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("order_no", "buyer", "product", "quantity", "amount_fen", "refunded_fen", "status", "channel", "created_at")
    list_filter = ("status", "channel")
    search_fields = ("order_no",)
    inlines = [OrderEventInline]


@admin.register(TopupDispatch)
class TopupDispatchAdmin(ReadOnlyAdmin):
    list_display = ("order", "account", "status", "upstream_ref", "attempts", "dispatched_at", "finished_at")
    list_filter = ("status",)
