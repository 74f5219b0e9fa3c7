"""The 批次隔离 page (admins) and the supplier's batch table, without a browser."""

import pytest
from django.test import Client

from kameng.inventory.models import CardSecret

from .conftest import batch_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarantined(product, claim_bad):
    claim_bad(product)
    claim_bad(product)
    return batch_of(product)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_only_an_admin_sees_the_page(quarantined, admin, supplier, reviewer):
    page = logged_in(admin).get("/staff/batches/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f'data-batch="{quarantined.id}"' in text and "已隔离" in text and "确认作废" in text
    assert "100.0%" in text and "quarantined" not in text.replace('"quarantined"', "").replace("=quarantined", "")
    for other in (supplier, reviewer):
        assert logged_in(other).get("/staff/batches/").status_code == 403
        assert logged_in(other).post(f"/staff/batches/{quarantined.id}/void/").status_code == 403
    assert CardSecret.objects.filter(batch=quarantined, status="frozen").count() == 8


def test_release_from_the_page_records_who(quarantined, admin):
    client = logged_in(admin)
    answer = client.post(f"/staff/batches/{quarantined.id}/release/", {"note": "核实为买家误操作"}, follow=True)
    assert "已解除隔离" in answer.content.decode()
    quarantined.refresh_from_db()
    assert quarantined.quarantine == "released" and quarantined.quarantine_decided_by == admin
    again = client.post(f"/staff/batches/{quarantined.id}/void/", follow=True)
    assert "未处于隔离状态" in again.content.decode()
    listed = client.get("/staff/batches/?state=released").content.decode()
    assert "核实为买家误操作" in listed and admin.username in listed
    assert client.post("/staff/batches/999999/void/").status_code == 404


def test_the_page_reads_in_english_too(quarantined, admin):
    client = logged_in(admin)
    client.cookies["django_language"] = "en"
    text = client.get("/staff/batches/").content.decode()
    assert "Batch quarantine" in text and "Confirm: void" in text


def test_the_supplier_sees_its_batch_held_back(quarantined, supplier):
    text = logged_in(supplier).get("/supplier/products/").content.decode()
    assert f'data-batch="{quarantined.id}"' in text and "已隔离" in text and "隔离中" in text
