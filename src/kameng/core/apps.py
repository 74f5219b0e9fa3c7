from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kameng.core"
    label = "core"
    verbose_name = "基础设置"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete, post_migrate, post_save

        from . import admin_names, holidays, workdays

        admin_names.name_everything()  # what the admin shows: Chinese names without a migration per app
        from .models import Holiday

        # Deadlines read the holiday table from memory: a change here is seen at once in this process.
        post_save.connect(workdays.table_changed, sender=Holiday, dispatch_uid="kameng-holiday-saved")
        post_delete.connect(workdays.table_changed, sender=Holiday, dispatch_uid="kameng-holiday-deleted")
        # A flushed database gets the library's calendar back, as it gets content types back.
        post_migrate.connect(holidays.seed_after_migrate, sender=self, dispatch_uid="kameng-holiday-seed")
