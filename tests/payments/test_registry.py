"""Which channels are offered: only configured ones (the sandbox serves alipay, wechat and bank)."""

import logging
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from kameng.core import clock
from kameng.payments.gateways import registry, sandbox
from kameng.payments.gateways.alipay import AlipayGateway
from kameng.payments.gateways.base import (
    Device,
    NotificationRefused,
    PaymentRequest,
    PaymentState,
    RefundState,
)
from kameng.payments.gateways.sandbox_gateway import SandboxGateway
from kameng.payments.gateways.wechat import WechatGateway

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_gateway_variables(monkeypatch):
    for name in (*registry.ALIPAY_VARIABLES, *registry.WECHAT_VARIABLES):
        monkeypatch.delenv(name, raising=False)


def test_nothing_is_offered_without_credentials_or_sandbox(settings):
    settings.KAMENG_SANDBOX = False
    assert registry.available_channels() == []
    with pytest.raises(registry.ChannelUnavailable):
        registry.gateway_for("alipay")


def test_the_sandbox_serves_every_channel(settings):
    settings.KAMENG_SANDBOX = True
    assert registry.available_channels() == ["alipay", "wechat", "bank"]
    assert isinstance(registry.gateway_for("bank"), SandboxGateway)
    with pytest.raises(registry.ChannelUnavailable):
        registry.gateway_for("paypal")


def test_configured_alipay_is_the_real_gateway_even_in_sandbox_mode(settings, alipay_env):
    settings.KAMENG_SANDBOX = False
    assert registry.available_channels() == ["alipay"]
    gateway = registry.gateway_for("alipay")
    assert isinstance(gateway, AlipayGateway) and gateway.config.gateway == alipay_env.gateway
    settings.KAMENG_SANDBOX = True
    assert isinstance(registry.gateway_for("alipay"), AlipayGateway)
    assert isinstance(registry.gateway_for("wechat"), SandboxGateway)


def test_configured_wechat_is_offered(settings, wechat_env):
    settings.KAMENG_SANDBOX = False
    assert registry.available_channels() == ["wechat"]
    assert isinstance(registry.gateway_for("wechat"), WechatGateway)
    checkout = registry.gateway_for("wechat").create_payment(PaymentRequest(
        payment_no="P-REG", amount_fen=100, subject="x", expires_at=clock.now() + timedelta(minutes=15),
        notify_url=registry.notify_url("wechat"), device=Device.QR))
    assert checkout.code_url and wechat_env.trades["P-REG"]["notify_url"].endswith("/api/v1/payments/notify/wechat")


def test_keys_may_be_paths_to_pem_files(settings, alipay_env, alipay_keys, tmp_path, monkeypatch):
    settings.KAMENG_SANDBOX = False
    private = tmp_path / "app_private.pem"
    private.write_text(alipay_keys["app"].private_pem)
    monkeypatch.setenv("KAMENG_ALIPAY_APP_PRIVATE_KEY", str(private))
    checkout = registry.gateway_for("alipay").create_payment(PaymentRequest(
        payment_no="P-PATH", amount_fen=100, subject="x", expires_at=clock.now() + timedelta(minutes=15),
        notify_url=registry.notify_url("alipay"), device=Device.QR))
    assert checkout.code_url and "P-PATH" in alipay_env.trades


def test_a_broken_key_makes_the_channel_unavailable_without_showing_it(settings, alipay_env, monkeypatch, caplog):
    settings.KAMENG_SANDBOX = False
    secretish = "-----BEGIN PRIVATE KEY-----\nTOPSECRETNOTAKEY\n-----END PRIVATE KEY-----"
    monkeypatch.setenv("KAMENG_ALIPAY_APP_PRIVATE_KEY", secretish)
    with caplog.at_level(logging.INFO):
        assert registry.available_channels() == []
        with pytest.raises(registry.ChannelUnavailable) as unavailable:
            registry.gateway_for("alipay")
    assert "TOPSECRET" not in str(unavailable.value) and "TOPSECRET" not in caplog.text
    monkeypatch.setenv("KAMENG_ALIPAY_APP_PRIVATE_KEY", "/nonexistent/key.pem")
    assert registry.available_channels() == []


def test_notify_url_comes_from_the_public_url(monkeypatch):
    monkeypatch.setenv("KAMENG_PUBLIC_URL", "https://shop.example/")
    assert registry.notify_url("alipay") == "https://shop.example/api/v1/payments/notify/alipay"


# ---- the sandbox behind the same interface --------------------------------------------------------


def test_sandbox_gateway_speaks_the_interface(settings):
    settings.KAMENG_SANDBOX = True
    gateway = registry.gateway_for("alipay")
    checkout = gateway.create_payment(PaymentRequest(payment_no="P-SBX", amount_fen=500, subject="x",
                                                     expires_at=clock.now(), notify_url=""))
    assert checkout.pay_url == "/sandbox/pay/P-SBX/"
    fields = sandbox.notification_for(payment_no="P-SBX", amount="5.00")
    notice = gateway.parse_notification(headers={}, body=urlencode(fields).encode())
    assert (notice.payment.payment_no, notice.payment.state, notice.payment.amount_fen) == ("P-SBX", PaymentState.SUCCEEDED, 500)
    with pytest.raises(NotificationRefused) as refused:
        gateway.parse_notification(headers={}, body=urlencode({**fields, "amount": "0.01"}).encode())
    assert refused.value.code == "BAD_SIGNATURE"

    first = gateway.refund(request_no="RF-SBX", payment_no="P-SBX", trade_no="", amount_fen=200, total_fen=500)
    again = gateway.refund(request_no="RF-SBX", payment_no="P-SBX", trade_no="", amount_fen=200, total_fen=500)
    assert first.state == RefundState.PROCESSING and again.refund_no == first.refund_no
    clock.advance(seconds=3600)
    done = gateway.query_refund(request_no="RF-SBX", payment_no="P-SBX")
    assert (done.state, done.amount_fen) == (RefundState.SUCCEEDED, 200)
    assert gateway.query_refund(request_no="RF-NONE", payment_no="P-SBX").state == RefundState.NOT_FOUND


def test_wire_amounts_are_strict():
    from kameng.payments.gateways.base import fen_to_yuan, yuan_to_fen

    assert [yuan_to_fen(x) for x in ("12.34", "0.01", "5", "-3.5", " 7.00 ")] == [1234, 1, 500, -350, 700]
    for bad in ("12.345", "1e3", "12,34", "", "NaN", "0x10", "1.2.3"):
        with pytest.raises(ValueError):
            yuan_to_fen(bad)
    assert [fen_to_yuan(x) for x in (1234, 1, 500, -350)] == ["12.34", "0.01", "5.00", "-3.50"]
