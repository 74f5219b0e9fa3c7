# Snapshots stored once per product version (kameng.orders.snapshots): each order's copy moves to a shared,
# content-addressed ProductSnapshot row, and the order keeps a pointer. `captured_at` is the order's own
# moment (its created_at) and is not part of the stored content.

import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models

CHUNK = 2000


def _content(snapshot: dict) -> dict:
    return {key: value for key, value in (snapshot or {}).items() if key != "captured_at"}


def _digest(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def to_versions(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    ProductSnapshot = apps.get_model("orders", "ProductSnapshot")
    known: dict[str, int] = {}
    last = 0
    while True:
        rows = list(Order.objects.filter(id__gt=last).order_by("id")
                    .values_list("id", "product_id", "snapshot", "created_at")[:CHUNK])
        if not rows:
            break
        changed = []
        for order_id, product_id, snapshot, created_at in rows:
            content = _content(snapshot)
            digest = _digest(content)
            version = known.get(digest)
            if version is None:
                version = ProductSnapshot.objects.create(digest=digest, product_id=content.get("product_id") or product_id,
                                                         data=content, created_at=created_at).id
                known[digest] = version
            changed.append(Order(id=order_id, snapshot_version_id=version))
        Order.objects.bulk_update(changed, ["snapshot_version"])
        last = rows[-1][0]


def to_copies(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    ProductSnapshot = apps.get_model("orders", "ProductSnapshot")
    data = dict(ProductSnapshot.objects.values_list("id", "data"))
    last = 0
    while True:
        rows = list(Order.objects.filter(id__gt=last).order_by("id")
                    .values_list("id", "snapshot_version_id", "created_at")[:CHUNK])
        if not rows:
            break
        changed = [Order(id=order_id, snapshot={**data.get(version, {}), "captured_at": created_at.isoformat()})
                   for order_id, version, created_at in rows]
        Order.objects.bulk_update(changed, ["snapshot"])
        last = rows[-1][0]


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0002_supplier_sources'),
        ('orders', '0002_topup_cancelled_and_sandbox_supplier'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProductSnapshot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('digest', models.CharField(max_length=64, unique=True)),
                ('data', models.JSONField()),
                ('created_at', models.DateTimeField()),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.product')),
            ],
        ),
        migrations.AddField(
            model_name='order',
            name='snapshot_version',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orders.productsnapshot'),
        ),
        # Reversible: going back copies each version onto its orders again.
        migrations.AlterField(model_name='order', name='snapshot', field=models.JSONField(null=True)),
        migrations.RunPython(to_versions, to_copies),
        migrations.RemoveField(
            model_name='order',
            name='snapshot',
        ),
    ]
