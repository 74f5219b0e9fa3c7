import re

import pytest

# The database first, so it outlives every other fixture of the test (the ledger check among them).
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/login/"])
def test_pages_carry_the_csp_and_no_inline_script(client, db, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.content.decode())


def test_login_and_logout_through_the_pages(client, buyer):
    page = client.get("/login/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    bad = client.post("/login/", {"username": buyer.username, "password": "wrong"})
    assert bad.status_code == 200 and "用户名或密码错误" in bad.content.decode()
    good = client.post("/login/", {"username": buyer.username, "password": "secret123", "next": "/orders/"})
    assert good.status_code == 302 and good["Location"] == "/orders/"
    assert client.get("/orders/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/orders/").status_code == 302


def test_the_header_shows_the_pages_of_the_role(client_as, buyer, supplier):
    as_buyer = client_as(buyer).get("/").content.decode()
    assert "/wallet/" in as_buyer and "/supplier/products/" not in as_buyer
    as_supplier = client_as(supplier).get("/").content.decode()
    assert "/supplier/manual/" in as_supplier and "/wallet/" not in as_supplier
    assert client_as(supplier).get("/wallet/").status_code == 403
