"""Real-browser tests: Debian's chromium driven by Playwright against pytest-django's live server."""

import os
import shutil
from contextlib import contextmanager

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]


def _one_request_at_a_time_on_sqlite():
    """On SQLite the live server's threads share the test's one in-memory connection (Django passes it to
    them), and two requests at once on it fail ("bad parameter or other API misuse": a page's two evidence
    thumbnails did, under load). One request at a time there, as SQLite writes are anyway; PostgreSQL keeps
    Django's threaded server with a connection per thread."""
    from django.conf import settings
    from django.core.servers.basehttp import WSGIServer
    from django.test.testcases import LiveServerThread

    if "sqlite" not in settings.DATABASES["default"]["ENGINE"]:
        return

    class OneAtATimeServer(WSGIServer):
        def __init__(self, *args, connections_override=None, **kwargs):
            super().__init__(*args, **kwargs)  # the serving thread already uses the overridden connections

    LiveServerThread.server_class = OneAtATimeServer


_one_request_at_a_time_on_sqlite()


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
def watched_page(browser, base_url, *, locale="zh-CN", size=None, permissions=(), script=True):
    """A fresh browser profile, Chinese like most buyers unless `locale` says otherwise, at `size` (width,
    height) when given, with JavaScript off when `script` is False; fails the test on CSP violations and
    script errors."""
    options = {"viewport": {"width": size[0], "height": size[1]}} if size else {}
    if not script:
        options["java_script_enabled"] = False
    context = browser.new_context(locale=locale, base_url=base_url, **options)
    context.set_default_timeout(30_000)  # a shared, loaded CI machine: a slow page is not a broken one
    if permissions:
        context.grant_permissions(list(permissions))
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    # Irreversible actions ask "are you sure?" (static/web/confirm.js): the person says yes, and the test can
    # read what was asked in page.dialogs.
    page.dialogs = []

    def answer(dialog):
        page.dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
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


def log_in(page, user, next_url="/"):
    page.goto(f"/login/?next={next_url}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "secret123")
    page.click("main button[type=submit]")
    page.wait_for_url(f"**{next_url}")


@pytest.fixture
def login():
    return log_in


@pytest.fixture
def screenshot():
    """Screenshots only when asked (KAMENG_SCREENSHOT_DIR), for a human to look at; never committed."""

    def shoot(page, name):
        folder = os.environ.get("KAMENG_SCREENSHOT_DIR")
        if folder:
            page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)

    return shoot
