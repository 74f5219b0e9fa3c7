"""Supplier first: a claim the supplier is liable for is put to the supplier, who accepts, contests, or stays
silent (which is acceptance) by supplier_due_at."""

import json
from datetime import timedelta

from kameng.aftersales.models import Refund
from kameng.aftersales.supplier_claims import claims_accept_silent
from kameng.core import clock
from kameng.ledger.models import Journal
from kameng.ledger.services import Accounts, balance
from kameng.notifications.models import InboxMessage

from .conftest import ask


def test_a_key_claim_goes_to_the_supplier_with_a_deadline_and_a_message(bought, api_as, supplier, buyer):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    row = Refund.objects.get(id=refund["id"])
    assert row.supplier_due_at == row.submitted_at + timedelta(hours=24)
    assert refund["supplier_answer"] == "pending" and refund["supplier_due_at"]
    assert InboxMessage.objects.filter(user=supplier, refund_id=row.id, title__contains="待答复").exists()

    listed = api_as(supplier).get("/supplier/refunds")
    assert listed.status_code == 200, listed.content
    [claim] = listed.json()
    assert claim["id"] == row.id and claim["can_answer"] is True
    assert claim["supplier_due_at"] == refund["supplier_due_at"] and claim["reason"] == "invalid_key"
    assert claim["deliveries"] and claim["reveals"] and claim["timeline"]
    # The buyer's private data stays with the platform: no phone, no username, no IP address.
    text = json.dumps(listed.json(), ensure_ascii=False)
    assert buyer.phone not in text and buyer.username not in text and "127.0.0.1" not in text
    assert claim["buyer"] != buyer.username and "*" in claim["buyer"]


def test_a_personal_reason_is_not_put_to_the_supplier(bought, api_as, supplier):
    api, order = bought()
    refund = ask(api, order, "changed_mind", "买错了面额，卡密还没有查看过，想换成大面额的。").json()
    assert refund["supplier_answer"] is None
    assert api_as(supplier).get("/supplier/refunds").json() == []
    assert api_as(supplier).post(f"/supplier/refunds/{refund['id']}/accept", {}).status_code == 404


def test_the_supplier_accepts_and_pays_for_it(bought, api_as, supplier):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key", destination="wallet").json()
    payable_before = balance(Accounts.payable(supplier.id))
    answer = api_as(supplier).post(f"/supplier/refunds/{refund['id']}/accept", {"note": "批次有问题，同意退款"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["supplier_answer"] == "accepted"
    done = api.get(f"/refunds/{refund['id']}").json()
    assert done["status"] == "refunded"
    assert [e["event"] for e in done["timeline"]].count("supplier_accepted") == 1
    # Charged back to the supplier: 10.00 less the 5% commission it never keeps.
    assert (payable_before - balance(Accounts.payable(supplier.id))).fen == 950
    again = api_as(supplier).post(f"/supplier/refunds/{refund['id']}/accept", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "CLAIM_ALREADY_DECIDED"


def test_a_contest_needs_a_note_and_the_reviewer_sees_it(bought, api_as, supplier, reviewer, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "key_already_used").json()
    supplier_api = api_as(supplier)
    bare = supplier_api.post(f"/supplier/refunds/{refund['id']}/contest", {})
    assert bare.status_code == 422 and bare.json()["error"]["code"] == "CONTEST_NOTE_REQUIRED"
    assert Refund.objects.get(id=refund["id"]).supplier_answer == "pending"  # nothing changed

    note = "该卡密在我方系统显示 11 月 20 日 20:00 才首次激活，早于买家所述时间。"
    contested = supplier_api.post(f"/supplier/refunds/{refund['id']}/contest", {"note": note})
    assert contested.status_code == 200, contested.content
    assert contested.json()["supplier_answer"] == "contested" and contested.json()["status"] == "submitted"
    case = api_as(reviewer).get(f"/staff/refunds/{refund['id']}").json()
    assert case["refund"]["supplier_note"] == note and case["refund"]["supplier_answer"] == "contested"
    # Contested is not silent: the deadline passing later decides nothing; the reviewer does.
    advance(25)
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "submitted"
    assert supplier_api.post(f"/supplier/refunds/{refund['id']}/accept", {}).status_code == 409
    decided = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "证据充分"})
    assert decided.status_code == 200


def test_silence_past_the_deadline_is_acceptance_once(bought, api_as, supplier, advance):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key", destination="wallet").json()
    advance(23)
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "submitted"
    advance(2)
    done = api.get(f"/refunds/{refund['id']}").json()
    assert done["status"] == "refunded" and done["supplier_answer"] == "silent"
    assert [e["event"] for e in done["timeline"]].count("supplier_silent") == 1
    assert claims_accept_silent() == 0  # a second sweep finds nothing to do
    assert Journal.objects.filter(kind="refund").count() == 1
    late = api_as(supplier).post(f"/supplier/refunds/{refund['id']}/contest", {"note": "我有异议"})
    assert late.status_code == 409
    assert InboxMessage.objects.filter(user=supplier, title__contains="逾期").exists()


def test_answering_after_the_deadline_before_the_sweep_is_refused(bought, api_as, supplier):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    Refund.objects.filter(id=refund["id"]).update(supplier_due_at=clock.now() - timedelta(minutes=1))
    late = api_as(supplier).post(f"/supplier/refunds/{refund['id']}/accept", {})
    assert late.status_code == 409 and late.json()["error"]["code"] == "SUPPLIER_DEADLINE_PASSED"
    assert Refund.objects.get(id=refund["id"]).status == "submitted"


def test_after_a_reviewer_decision_the_supplier_cannot_answer(bought, api_as, supplier, reviewer):
    api, order = bought(reveal=True)
    refund = ask(api, order, "not_as_described").json()
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/reject",
                          {"reason_code": "insufficient_evidence", "note": "请提供截图"})
    answer = api_as(supplier).post(f"/supplier/refunds/{refund['id']}/accept", {})
    assert answer.status_code == 409
    Refund.objects.filter(id=refund["id"]).update(supplier_due_at=clock.now() - timedelta(minutes=1))
    assert claims_accept_silent() == 0  # the silence deadline does not overturn a decision
    assert Refund.objects.get(id=refund["id"]).status == "rejected"


def test_another_supplier_gets_404_and_other_roles_403(bought, api_as, make_user, buyer):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    other = api_as(make_user("supplier"))
    assert other.get(f"/supplier/refunds/{refund['id']}").status_code == 404
    assert other.post(f"/supplier/refunds/{refund['id']}/accept", {}).status_code == 404
    assert other.post(f"/supplier/refunds/{refund['id']}/contest", {"note": "不是我的"}).status_code == 404
    assert other.get("/supplier/refunds").json() == []
    assert api.get("/supplier/refunds").status_code == 403
    assert Refund.objects.get(id=refund["id"]).supplier_answer == "pending"


def test_the_reply_window_is_a_validated_policy_field(api_as, supplier, bought):
    supplier_api = api_as(supplier)
    base = {"name": "测试卡", "kind": "card", "price": "10.00", "face_value": "10.00", "delivery_promise_minutes": 5}
    for bad in (0, 24 * 7 + 1, "24", True):
        answer = supplier_api.post("/admin/products", {**base, "refund_policy": {"supplier_reply_hours": bad}})
        assert answer.status_code == 422, (bad, answer.content)
    api, order = bought(reveal=True, refund_policy={"supplier_reply_hours": 2})
    assert api.get(f"/products/{order['product_id']}").json()["refund_policy"]["supplier_reply_hours"] == 2
    refund = Refund.objects.get(id=ask(api, order, "invalid_key").json()["id"])
    assert refund.supplier_due_at == refund.submitted_at + timedelta(hours=2)
