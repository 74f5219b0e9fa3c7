"""Fake Alipay and WeChat Pay servers with keys made for the test, and the SDK-backed adapters pointed at them."""

import pytest

from kameng.payments.gateways.alipay import AlipayGateway, AlipaySettings
from kameng.payments.gateways.wechat import WechatGateway, WechatSettings

from .fakes import alipay_server, wechat_server
from .fakes.common import KeyPair

TIMEOUT = 1.0  # the fakes' "timeout" mode hangs longer than this


@pytest.fixture(scope="session")
def alipay_keys():
    return {"app": KeyPair.generate(), "alipay": KeyPair.generate()}


@pytest.fixture(scope="session")
def wechat_keys():
    return {"merchant": KeyPair.generate(), "wechat": KeyPair.generate()}


@pytest.fixture
def fake_alipay(alipay_keys):
    server = alipay_server.FakeAlipay(alipay_keys["app"], alipay_keys["alipay"])
    yield server
    server.close()


@pytest.fixture
def fake_wechat(wechat_keys):
    server = wechat_server.FakeWechatPay(wechat_keys["merchant"], wechat_keys["wechat"])
    yield server
    server.close()


def alipay_settings(keys, fake, **overrides) -> AlipaySettings:
    values = {"app_id": alipay_server.APP_ID, "app_private_key": keys["app"].private_pem,
              "alipay_public_key": keys["alipay"].public_pem, "gateway": fake.gateway, "timeout": TIMEOUT}
    return AlipaySettings(**{**values, **overrides})


def wechat_settings(keys, fake, **overrides) -> WechatSettings:
    values = {"mch_id": wechat_server.MCH_ID, "app_id": wechat_server.APP_ID,
              "private_key": keys["merchant"].private_pem, "cert_serial": wechat_server.CERT_SERIAL,
              "apiv3_key": wechat_server.APIV3_KEY, "public_key": keys["wechat"].public_pem,
              "public_key_id": wechat_server.PUBLIC_KEY_ID, "gateway": fake.base_url, "timeout": TIMEOUT}
    return WechatSettings(**{**values, **overrides})


@pytest.fixture
def alipay(alipay_keys, fake_alipay):
    return AlipayGateway(alipay_settings(alipay_keys, fake_alipay))


@pytest.fixture
def wechat(wechat_keys, fake_wechat):
    return WechatGateway(wechat_settings(wechat_keys, fake_wechat))


@pytest.fixture
def alipay_env(monkeypatch, alipay_keys, fake_alipay):
    """The contract's variables, pointing the registry's Alipay at the fake."""
    monkeypatch.setenv("KAMENG_ALIPAY_APP_ID", alipay_server.APP_ID)
    monkeypatch.setenv("KAMENG_ALIPAY_APP_PRIVATE_KEY", alipay_keys["app"].private_pem)
    monkeypatch.setenv("KAMENG_ALIPAY_PUBLIC_KEY", alipay_keys["alipay"].public_pem)
    monkeypatch.setenv("KAMENG_ALIPAY_GATEWAY", fake_alipay.gateway)
    monkeypatch.setenv("KAMENG_GATEWAY_TIMEOUT", str(TIMEOUT))
    return fake_alipay


@pytest.fixture
def wechat_env(monkeypatch, wechat_keys, fake_wechat):
    values = {"MCH_ID": wechat_server.MCH_ID, "APP_ID": wechat_server.APP_ID,
              "PRIVATE_KEY": wechat_keys["merchant"].private_pem, "CERT_SERIAL": wechat_server.CERT_SERIAL,
              "APIV3_KEY": wechat_server.APIV3_KEY, "PUBLIC_KEY": wechat_keys["wechat"].public_pem,
              "PUBLIC_KEY_ID": wechat_server.PUBLIC_KEY_ID, "GATEWAY": fake_wechat.base_url}
    for name, value in values.items():
        monkeypatch.setenv(f"KAMENG_WECHATPAY_{name}", value)
    monkeypatch.setenv("KAMENG_GATEWAY_TIMEOUT", str(TIMEOUT))
    return fake_wechat
