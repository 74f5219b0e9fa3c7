"""The holiday calendar in the Django admin (节假日安排), and its running-out warning on the admin index."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .admin_names import name_library_columns
from .models import Holiday

# The admin index shows the holiday calendar's running-out warning above the app list.
admin.site.index_template = "core/admin_index.html"
# The libraries' admins (django-tasks, django-axes) are registered before ours: their computed columns get names.
name_library_columns(admin.site)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "weekday", "kind", "name", "changed_at")
    list_filter = ("kind", ("date", admin.DateFieldListFilter))
    date_hierarchy = "date"
    search_fields = ("name",)
    fields = ("date", "kind", "name")
    ordering = ("-date",)

    @admin.display(description=_("星期"))
    def weekday(self, obj):
        return "一二三四五六日"[obj.date.weekday()]

    def changelist_view(self, request, extra_context=None):
        from django.contrib import messages

        from .workdays import running_out_warning

        warning = running_out_warning()
        if warning:
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)
