from django.contrib import admin

from .models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "kind", "price_fen", "supplier", "is_manual", "is_active", "created_at")
    list_filter = ("kind", "is_manual", "is_active")
    search_fields = ("name",)
    raw_id_fields = ("supplier",)
