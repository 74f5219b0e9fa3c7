"""Brute force is throttled on every login path, and a new password ends every old token and session."""

import json

import pytest
from django.test import Client

from kameng.accounts.models import ApiToken

WRONG = "not-the-password"


def token_call(client, username, password, ip="10.0.0.7"):
    return client.post("/api/v1/auth/token", data=json.dumps({"username": username, "password": password}),
                       content_type="application/json", REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_token_endpoint_locks_out_after_five_failures(buyer, make_user, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert token_call(client, buyer.username, WRONG).status_code == 401
    locked = token_call(client, buyer.username, WRONG)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"
    assert "登录失败次数过多" in locked.json()["error"]["message"]
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    # Now even the right password is refused from there: guessing has stopped paying.
    right = token_call(client, buyer.username, "secret123")
    assert right.status_code == 429 and "token" not in right.json()
    assert not ApiToken.objects.filter(user=buyer).exists()
    # The lockout is for that username from that address: the user elsewhere and others here still log in.
    assert token_call(client, buyer.username, "secret123", ip="10.0.0.8").status_code == 200
    other = make_user("buyer")
    assert token_call(client, other.username, "secret123").status_code == 200


@pytest.mark.django_db
def test_a_success_before_the_limit_starts_the_count_again(buyer, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        token_call(client, buyer.username, WRONG)
    assert token_call(client, buyer.username, "secret123").status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert token_call(client, buyer.username, WRONG).status_code == 401
    assert token_call(client, buyer.username, "secret123").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_login_pages_lock_out_with_a_clear_chinese_message(path, admin, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page = client.post(path, {"username": admin.username, "password": WRONG}, REMOTE_ADDR="10.0.0.9")
        assert page.status_code == 200  # the form again, with its error
    locked = client.post(path, {"username": admin.username, "password": WRONG}, REMOTE_ADDR="10.0.0.9")
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "登录失败次数过多" in text and f"{settings.AXES_COOLOFF_TIME.seconds // 60} 分钟后再试" in text
    right = client.post(path, {"username": admin.username, "password": "secret123"}, REMOTE_ADDR="10.0.0.9")
    assert right.status_code == 429 and "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_password_change_ends_every_api_token(api_as, buyer):
    first, second = api_as(buyer), api_as(buyer)
    assert first.get("/me").status_code == 200 and second.get("/me").status_code == 200
    buyer.set_password("a-new-password")
    buyer.save()
    for api in (first, second):
        refused = api.get("/me")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHENTICATED"
    assert not ApiToken.objects.filter(user=buyer).exists()  # revoked, not merely refused
    fresh = token_call(Client(), buyer.username, "a-new-password")
    assert fresh.status_code == 200
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.json()['token']}"}).status_code == 200


@pytest.mark.django_db
def test_an_admin_password_reset_ends_the_users_tokens_and_sessions(api_as, buyer, admin):
    api = api_as(buyer)
    pages = Client()
    pages.force_login(buyer)
    assert pages.get("/orders/").status_code == 200
    staff = Client()
    staff.force_login(admin)
    reset = staff.post(f"/admin/accounts/user/{buyer.id}/password/",
                       {"usable_password": "true", "password1": "Reset-by-admin-1", "password2": "Reset-by-admin-1"})
    assert reset.status_code == 302, reset.content[:2000]
    assert api.get("/me").status_code == 401
    after = pages.get("/orders/")
    assert after.status_code == 302 and "/login/" in after["Location"]
