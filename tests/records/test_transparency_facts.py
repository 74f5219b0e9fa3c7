"""The published figures read RefundFacts, kept beside the timeline: driven through the real flows (buyer
requests, reviewers, suppliers, the deadlines), they equal a straightforward computation from the refunds and
their timelines, and rebuilding the facts from the timeline gives the same rows."""

from datetime import timedelta

import pytest
from django.core.cache import cache

from kameng.aftersales import figure_facts
from kameng.aftersales.models import Refund, RefundEvent, RefundFacts
from kameng.aftersales.transparency import WINDOW_DAYS, percentile_cont, transparency_report
from kameng.core import clock
from tests.aftersales.conftest import contested

from .conftest import ask

APPEAL = {"description": "补充了兑换页面录屏，显示卡密不存在，请复核。"}
REJECT = {"reason_code": "insufficient_evidence", "note": "没有截图"}


@pytest.fixture(autouse=True)
def _no_cached_figures():
    cache.clear()
    yield
    cache.clear()


def straightforward(since, until) -> dict:
    """Every figure by the definitions in transparency.py's docstring, refund by refund, in Python."""
    rows = {}
    for refund in Refund.objects.select_related("order__product"):
        timeline = list(RefundEvent.objects.filter(refund=refund).order_by("at", "id"))
        first = next((e for e in timeline if e.event in ("approved", "auto_approved", "rejected")
                      and not (e.event == "auto_approved" and refund.appealed_at)), None)
        keys = ("overall", None), ("reason", refund.reason), ("supplier", refund.order.product.supplier_id)
        for key in keys:
            row = rows.setdefault(key, {"submitted": 0, "decided": 0, "approved": 0, "automatic": 0,
                                        "within_deadline": 0, "hours": [], "appeals": 0, "appeals_decided": 0,
                                        "appeals_upheld": 0})
            row["submitted"] += since <= refund.submitted_at < until
            if first and since <= first.at < until:
                row["decided"] += 1
                row["approved"] += first.event != "rejected"
                row["automatic"] += first.actor == "system"
                row["within_deadline"] += not any(e.event == "escalated" and e.at < first.at for e in timeline)
                row["hours"].append((first.at - refund.submitted_at).total_seconds() / 3600)
            if refund.appealed_at:
                row["appeals"] += since <= refund.appealed_at < until
                if (refund.decided_at and since <= refund.decided_at < until and refund.decided_at >= refund.appealed_at
                        and refund.status != "appealed"):
                    row["appeals_decided"] += 1
                    row["appeals_upheld"] += refund.status != "rejected_final"
    return rows


def as_reported(report) -> dict:
    out = {("overall", None): report.overall}
    out |= {("reason", code): figures for code, figures in report.by_reason.items()}
    out |= {("supplier", sid): figures for sid, figures in report.by_supplier.items()}
    return out


def assert_same(report, expected):
    got = as_reported(report)
    assert set(got) == {key for key, row in expected.items() if key[0] == "overall" or row["submitted"]
                        or row["decided"] or row["appeals"] or row["appeals_decided"]}
    for key, figures in got.items():
        row = expected[key]
        for name in ("submitted", "decided", "approved", "automatic", "within_deadline", "appeals",
                     "appeals_decided", "appeals_upheld"):
            assert getattr(figures, name) == row[name], (key, name)
        for name, fraction in (("median_hours", 0.5), ("p90_hours", 0.9)):
            want = percentile_cont(row["hours"], fraction) if row["hours"] else None
            assert getattr(figures, name) == (pytest.approx(want, abs=1e-3) if want is not None else None), (key, name)  # julianday: ms


def facts_rows():
    return list(RefundFacts.objects.order_by("refund_id").values())


@pytest.fixture
def month(bought, api_as, reviewer, senior, advance):
    """Refunds through every path that decides one, spread over five weeks so some fall outside the window."""
    def staff(who, refund, action, body=None):
        response = api_as(who).post(f"/staff/refunds/{refund['id']}/{action}", body or {})
        assert response.status_code == 200, response.content

    # Before the window: approved by a reviewer.
    api, order = bought(reveal=True)
    early = ask(api, order, "invalid_key").json()
    contested(early["id"])
    staff(reviewer, early, "approve")
    advance(24 * 6)
    # Rejected, appealed, left to the deadlines: escalated, then approved by the platform (the appeal's decision).
    api, order = bought(reveal=True)
    appealed = ask(api, order, "invalid_key").json()
    contested(appealed["id"])
    staff(reviewer, appealed, "reject", REJECT)
    assert api.post(f"/refunds/{appealed['id']}/appeal", APPEAL).status_code == 200
    # A supplier-liable claim nobody decides: escalated at the review deadline, then approved by the platform.
    api, order = bought(reveal=True)
    silent = ask(api, order, "invalid_key").json()
    contested(silent["id"])
    # A claim the supplier leaves unanswered: its silence accepts (system).
    api, order = bought(reveal=True)
    ask(api, order, "invalid_key")
    # Changed mind on an unrevealed key: approved at once by our own rule.
    api, order = bought()
    ask(api, order, "changed_mind")
    advance(24 * 20)
    # Rejected then appealed and rejected for good by a senior.
    api, order = bought(reveal=True)
    final = ask(api, order, "not_as_described").json()
    staff(reviewer, final, "reject", REJECT)
    assert api.post(f"/refunds/{final['id']}/appeal", APPEAL).status_code == 200
    staff(senior, final, "reject", REJECT)
    advance(24 * 12)
    # Still undecided at the end.
    api, order = bought(reveal=True)
    ask(api, order, "not_as_described")
    assert Refund.objects.count() == 7


def test_figures_equal_a_straightforward_computation_from_the_timeline(month):
    until = clock.now()
    since = until - timedelta(days=WINDOW_DAYS)
    report = transparency_report(until=until, use_cache=False)
    expected = straightforward(since, until)
    assert_same(report, expected)
    # The data reaches every kind of decision, and some of it lies outside the window.
    events = set(RefundEvent.objects.values_list("event", flat=True))
    assert {"approved", "auto_approved", "rejected", "escalated", "appealed", "appeal_rejected"} <= events
    assert 0 < report.overall.submitted < Refund.objects.count()
    assert report.overall.automatic and report.overall.within_deadline < report.overall.decided


def test_rebuilding_the_facts_from_the_timeline_gives_the_same_rows(month):
    kept = facts_rows()
    assert len(kept) == Refund.objects.count()
    assert figure_facts.rebuild() == len(kept)
    assert facts_rows() == kept
