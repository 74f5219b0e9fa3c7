from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """A buyer's own records: the export of everything the platform holds about them."""

    name = "kameng.records"
    label = "records"
    default_auto_field = "django.db.models.BigAutoField"
