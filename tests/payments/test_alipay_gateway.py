"""The Alipay adapter (python-alipay-sdk, RSA2) against a fake Alipay over real HTTP."""

import urllib.request
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from kameng.core import clock
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import (
    Device,
    GatewayRefused,
    NotificationRefused,
    PaymentRequest,
    PaymentState,
    RefundState,
    UnknownOutcome,
)

from .conftest import alipay_settings
from .fakes.common import KeyPair, Modes

pytestmark = pytest.mark.django_db


def _request(no="P20261123AAAA01", fen=1234, device=Device.DESKTOP):
    return PaymentRequest(payment_no=no, amount_fen=fen, subject="游戏点卡 10 元", device=device,
                          expires_at=clock.now() + timedelta(minutes=15),
                          notify_url="https://shop.example/api/v1/payments/notify/alipay")


def _paid(alipay, fake, no="P20261123AAAA01", fen=1234) -> bytes:
    """Create a QR payment at the fake and let the buyer pay; returns the notification body."""
    alipay.create_payment(_request(no, fen, Device.QR))
    return fake.pay(no, deliver=False)


def test_page_pay_url_is_signed_and_opens_the_cashier(alipay, fake_alipay):
    checkout = alipay.create_payment(_request())
    assert checkout.pay_url.startswith(fake_alipay.gateway + "?")
    params = dict(parse_qsl(urlsplit(checkout.pay_url).query))
    assert params["method"] == "alipay.trade.page.pay" and params["sign_type"] == "RSA2"
    assert '"total_amount":"12.34"' in params["biz_content"] and '"product_code":"FAST_INSTANT_TRADE_PAY"' in params["biz_content"]
    assert params["notify_url"].endswith("/payments/notify/alipay")
    with urllib.request.urlopen(checkout.pay_url, timeout=5) as answer:  # the buyer's browser opens it
        assert "收银台" in answer.read().decode("utf-8")
    assert fake_alipay.trades["P20261123AAAA01"]["total_fen"] == 1234  # the fake accepted our signature


def test_phone_gets_wap_pay_and_qr_gets_precreate_code(alipay, fake_alipay):
    wap = alipay.create_payment(_request("P1", device=Device.PHONE))
    assert '"product_code":"QUICK_WAP_PAY"' in dict(parse_qsl(urlsplit(wap.pay_url).query))["biz_content"]
    qr = alipay.create_payment(_request("P2", device=Device.QR))
    assert qr.pay_url is None and qr.code_url.startswith("https://qr.alipay.com/")
    assert fake_alipay.trades["P2"]["status"] == "WAIT_BUYER_PAY"


def test_request_signed_with_another_key_is_refused_by_alipay(alipay_keys, fake_alipay):
    stranger = AlipayGateway(alipay_settings(alipay_keys, fake_alipay, app_private_key=KeyPair.generate().private_pem))
    with pytest.raises(GatewayRefused) as refused:
        stranger.create_payment(_request(device=Device.QR))
    assert refused.value.code == "isv.invalid-signature"
    assert fake_alipay.trades == {}


def test_valid_notification_parses(alipay, fake_alipay):
    body = _paid(alipay, fake_alipay)
    notice = alipay.parse_notification(headers={}, body=body)
    assert notice.payment.payment_no == "P20261123AAAA01"
    assert notice.payment.state == PaymentState.SUCCEEDED
    assert notice.payment.amount_fen == 1234
    assert notice.payment.trade_no == fake_alipay.trades["P20261123AAAA01"]["trade_no"]
    assert notice.ack.body == "success"
    assert "sign" not in notice.log_fields and "buyer_id" not in notice.log_fields


def _resigned(fake, body: bytes, **changes) -> bytes:
    fields = dict(parse_qsl(body.decode()))
    fields.update(changes)
    return urlencode(fake.sign_notification(fields)).encode()


def _signed_by(key: KeyPair, body: bytes, **changes) -> bytes:
    """Signed exactly as Alipay signs, but with someone else's key."""
    fields = {k: v for k, v in parse_qsl(body.decode()) if k not in ("sign", "sign_type")}
    fields.update(changes)
    message = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
    return urlencode({**fields, "sign_type": "RSA2", "sign": key.sign(message)}).encode()


def _tampered(body: bytes, **changes) -> bytes:
    fields = dict(parse_qsl(body.decode()))
    fields.update(changes)
    return urlencode(fields).encode()


@pytest.mark.parametrize("case,code", [
    ("tampered_amount", "BAD_SIGNATURE"),
    ("forged", "BAD_SIGNATURE"),
    ("unsigned", "BAD_SIGNATURE"),
    ("garbage_sign", "BAD_SIGNATURE"),
    ("rsa1", "BAD_SIGNATURE"),
    ("wrong_app_id", "WRONG_APP"),
    ("non_numeric_amount", "MALFORMED"),
    ("missing_trade_no", "MALFORMED"),
    ("not_a_form", "MALFORMED"),
])
def test_bad_notifications_are_refused_with_fail(alipay, fake_alipay, case, code):
    body = _paid(alipay, fake_alipay)
    forger = KeyPair.generate()
    bodies = {
        "tampered_amount": lambda: _tampered(body, total_amount="0.01"),
        "forged": lambda: _signed_by(forger, body, total_amount="0.01"),
        "unsigned": lambda: urlencode({k: v for k, v in parse_qsl(body.decode()) if k != "sign"}).encode(),
        "garbage_sign": lambda: _tampered(body, sign="%%%not-base64"),
        "rsa1": lambda: _tampered(body, sign_type="RSA"),
        "wrong_app_id": lambda: _resigned(fake_alipay, body, app_id="2021999999999999"),
        "non_numeric_amount": lambda: _resigned(fake_alipay, body, total_amount="12.3.4"),
        "missing_trade_no": lambda: _resigned(fake_alipay, body, trade_no=""),
        "not_a_form": lambda: b"\xff\xfe{not a form",
    }
    with pytest.raises(NotificationRefused) as refused:
        alipay.parse_notification(headers={}, body=bodies[case]())
    assert refused.value.code == code
    assert refused.value.answer.body == "fail"  # anything but `success`: Alipay retries, we change nothing


def test_query_recovers_a_lost_notification(alipay, fake_alipay):
    fake_alipay.drop_notifications = True
    _paid(alipay, fake_alipay, "P-LOST", 500)
    result = alipay.query_payment("P-LOST")
    assert (result.state, result.amount_fen) == (PaymentState.SUCCEEDED, 500)
    assert result.trade_no == fake_alipay.trades["P-LOST"]["trade_no"] and result.at is not None
    assert alipay.query_payment("P-NEVER").state == PaymentState.NOT_FOUND
    alipay.create_payment(_request("P-WAIT", device=Device.QR))
    assert alipay.query_payment("P-WAIT").state == PaymentState.PENDING


def test_partial_refunds_and_a_retry_refunds_once(alipay, fake_alipay):
    _paid(alipay, fake_alipay, "P-R", 1000)
    first = alipay.refund(request_no="RF1", payment_no="P-R", trade_no="", amount_fen=300, total_fen=1000)
    assert (first.state, first.amount_fen) == (RefundState.SUCCEEDED, 300)
    again = alipay.refund(request_no="RF1", payment_no="P-R", trade_no="", amount_fen=300, total_fen=1000)
    assert (again.state, again.amount_fen) == (RefundState.SUCCEEDED, 300)  # fund_change N, read by the query
    second = alipay.refund(request_no="RF2", payment_no="P-R", trade_no="", amount_fen=700, total_fen=1000)
    assert second.state == RefundState.SUCCEEDED
    assert sorted(r["amount_fen"] for r in fake_alipay.refunds.values()) == [300, 700]  # 1000 back, not 1300
    with pytest.raises(GatewayRefused):
        alipay.refund(request_no="RF3", payment_no="P-R", trade_no="", amount_fen=1, total_fen=1000)


def test_refund_retried_after_a_timeout_refunds_once(alipay, fake_alipay):
    _paid(alipay, fake_alipay, "P-T", 800)
    fake_alipay.mode = Modes.TIMEOUT
    with pytest.raises(UnknownOutcome):
        alipay.refund(request_no="RF-T", payment_no="P-T", trade_no="", amount_fen=800, total_fen=800)
    fake_alipay.mode = Modes.NORMAL
    fake_alipay.release.set()
    assert alipay.query_refund(request_no="RF-T", payment_no="P-T").state in (RefundState.NOT_FOUND, RefundState.SUCCEEDED)
    result = alipay.refund(request_no="RF-T", payment_no="P-T", trade_no="", amount_fen=800, total_fen=800)
    assert result.state == RefundState.SUCCEEDED
    assert [r["amount_fen"] for r in fake_alipay.refunds.values()] == [800]


def test_refund_query(alipay, fake_alipay):
    _paid(alipay, fake_alipay, "P-Q", 600)
    assert alipay.query_refund(request_no="RF-Q", payment_no="P-Q").state == RefundState.NOT_FOUND
    alipay.refund(request_no="RF-Q", payment_no="P-Q", trade_no="", amount_fen=250, total_fen=600)
    result = alipay.query_refund(request_no="RF-Q", payment_no="P-Q")
    assert (result.state, result.amount_fen, result.request_no) == (RefundState.SUCCEEDED, 250, "RF-Q")


@pytest.mark.parametrize("mode", [Modes.TIMEOUT, Modes.GARBAGE, Modes.BAD_SIGNATURE])
def test_timeout_or_garbage_is_an_unknown_outcome(alipay, fake_alipay, mode):
    _paid(alipay, fake_alipay, "P-G", 100)
    fake_alipay.mode = mode
    with pytest.raises(UnknownOutcome):
        alipay.query_payment("P-G")
    with pytest.raises(UnknownOutcome):
        alipay.refund(request_no="RF-G", payment_no="P-G", trade_no="", amount_fen=100, total_fen=100)
    with pytest.raises(UnknownOutcome):
        alipay.create_payment(_request("P-G2", device=Device.QR))


def test_bill_lists_every_payment_and_refund(alipay, fake_alipay):
    for no, fen in (("P-B1", 1000), ("P-B2", 2050), ("P-B3", 1)):
        _paid(alipay, fake_alipay, no, fen)
    alipay.refund(request_no="RF-B1", payment_no="P-B1", trade_no="", amount_fen=400, total_fen=1000)
    lines = alipay.statement(date.today())
    payments = {(x.our_no, x.amount_fen) for x in lines if x.kind == "payment"}
    refunds = {(x.our_no, x.payment_no, x.amount_fen) for x in lines if x.kind == "refund"}
    assert payments == {("P-B1", 1000), ("P-B2", 2050), ("P-B3", 1)}
    assert refunds == {("RF-B1", "P-B1", 400)}
    assert all(x.their_no and x.at for x in lines)


def test_a_partial_refund_notification_names_the_request(alipay, fake_alipay):
    _paid(alipay, fake_alipay, "P-N", 1000)
    alipay.refund(request_no="RF-N", payment_no="P-N", trade_no="", amount_fen=100, total_fen=1000)
    body = urlencode(fake_alipay.notification("P-N", out_biz_no="RF-N", refund_fee="1.00",
                                              gmt_refund="2026-11-23 10:00:00.000")).encode()
    notice = alipay.parse_notification(headers={}, body=body)
    assert notice.payment is None
    assert (notice.refund.request_no, notice.refund.payment_no, notice.refund.amount_fen) == ("RF-N", "P-N", None)
