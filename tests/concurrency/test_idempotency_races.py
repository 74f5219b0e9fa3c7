"""Retries racing with one `Idempotency-Key`: the work is done once and every retry gets the first answer."""

import json

import pytest
from django.test import Client

from kameng.accounts.services import token_issue
from kameng.aftersales.models import Refund
from kameng.orders.models import Order
from kameng.orders.services import order_create, order_reveal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GOOD = "在兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


def _poster(user, path, body, key):
    token, _ = token_issue(username=user.username, password="secret123")

    def post(i):
        return Client().post(f"/api/v1{path}", json.dumps(body), content_type="application/json",
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})

    return post


def _same_first_answer(responses, field):
    assert all(not isinstance(r, Exception) for r in responses), responses
    assert [r.status_code for r in responses] == [201] * len(responses), [r.content for r in responses]
    assert len({r.json()[field] for r in responses}) == 1


def test_racing_refund_requests_with_one_key_all_get_the_first_answer(make_user, make_product, fund_wallet, racer):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=2, price="10.00")
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no)
    body = {"order_no": order.order_no, "reason": "invalid_key", "description": GOOD, "destination": "wallet"}
    responses = racer(6, _poster(buyer, "/refunds", body, "refund-retry-1"))
    _same_first_answer(responses, "id")
    assert Refund.objects.count() == 1


def test_racing_order_requests_with_one_key_for_the_last_key_all_get_the_order(make_user, make_product,
                                                                               fund_wallet, racer):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=1, price="1.00")  # a retry that redid the work would find no stock
    body = {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True}
    responses = racer(6, _poster(buyer, "/orders", body, "order-retry-1"))
    _same_first_answer(responses, "order_no")
    assert Order.objects.count() == 1
