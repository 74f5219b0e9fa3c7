"""Which gateway serves which channel, from the environment (contract: "Real payment gateways").

A channel is available only when it is configured; in sandbox mode the sandbox gateway serves
alipay, wechat and bank where no real credentials are set. `bank` has no real gateway: UnionPay
publishes SDKs for Java, PHP, .NET and C but none for Python, and the Python packages on PyPI that
claim it are unmaintained one-offs, so we do not invent its protocol; bank is sandbox-only.
"""

import logging
import os
from functools import lru_cache

from django.conf import settings

from .base import Gateway, NotConfigured
from .keys import pem

logger = logging.getLogger(__name__)

CHANNELS = ("alipay", "wechat", "bank")
NOTIFY_PATH = "/api/v1/payments/notify/{name}"

ALIPAY_VARIABLES = ("KAMENG_ALIPAY_APP_ID", "KAMENG_ALIPAY_APP_PRIVATE_KEY", "KAMENG_ALIPAY_PUBLIC_KEY")
WECHAT_VARIABLES = ("KAMENG_WECHATPAY_MCH_ID", "KAMENG_WECHATPAY_APP_ID", "KAMENG_WECHATPAY_PRIVATE_KEY",
                    "KAMENG_WECHATPAY_CERT_SERIAL", "KAMENG_WECHATPAY_APIV3_KEY", "KAMENG_WECHATPAY_PUBLIC_KEY",
                    "KAMENG_WECHATPAY_PUBLIC_KEY_ID")


class ChannelUnavailable(NotConfigured):
    pass


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _timeout() -> float:
    try:
        return max(0.1, float(_env("KAMENG_GATEWAY_TIMEOUT") or "10"))
    except ValueError:
        return 10.0


def configured(name: str) -> bool:
    """Whether the operator set every variable of a real gateway (contract table)."""
    variables = {"alipay": ALIPAY_VARIABLES, "wechat": WECHAT_VARIABLES}.get(name, ())
    return bool(variables) and all(_env(v) for v in variables)


@lru_cache(maxsize=8)
def _alipay(values: tuple) -> Gateway:
    from .alipay import DEFAULT_GATEWAY, AlipayGateway, AlipaySettings

    app_id, private_key, public_key, gateway, timeout = values
    return AlipayGateway(AlipaySettings(
        app_id=app_id,
        app_private_key=pem(private_key, kind="RSA PRIVATE KEY", variable="KAMENG_ALIPAY_APP_PRIVATE_KEY"),
        alipay_public_key=pem(public_key, kind="PUBLIC KEY", variable="KAMENG_ALIPAY_PUBLIC_KEY"),
        gateway=gateway or DEFAULT_GATEWAY, timeout=timeout,
    ))


@lru_cache(maxsize=8)
def _wechat(values: tuple) -> Gateway:
    from .wechat import DEFAULT_GATEWAY, WechatGateway, WechatSettings

    mch_id, app_id, private_key, serial, apiv3_key, public_key, public_key_id, gateway, timeout = values
    return WechatGateway(WechatSettings(
        mch_id=mch_id, app_id=app_id,
        private_key=pem(private_key, kind="PRIVATE KEY", variable="KAMENG_WECHATPAY_PRIVATE_KEY"),
        cert_serial=serial, apiv3_key=apiv3_key,
        public_key=pem(public_key, kind="PUBLIC KEY", variable="KAMENG_WECHATPAY_PUBLIC_KEY"),
        public_key_id=public_key_id, gateway=gateway or DEFAULT_GATEWAY, timeout=timeout,
    ))


def real_gateway(name: str) -> Gateway:
    """The SDK-backed gateway for `alipay` or `wechat`; built once per configuration (keys parse once)."""
    if not configured(name):
        raise ChannelUnavailable(f"{name} is not configured")
    try:
        if name == "alipay":
            return _alipay((*(_env(v) for v in ALIPAY_VARIABLES), _env("KAMENG_ALIPAY_GATEWAY"), _timeout()))
        return _wechat((*(_env(v) for v in WECHAT_VARIABLES), _env("KAMENG_WECHATPAY_GATEWAY"), _timeout()))
    except NotConfigured:
        raise
    except Exception as exc:  # a key the SDK cannot load: say which channel, never show the key
        logger.error("%s is configured but its keys do not load (%s)", name, type(exc).__name__)
        raise ChannelUnavailable(f"{name} is configured but its keys do not load") from None


def gateway_for(channel: str) -> Gateway:
    """The gateway that takes payments on `channel`; `ChannelUnavailable` when none does."""
    if channel in ("alipay", "wechat") and configured(channel):
        return real_gateway(channel)
    if channel in CHANNELS and settings.KAMENG_SANDBOX:
        from .sandbox_gateway import SandboxGateway

        return SandboxGateway(channel)
    raise ChannelUnavailable(f"the {channel} channel is not available")


def served_by_sandbox(channel: str) -> bool:
    return channel in CHANNELS and settings.KAMENG_SANDBOX and not (channel in ("alipay", "wechat") and configured(channel))


def gateway_named(name: str) -> Gateway:
    """The gateway behind a notify endpoint (`alipay`, `wechat`, `sandbox`)."""
    if name == "sandbox":
        if not settings.KAMENG_SANDBOX:
            raise ChannelUnavailable("the sandbox is off")
        from .sandbox_gateway import SandboxGateway

        return SandboxGateway("sandbox")
    return real_gateway(name)


def available_channels() -> list[str]:
    available = []
    for channel in CHANNELS:
        try:
            gateway_for(channel)
        except NotConfigured:
            continue
        available.append(channel)
    return available


def notify_url(name: str) -> str:
    base = _env("KAMENG_PUBLIC_URL").rstrip("/") or "http://127.0.0.1:8000"
    return base + NOTIFY_PATH.format(name=name)
