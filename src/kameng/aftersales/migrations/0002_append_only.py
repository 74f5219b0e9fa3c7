from django.db import migrations

from kameng.core.append_only import operation


class Migration(migrations.Migration):
    dependencies = [
        ("aftersales", "0001_initial"),
        ("orders", "0001_initial"),
        ("inventory", "0001_initial"),
        ("ledger", "0001_initial"),
    ]

    operations = [operation()]
