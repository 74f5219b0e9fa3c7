"""The sandbox gateway: signs notifications like a real gateway (HMAC-SHA256, contract §Sandbox).

It serves the alipay, wechat and bank channels in sandbox mode. Real adapters (python-alipay-sdk,
wechatpayv3) will sit beside it behind the same two functions: `verify` and `notification_for`.
"""

import hmac
import secrets

from kameng.core import clock, config, crypto

NAME = "sandbox"
FIELDS = ("payment_no", "trade_no", "amount", "status", "ts")


def canonical(fields: dict) -> bytes:
    """Every field but `sign`, sorted by name, joined as k=v with &."""
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign").encode("utf-8")


def sign(fields: dict) -> str:
    return crypto.sign(canonical(fields), config.sandbox_secret())


def verify(fields: dict) -> bool:
    given = fields.get("sign")
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.lower(), sign(fields))


def notification_for(*, payment_no: str, amount: str, status: str = "SUCCESS") -> dict:
    """What the sandbox gateway sends when the buyer pays."""
    fields = {
        "payment_no": payment_no,
        "trade_no": "SBX" + clock.now().strftime("%Y%m%d") + secrets.token_hex(8).upper(),
        "amount": amount,
        "status": status,
        "ts": str(int(clock.now().timestamp())),
    }
    fields["sign"] = sign(fields)
    return fields
