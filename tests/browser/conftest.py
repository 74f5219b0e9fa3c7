"""Real-browser tests: Debian's chromium driven by Playwright against pytest-django's live server."""

import os
import shutil
from contextlib import contextmanager

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]


def pytest_collection_modifyitems(config, items):
    if shutil.which("chromium"):
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed"))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still
    # synchronous, so Django's async-safety guard would be a false alarm here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@contextmanager
def watched_page(browser, base_url):
    """A fresh browser profile, Chinese like most buyers; fails the test on CSP violations and script errors."""
    context = browser.new_context(locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def page(browser, live_server, transactional_db):
    with watched_page(browser, live_server.url) as watched:
        yield watched


@pytest.fixture
def staff_page(browser, live_server):
    """A second browser (a reviewer beside the buyer)."""
    with watched_page(browser, live_server.url) as watched:
        yield watched


@pytest.fixture
def login():
    def log_in(page, user, next_url="/"):
        page.goto(f"/login/?next={next_url}")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "secret123")
        page.click("main button[type=submit]")
        page.wait_for_url(f"**{next_url}")

    return log_in


@pytest.fixture
def screenshot():
    """Screenshots only when asked (KAMENG_SCREENSHOT_DIR), for a human to look at; never committed."""

    def shoot(page, name):
        folder = os.environ.get("KAMENG_SCREENSHOT_DIR")
        if folder:
            page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)

    return shoot
