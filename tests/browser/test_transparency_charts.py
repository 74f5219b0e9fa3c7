"""The public 售后透明度 page draws its charts to scale, on a desktop and on a 390 px phone: a bar is as long as its
share, each row's figures sit inside the screen, and the page's figures match the public API's."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from kameng.core import clock
from tests.records.test_transparency import _refund

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SIZES = [(1280, 900), (390, 844)]

# The filled part of each bar as a share of its track, in whole per cent.
FILLS = """(table) => [...table.querySelectorAll('tbody tr')].map(row => [...row.querySelectorAll('.bar')].map(bar => {
  const track = bar.getBoundingClientRect(), fill = bar.querySelector('.fill').getBoundingClientRect();
  return track.width ? Math.round(100 * fill.width / track.width) : -1;
}))"""


def _world(make_user, make_product):
    shop = make_user("supplier")
    shop.first_name = "好运卡铺"
    shop.save()
    buyer, product = make_user("buyer"), make_product(owner=shop)
    now = clock.now()
    day = timedelta(days=1)
    # invalid_key: four claims, three approved (one of them by the platform's own records), one rejected.
    for n, (event, actor) in enumerate([("approved", "reviewer:r"), ("approved", "reviewer:r"),
                                        ("approved", "system"), ("rejected", "reviewer:r")], start=1):
        _refund(buyer, product, n, "invalid_key", now - 3 * day, [(now - 3 * day + timedelta(hours=4), event, actor)],
                "refunded" if event == "approved" else "rejected")
    # changed_mind: one, approved automatically.
    _refund(buyer, product, 9, "changed_mind", now - day, [(now - day + timedelta(hours=1), "approved", "system")],
            "refunded")


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_the_transparency_charts_are_drawn_to_scale(page, live_server, make_user, make_product, size, screenshot):
    cache.clear()
    _world(make_user, make_product)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto("/transparency/")
    expect(page.locator("#fig-submitted strong")).to_have_text("5")
    expect(page.locator("#fig-decided strong")).to_have_text("5")
    expect(page.locator("#fig-approved strong")).to_have_text("80%")
    expect(page.locator("#fig-automatic strong")).to_have_text("40%")

    by_reason = page.locator("table.transparency").first
    rows = by_reason.locator("tbody tr")
    expect(rows).to_have_count(2)
    fills = by_reason.evaluate(FILLS)
    names = [rows.nth(i).locator("th").inner_text() for i in range(2)]
    row = dict(zip(names, fills, strict=True))
    # Bars: submitted (against the biggest row of both tables: the supplier's 5), approved, within the deadline,
    # automatic; no appeals here.
    assert row["卡密无效"][0] == pytest.approx(80, abs=2) and row["不想要了"][0] == pytest.approx(20, abs=2)
    assert row["卡密无效"][1] == pytest.approx(75, abs=2) and row["不想要了"][1] == pytest.approx(100, abs=2)
    assert row["卡密无效"][3] == pytest.approx(25, abs=2)
    by_supplier = page.locator("table.transparency").last
    expect(by_supplier).to_contain_text("好运卡铺")
    assert by_supplier.evaluate(FILLS)[0][1] == pytest.approx(80, abs=2)

    # Every bar is on screen and has a track to fill, on the phone as on the desktop.
    for bar in page.locator(".bar").all():
        box = bar.bounding_box()
        assert box["width"] >= 30 and box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    screenshot(page, f"transparency-charts-{size[0]}")

    # The page says what the public API says.
    figures = page.request.get(f"{live_server.url}/api/v1/transparency").json()
    assert figures["overall"]["submitted"] == 5 and figures["overall"]["approved_share"].startswith("0.8")
