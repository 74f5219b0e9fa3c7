"""An admin configures a source: secrets are required, validated, stored encrypted and never shown back."""

import pytest
from django.test import Client

from kameng.catalog.models import SupplierSource
from kameng.core import crypto

API = "api-secret-0123456789abcdef"
NOTIFY = "notify-secret-0123456789abcdef"


@pytest.fixture
def staff(make_user):
    client = Client()
    client.force_login(make_user("admin"))
    return client


def form(**change):
    values = {"name": "话费货源", "endpoint_url": "https://api.example-source.cn/ksp", "merchant_id": "M10086",
              "timeout_seconds": "10", "is_active": "on", "api_secret": API, "notify_secret": NOTIFY}
    return {**values, **change}


def test_a_source_is_created_with_encrypted_secrets_and_edited_without_retyping_them(staff, settings):
    settings.KAMENG_SANDBOX = False
    created = staff.post("/admin/catalog/suppliersource/add/", form())
    assert created.status_code == 302, created.content.decode()[:2000]
    source = SupplierSource.objects.get()
    assert crypto.decrypt(source.api_secret_encrypted) == API
    assert crypto.decrypt(source.notify_secret_encrypted) == NOTIFY
    page = staff.get(f"/admin/catalog/suppliersource/{source.id}/change/")
    assert page.status_code == 200 and API.encode() not in page.content and NOTIFY.encode() not in page.content
    assert f"/api/v1/suppliers/notify/{source.id}".encode() in page.content

    edited = staff.post(f"/admin/catalog/suppliersource/{source.id}/change/",
                        form(api_secret="", notify_secret="", timeout_seconds="5"))
    assert edited.status_code == 302
    source.refresh_from_db()
    assert source.timeout_seconds == 5 and source.connection_settings().api_secret == API


@pytest.mark.parametrize("change, message", [
    ({"endpoint_url": "http://api.example-source.cn/ksp"}, "https"),
    ({"merchant_id": "M 10086"}, "商户号"),
    ({"timeout_seconds": "600"}, "超时"),
    ({"api_secret": ""}, "必须填写"),
    ({"notify_secret": "short"}, "16 到 256"),
])
def test_a_bad_source_is_refused_with_a_chinese_reason(staff, settings, change, message):
    settings.KAMENG_SANDBOX = False
    answer = staff.post("/admin/catalog/suppliersource/add/", form(**change))
    assert answer.status_code == 200 and message in answer.content.decode()
    assert not SupplierSource.objects.exists()
