from django.apps import AppConfig


class AftersalesConfig(AppConfig):
    name = "kameng.aftersales"
    label = "aftersales"
    default_auto_field = "django.db.models.BigAutoField"
