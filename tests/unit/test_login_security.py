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


@pytest.mark.django_db
def test_a_user_changes_the_password_over_the_api_and_every_old_token_ends(api_as, buyer):
    current, elsewhere = api_as(buyer), api_as(buyer)
    wrong = current.post("/auth/password", {"old_password": WRONG, "new_password": "brand-new-pw"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "WRONG_PASSWORD"
    short = current.post("/auth/password", {"old_password": "secret123", "new_password": "abc"})
    assert short.status_code == 422 and short.json()["error"]["code"] == "INVALID_PASSWORD"
    assert elsewhere.get("/me").status_code == 200  # refusals changed nothing

    changed = current.post("/auth/password", {"old_password": "secret123", "new_password": "brand-new-pw"})
    assert changed.status_code == 200
    assert current.get("/me").status_code == 401 and elsewhere.get("/me").status_code == 401
    fresh = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {changed.json()['token']}"})
    assert fresh.status_code == 200 and fresh.json()["username"] == buyer.username
    assert token_call(Client(), buyer.username, "brand-new-pw").status_code == 200
    assert ApiToken.objects.filter(user=buyer).count() == 2


@pytest.mark.django_db
def test_the_password_page_keeps_this_browser_and_ends_the_others(api_as, buyer):
    api = api_as(buyer)
    here, there = Client(), Client()
    here.force_login(buyer)
    there.force_login(buyer)
    page = here.get("/password/")
    assert page.status_code == 200 and "修改密码" in page.content.decode()
    done = here.post("/password/", {"old_password": "secret123", "new_password1": "Another-pw-42",
                                    "new_password2": "Another-pw-42"}, follow=True)
    assert done.status_code == 200 and "其他设备上的登录" in done.content.decode()
    assert here.get("/orders/").status_code == 200
    assert there.get("/orders/").status_code == 302
    assert api.get("/me").status_code == 401


@pytest.mark.django_db
def test_behind_a_proxy_the_lockout_is_per_client_not_per_proxy(buyer, settings):
    """With KAMENG_PROXY_COUNT=1 every request comes from the proxy's address: the throttle must use the
    address the proxy reports, or one attacker would lock the user out for everyone."""
    settings.KAMENG_PROXY_COUNT = 1

    def via_proxy(client_address, password, forged=""):
        chain = f"{forged}, {client_address}" if forged else client_address
        return Client().post("/api/v1/auth/token", data=json.dumps({"username": buyer.username, "password": password}),
                             content_type="application/json", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=chain)

    for number in range(settings.AXES_FAILURE_LIMIT):
        # A client cannot escape by writing its own X-Forwarded-For: only the proxy's entry counts.
        via_proxy("203.0.113.5", WRONG, forged=f"198.51.100.{number}")
    assert via_proxy("203.0.113.5", "secret123").status_code == 429
    assert via_proxy("203.0.113.77", "secret123").status_code == 200
