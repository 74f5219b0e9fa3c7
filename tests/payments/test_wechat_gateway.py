"""The WeChat Pay v3 adapter (wechatpayv3, public-key mode) against a fake WeChat Pay over real HTTP."""

import json
import time
from datetime import date, timedelta

import pytest

from kameng.core import clock
from kameng.payments.gateways.base import (
    Device,
    GatewayRefused,
    NotificationRefused,
    PaymentRequest,
    PaymentState,
    RefundState,
    UnknownOutcome,
)
from kameng.payments.gateways.wechat import WechatGateway

from .conftest import wechat_settings
from .fakes.common import KeyPair, Modes
from .fakes.wechat_server import PUBLIC_KEY_ID

pytestmark = pytest.mark.django_db


def _request(no="P20261123WX01", fen=1234, device=Device.QR, ip=""):
    return PaymentRequest(payment_no=no, amount_fen=fen, subject="话费充值 50 元", device=device, client_ip=ip,
                          expires_at=clock.now() + timedelta(minutes=15),
                          notify_url="https://shop.example/api/v1/payments/notify/wechat")


def _paid(wechat, fake, no="P20261123WX01", fen=1234):
    wechat.create_payment(_request(no, fen))
    return fake.pay(no, deliver=False)


def test_native_gives_a_code_url_and_h5_a_pay_url(wechat, fake_wechat):
    native = wechat.create_payment(_request("P-N"))
    assert native.code_url.startswith("weixin://wxpay/bizpayurl?pr=") and native.pay_url is None
    h5 = wechat.create_payment(_request("P-H", device=Device.PHONE, ip="203.0.113.7"))
    assert h5.pay_url.startswith("https://wx.tenpay.com/") and h5.code_url is None
    assert fake_wechat.trades["P-N"]["total"] == 1234 and fake_wechat.trades["P-N"]["notify_url"].endswith("/wechat")


def test_request_signed_with_another_merchant_key_is_refused(wechat_keys, fake_wechat):
    stranger = WechatGateway(wechat_settings(wechat_keys, fake_wechat, private_key=KeyPair.generate().private_pem))
    with pytest.raises(GatewayRefused) as refused:  # 401 SIGN_ERROR from WeChat Pay, signed by it
        stranger.create_payment(_request())
    assert refused.value.code == "SIGN_ERROR" and fake_wechat.trades == {}


def test_valid_payment_notification_parses(wechat, fake_wechat):
    body, headers = _paid(wechat, fake_wechat)
    notice = wechat.parse_notification(headers=headers, body=body.encode())
    assert notice.payment.payment_no == "P20261123WX01"
    assert (notice.payment.state, notice.payment.amount_fen) == (PaymentState.SUCCEEDED, 1234)
    assert notice.payment.trade_no == fake_wechat.trades["P20261123WX01"]["transaction_id"]
    assert notice.ack.status in (200, 204)
    assert "openid" not in json.dumps(notice.log_fields)


def _stale(headers, key: KeyPair, body: str, seconds: int) -> dict:
    timestamp = str(int(time.time()) - seconds)
    return {**headers, "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Signature": key.sign(f"{timestamp}\n{headers['Wechatpay-Nonce']}\n{body}\n")}


@pytest.mark.parametrize("case,status,code", [
    ("tampered", 401, "BAD_SIGNATURE"),
    ("forged", 401, "BAD_SIGNATURE"),
    ("no_headers", 401, "BAD_SIGNATURE"),
    ("other_serial", 401, "BAD_SIGNATURE"),
    ("stale", 401, "STALE_NOTIFICATION"),
    ("from_the_future", 401, "STALE_NOTIFICATION"),
    ("undecryptable", 400, "UNDECRYPTABLE"),
    ("not_json", 400, "MALFORMED"),
    ("resource_not_json", 400, "MALFORMED"),
    ("wrong_mchid", 400, "WRONG_APP"),
    ("wrong_appid", 400, "WRONG_APP"),
    ("amount_not_a_number", 400, "MALFORMED"),
])
def test_bad_notifications_are_refused(wechat, fake_wechat, wechat_keys, case, status, code):
    body, headers = _paid(wechat, fake_wechat)
    key, forger = wechat_keys["wechat"], KeyPair.generate()

    def signed(text):
        return text, fake_wechat.signed_headers(text, key)

    trade = fake_wechat.trade_view(fake_wechat.trades["P20261123WX01"])
    cases = {
        "tampered": lambda: (body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" '), headers),
        "forged": lambda: (body, fake_wechat.signed_headers(body, forger)),
        "no_headers": lambda: (body, {}),
        "other_serial": lambda: (body, {**headers, "Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}),
        "stale": lambda: (body, _stale(headers, key, body, 301)),
        "from_the_future": lambda: (body, _stale(headers, key, body, -400)),
        "undecryptable": lambda: signed(fake_wechat.envelope("TRANSACTION.SUCCESS", trade, key="0" * 32)),
        "not_json": lambda: signed("success=1&out_trade_no=P20261123WX01"),
        "resource_not_json": lambda: signed(fake_wechat.envelope("TRANSACTION.SUCCESS", "<xml>paid</xml>")),
        "wrong_mchid": lambda: signed(fake_wechat.envelope("TRANSACTION.SUCCESS", {**trade, "mchid": "1900000999"})),
        "wrong_appid": lambda: signed(fake_wechat.envelope("TRANSACTION.SUCCESS", {**trade, "appid": "wx0000000000000000"})),
        "amount_not_a_number": lambda: signed(fake_wechat.envelope(
            "TRANSACTION.SUCCESS", {**trade, "amount": {"total": "12.34", "currency": "CNY"}})),
    }
    text, sent_headers = cases[case]()
    with pytest.raises(NotificationRefused) as refused:
        wechat.parse_notification(headers=sent_headers, body=text.encode())
    assert (refused.value.answer.status, refused.value.code) == (status, code)
    assert json.loads(refused.value.answer.body)["code"] == "FAIL"


def test_a_replayed_notification_parses_the_same_within_five_minutes(wechat, fake_wechat):
    """Freshness is the gateway's part; the same payment twice is made harmless by the payment's state."""
    body, headers = _paid(wechat, fake_wechat)
    first = wechat.parse_notification(headers=headers, body=body.encode())
    again = wechat.parse_notification(headers=headers, body=body.encode())
    assert first.payment == again.payment


def test_query_recovers_a_lost_notification(wechat, fake_wechat):
    fake_wechat.drop_notifications = True
    _paid(wechat, fake_wechat, "P-LOST", 990)
    result = wechat.query_payment("P-LOST")
    assert (result.state, result.amount_fen) == (PaymentState.SUCCEEDED, 990)
    assert result.trade_no == fake_wechat.trades["P-LOST"]["transaction_id"] and result.at is not None
    assert wechat.query_payment("P-NEVER").state == PaymentState.NOT_FOUND
    wechat.create_payment(_request("P-WAIT"))
    assert wechat.query_payment("P-WAIT").state == PaymentState.PENDING


def test_partial_refunds_retry_and_the_refund_notification(wechat, fake_wechat):
    _paid(wechat, fake_wechat, "P-R", 1000)
    first = wechat.refund(request_no="RF1", payment_no="P-R", trade_no="", amount_fen=300, total_fen=1000)
    assert (first.state, first.amount_fen) == (RefundState.PROCESSING, 300) and first.refund_no
    again = wechat.refund(request_no="RF1", payment_no="P-R", trade_no="", amount_fen=300, total_fen=1000)
    assert again.refund_no == first.refund_no  # the same refund, not a second one
    wechat.refund(request_no="RF2", payment_no="P-R", trade_no="", amount_fen=700, total_fen=1000)
    assert sorted(r["refund"] for r in fake_wechat.refunds.values()) == [300, 700]
    with pytest.raises(GatewayRefused):
        wechat.refund(request_no="RF3", payment_no="P-R", trade_no="", amount_fen=1, total_fen=1000)

    body, headers = fake_wechat.complete_refund("RF1", deliver=False)
    notice = wechat.parse_notification(headers=headers, body=body.encode())
    assert notice.payment is None
    assert (notice.refund.request_no, notice.refund.state, notice.refund.amount_fen) == ("RF1", RefundState.SUCCEEDED, 300)
    queried = wechat.query_refund(request_no="RF1", payment_no="P-R")
    assert (queried.state, queried.amount_fen, queried.refund_no) == (RefundState.SUCCEEDED, 300, first.refund_no)
    assert wechat.query_refund(request_no="RF-NONE", payment_no="P-R").state == RefundState.NOT_FOUND

    body, headers = fake_wechat.complete_refund("RF2", status="ABNORMAL", deliver=False)
    assert wechat.parse_notification(headers=headers, body=body.encode()).refund.state == RefundState.FAILED


def test_refund_retried_after_a_timeout_refunds_once(wechat, fake_wechat):
    _paid(wechat, fake_wechat, "P-T", 800)
    fake_wechat.mode = Modes.TIMEOUT
    with pytest.raises(UnknownOutcome):
        wechat.refund(request_no="RF-T", payment_no="P-T", trade_no="", amount_fen=800, total_fen=800)
    fake_wechat.mode = Modes.NORMAL
    fake_wechat.release.set()
    result = wechat.refund(request_no="RF-T", payment_no="P-T", trade_no="", amount_fen=800, total_fen=800)
    assert result.amount_fen == 800
    assert [r["refund"] for r in fake_wechat.refunds.values()] == [800]


@pytest.mark.parametrize("mode", [Modes.TIMEOUT, Modes.GARBAGE, Modes.BAD_SIGNATURE])
def test_timeout_or_garbage_is_an_unknown_outcome(wechat, fake_wechat, mode):
    _paid(wechat, fake_wechat, "P-G", 100)
    fake_wechat.mode = mode
    with pytest.raises(UnknownOutcome):
        wechat.query_payment("P-G")
    with pytest.raises(UnknownOutcome):
        wechat.refund(request_no="RF-G", payment_no="P-G", trade_no="", amount_fen=100, total_fen=100)
    with pytest.raises(UnknownOutcome):
        wechat.create_payment(_request("P-G2"))


def test_trade_bill_lists_every_payment_and_refund(wechat, fake_wechat):
    for no, fen in (("P-B1", 1000), ("P-B2", 2050), ("P-B3", 1)):
        _paid(wechat, fake_wechat, no, fen)
    wechat.refund(request_no="RF-B1", payment_no="P-B1", trade_no="", amount_fen=400, total_fen=1000)
    fake_wechat.complete_refund("RF-B1", deliver=False)
    lines = wechat.statement(date.today())
    assert {(x.our_no, x.amount_fen) for x in lines if x.kind == "payment"} == {("P-B1", 1000), ("P-B2", 2050), ("P-B3", 1)}
    assert {(x.our_no, x.payment_no, x.amount_fen) for x in lines if x.kind == "refund"} == {("RF-B1", "P-B1", 400)}
    assert all(x.their_no and x.at for x in lines)


def test_public_key_id_is_sent_and_checked(wechat, fake_wechat):
    """Public-key mode: the SDK never asks for platform certificates."""
    wechat.create_payment(_request("P-K"))
    assert not any("/v3/certificates" in path for _, path in fake_wechat.requests)
    assert wechat.config.public_key_id == PUBLIC_KEY_ID
