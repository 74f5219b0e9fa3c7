"""Decisions from our own records: made at once, without a person, because the platform already knows."""

from kameng.aftersales.models import Refund
from kameng.inventory.models import CardSecret, KeyIssue
from kameng.ledger.services import Accounts, balance

from .conftest import ask

UNREVEALED = "买错了面额，卡密还没有查看过，想换成大面额的。"


def test_changed_mind_on_a_never_revealed_key_is_refunded_at_once_with_its_fee(bought, supplier):
    api, order = bought(channel="wallet")
    options = {r["code"]: r for r in api.get(f"/orders/{order['order_no']}/refund-options").json()["reasons"]}
    assert options["changed_mind"]["automatic"] is True
    refund = ask(api, order, "changed_mind", UNREVEALED, destination="wallet")
    assert refund.status_code == 201, refund.content
    body = refund.json()
    assert body["status"] == "refunded" and body["fee"] == "0.50" and body["refund_amount"] == "9.50"
    assert body["timeline"][0]["event"] == "submitted" and "approved" in [e["event"] for e in body["timeline"]]
    assert body["supplier_answer"] is None  # nothing for the supplier to answer
    assert str(balance("refund_fees")) == "0.50"
    assert CardSecret.objects.filter(status="available").count() == 3  # the unrevealed key is back on sale


def test_a_key_reissued_after_a_refund_and_claimed_used_is_refunded_at_once_by_the_platform(
        bought, api_as, make_user, fund_wallet, supplier):
    first_api, first = bought(quantity=1, channel="wallet", keys=1)  # one key in stock: the next buyer gets it back
    assert ask(first_api, first, "changed_mind", UNREVEALED, destination="wallet").json()["status"] == "refunded"
    [returned] = KeyIssue.objects.exclude(returned_at=None)

    second_buyer = make_user("buyer")
    fund_wallet(second_buyer, 10_000)
    second_api = api_as(second_buyer)
    second = second_api.post("/orders", {"product_id": first["product_id"], "quantity": 1, "channel": "wallet",
                                         "accept_terms": True}).json()
    second_api.post(f"/orders/{second['order_no']}/reveal")
    live = KeyIssue.objects.get(returned_at=None)
    assert live.secret_id == returned.secret_id  # the same key, issued a second time

    payable_before = balance(Accounts.payable(supplier.id))
    losses_before = balance("losses")
    claim = ask(second_api, second, "key_already_used")
    assert claim.status_code == 201, claim.content
    body = claim.json()
    assert body["status"] == "refunded" and body["liable"] == "platform" and body["supplier_answer"] is None
    assert body["fee"] == "0.00" and body["refund_amount"] == "10.00"
    assert CardSecret.objects.get(id=live.secret_id).status == "voided"  # never sold a third time
    assert balance(Accounts.payable(supplier.id)) == payable_before  # the supplier is not charged
    assert (balance("losses") - losses_before).fen == 1000
    assert Refund.objects.get(id=body["id"]).decided_at is not None


def test_a_used_key_claim_without_a_reissue_still_goes_to_the_supplier(bought):
    api, order = bought(reveal=True)
    body = ask(api, order, "key_already_used").json()
    assert body["status"] == "submitted" and body["supplier_answer"] == "pending" and body["liable"] == "supplier"
