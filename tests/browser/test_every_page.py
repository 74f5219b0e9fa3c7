"""Every page, at 390×844 (most buyers are on phones) and on a desktop, in Chinese and English: nothing wider
than the screen. The list of pages comes from the URLconf (tests/page_walk.py), so a new page needs a walk."""

import os
from urllib.parse import urlparse

import pytest
from django.test import Client
from django.urls import reverse

from tests.page_walk import NOT_PAGES, PAGES, build_world, url_names, walk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
OVERFLOW = "document.scrollingElement.scrollWidth - window.innerWidth"


def test_every_url_is_walked():
    names = url_names()
    missing = names - set(PAGES) - set(NOT_PAGES)
    assert not missing, f"pages without a walk in tests/page_walk.py: {sorted(missing)}"
    assert not (set(PAGES) | set(NOT_PAGES)) - names, "tests/page_walk.py names pages that no longer exist"


def _session_cookie(user, host):
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_no_page_scrolls_sideways(browser, live_server, make_user, make_product, fund_wallet, lang, tmp_path):
    world = build_world(make_user, make_product, fund_wallet)
    host = urlparse(live_server.url).hostname
    shots = os.environ.get("KAMENG_SCREENSHOT_DIR") or str(tmp_path)
    contexts, wide = {}, []
    try:
        for label, role, name, kwargs in walk() + [("reveal", "buyer", "reveal", None)]:
            for size, (width, height) in SIZES.items():
                key = (role, size)
                if key not in contexts:
                    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
                    cookies = [{"name": "django_language", "value": lang, "domain": host, "path": "/"}]
                    if role:
                        cookies.append(_session_cookie(world.users[role], host))
                    context.add_cookies(cookies)
                    contexts[key] = context.new_page()
                page = contexts[key]
                if name == "reveal":  # a POST's answer: pressed from the order page, after the confirmation
                    page.goto(reverse("web:order", kwargs={"order_no": world.ids["order_revealed"]}))
                    page.once("dialog", lambda d: d.accept())
                    page.click("form.reveal button[type=submit]")
                    page.wait_for_selector("code.secret")
                else:
                    response = page.goto(reverse(name, kwargs=kwargs(world)))
                    assert response.status < 400, (label, response.status)
                over = page.evaluate(OVERFLOW)
                if over > 0:
                    wide.append(f"{label} {size}: {over}px too wide")
                header = page.evaluate("document.querySelector('header.top').getBoundingClientRect().height")
                if size == "phone" and header > 60:  # one row: brand, 站内信, language, menu
                    wide.append(f"{label} {size}: the header takes {header}px (more than one row)")
                if size == "phone":
                    page.screenshot(path=os.path.join(shots, f"{lang}-{label.replace(':', '_').replace(' ', '_')}.png"),
                                    full_page=True)
    finally:
        for page in contexts.values():
            page.context.close()
    assert not wide, wide
