"""The holiday calendar table (节假日安排), seeded with every notice the installed chinesecalendar knows."""

from django.db import migrations, models


def seed(apps, schema_editor):
    from kameng.core.holidays import seed_from_library

    seed_from_library(apps.get_model("core", "Holiday"))


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_worker_lease"),
    ]

    operations = [
        migrations.CreateModel(
            name="Holiday",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField(unique=True, verbose_name="日期")),
                ("kind", models.CharField(choices=[("holiday", "放假"), ("workday", "调休上班")], max_length=10,
                                          verbose_name="类型")),
                ("name", models.CharField(blank=True, default="", help_text="如：元旦、春节、国庆节", max_length=40,
                                          verbose_name="节日名称")),
                ("changed_at", models.DateTimeField(verbose_name="修改时间")),
            ],
            options={"verbose_name": "节假日安排", "verbose_name_plural": "节假日安排", "ordering": ["date"]},
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
