"""SQLite gains the DELETE triggers PostgreSQL already had (its triggers are recreated unchanged)."""

from django.db import migrations

from kameng.core.append_only import operation


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("aftersales", "0002_append_only"),
    ]

    operations = [operation()]
