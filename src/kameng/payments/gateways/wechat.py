"""WeChat Pay API v3 through the maintained SDK `wechatpayv3`, in public-key mode.

Native (a QR code's `code_url`) and H5 (a `h5_url` opened on the phone); notifications signed with
WeChat Pay's public key (`Wechatpay-*` headers), at most five minutes old, with a `resource`
encrypted by AEAD_AES_256_GCM under the APIv3 key; `/v3/refund/domestic/refunds` with our request
number as `out_refund_no`; payment and refund queries; the day's trade bill.

The SDK signs each request (`WECHATPAY2-SHA256-RSA2048` Authorization) and checks the signature of
every 2xx answer; an answer it cannot check, a timeout or garbage is an `UnknownOutcome`.
"""

import gzip
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, load_public_key, rsa_verify

from kameng.core import clock

from .base import (
    Answer,
    Checkout,
    Device,
    Gateway,
    GatewayRefused,
    Notice,
    NotificationRefused,
    PaymentRequest,
    PaymentResult,
    PaymentState,
    RefundResult,
    RefundState,
    StatementLine,
    UnknownOutcome,
    yuan_to_fen,
)

logger = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_GATEWAY = "https://api.mch.weixin.qq.com"
FRESHNESS = timedelta(minutes=5)
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
REFUND_STATES = {"SUCCESS": RefundState.SUCCEEDED, "PROCESSING": RefundState.PROCESSING,
                 "ABNORMAL": RefundState.FAILED, "CLOSED": RefundState.FAILED}
REFUND_EVENTS = ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")
BILL_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class WechatSettings:
    mch_id: str
    app_id: str
    private_key: str  # the merchant's key (PEM)
    cert_serial: str  # the merchant certificate's serial number
    apiv3_key: str
    public_key: str  # WeChat Pay's public key (PEM)
    public_key_id: str
    gateway: str = DEFAULT_GATEWAY
    timeout: float = 10.0


def _failure(code: str, status: int, detail: str = "") -> Answer:
    """Any answer but 2xx makes WeChat Pay send the notification again. The body is WeChat's
    `{"code":"FAIL","message"}` and, beside it, the platform's own error shape."""
    body = {"code": "FAIL", "message": code, "error": {"code": code, "message": detail or code}}
    return Answer(status, json.dumps(body, ensure_ascii=False), "application/json")


def _refused(status: int, code: str, detail: str = "", log_fields: dict | None = None) -> NotificationRefused:
    return NotificationRefused(code, _failure(code, status, detail), detail, log_fields)


def _time(text) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def _fen(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("amounts are whole fen")
    return value


class WechatGateway(Gateway):
    name = "wechat"

    def __init__(self, config: WechatSettings):
        self.config = config
        self.client = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=config.mch_id,
            private_key=config.private_key,
            cert_serial_no=config.cert_serial,
            appid=config.app_id,
            apiv3_key=config.apiv3_key,
            public_key=config.public_key,
            public_key_id=config.public_key_id,
            timeout=(min(config.timeout, 5.0), config.timeout),
        )
        # The SDK keeps its host in `Core._gate_way`, set to api.mch.weixin.qq.com in the constructor
        # with no parameter for it; every request (and `download_bill`) reads it from there.
        self.client._core._gate_way = config.gateway.rstrip("/")
        self._wechat_public_key = load_public_key(config.public_key)

    # ---- calling WeChat Pay ---------------------------------------------------------------------

    def _call(self, what: str, call, *, missing_is_none: bool = False) -> dict | None:
        try:
            status, text = call()
        except Exception as exc:  # timeout, connection, or a 2xx answer whose signature does not verify
            logger.warning("wechat %s: no usable answer (%s)", what, type(exc).__name__)
            raise UnknownOutcome(f"wechat {what}: no usable answer ({type(exc).__name__})") from None
        try:
            data = json.loads(text) if text else {}
        except (TypeError, ValueError):
            raise UnknownOutcome(f"wechat {what}: answer is not JSON (HTTP {status})") from None
        if not isinstance(data, dict):
            raise UnknownOutcome(f"wechat {what}: answer is not an object")
        if 200 <= status < 300:
            return data
        code = str(data.get("code", "")) or f"HTTP_{status}"
        if status == 404 and missing_is_none:
            return None
        if status >= 500 or status == 429 or code in ("SYSTEM_ERROR", "FREQUENCY_LIMITED"):
            raise UnknownOutcome(f"wechat {what}: {code}")
        raise GatewayRefused(code, str(data.get("message", ""))[:200])

    # ---- paying ---------------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> Checkout:
        common = {
            "description": request.subject[:127],
            "out_trade_no": request.payment_no,
            "amount": {"total": request.amount_fen, "currency": "CNY"},
            "time_expire": request.expires_at.astimezone(BEIJING).isoformat(timespec="seconds"),
            "notify_url": request.notify_url,
        }
        if request.device == Device.PHONE:
            scene = {"payer_client_ip": request.client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
            data = self._call("h5 pay", lambda: self.client.pay(**common, scene_info=scene, pay_type=WeChatPayType.H5))
            if not data.get("h5_url"):
                raise UnknownOutcome("wechat h5 pay: no h5_url")
            return Checkout(expires_at=request.expires_at, pay_url=data["h5_url"])
        data = self._call("native pay", lambda: self.client.pay(**common, pay_type=WeChatPayType.NATIVE))
        if not data.get("code_url"):
            raise UnknownOutcome("wechat native pay: no code_url")
        return Checkout(expires_at=request.expires_at, code_url=data["code_url"])

    def query_payment(self, payment_no: str) -> PaymentResult:
        data = self._call("query", lambda: self.client.query(out_trade_no=payment_no), missing_is_none=True)
        if data is None:
            return PaymentResult(payment_no=payment_no, state=PaymentState.NOT_FOUND)
        return self._payment(data, payment_no=payment_no)

    def _payment(self, data: dict, *, payment_no: str) -> PaymentResult:
        state_name = data.get("trade_state", "")
        if state_name in ("SUCCESS", "REFUND"):  # REFUND: it was paid, then (partly) refunded
            state = PaymentState.SUCCEEDED
        elif state_name in ("CLOSED", "REVOKED", "PAYERROR"):
            state = PaymentState.CLOSED
        else:
            state = PaymentState.PENDING
        amount = data.get("amount") or {}
        try:
            fen = _fen(amount.get("total")) if isinstance(amount, dict) and "total" in amount else None
        except ValueError:
            raise UnknownOutcome("wechat: unreadable amount") from None
        return PaymentResult(payment_no=data.get("out_trade_no") or payment_no, state=state,
                             trade_no=data.get("transaction_id", "") or "", amount_fen=fen,
                             at=_time(data.get("success_time")))

    # ---- notifications --------------------------------------------------------------------------

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> Notice:
        timestamp = headers.get("Wechatpay-Timestamp", "")
        nonce = headers.get("Wechatpay-Nonce", "")
        signature = headers.get("Wechatpay-Signature", "")
        serial = headers.get("Wechatpay-Serial", "")
        kind = headers.get("Wechatpay-Signature-Type", SIGNATURE_TYPE)
        if not (timestamp and nonce and signature and serial):
            raise _refused(401, "BAD_SIGNATURE", "Wechatpay-* headers missing")
        try:
            moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise _refused(401, "STALE_NOTIFICATION", "unreadable Wechatpay-Timestamp") from None
        if not clock.is_recent(moment, tolerance=FRESHNESS):
            raise _refused(401, "STALE_NOTIFICATION", "Wechatpay-Timestamp is over five minutes off")
        if kind != SIGNATURE_TYPE or serial != self.config.public_key_id:
            raise _refused(401, "BAD_SIGNATURE", "not signed with the configured WeChat Pay public key")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _refused(401, "BAD_SIGNATURE", "body is not UTF-8") from None
        if not rsa_verify(timestamp, nonce, text, signature, self._wechat_public_key):
            raise _refused(401, "BAD_SIGNATURE", "signature does not verify")
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            event = str(envelope.get("event_type", ""))
            algorithm, ciphertext = resource["algorithm"], resource["ciphertext"]
            resource_nonce, associated = resource["nonce"], resource.get("associated_data") or ""
        except (ValueError, TypeError, KeyError):
            raise _refused(400, "MALFORMED", "body is not a notification") from None
        safe = {"id": str(envelope.get("id", ""))[:64], "event_type": event[:40]}
        if algorithm != "AEAD_AES_256_GCM" or not all(isinstance(v, str) for v in (ciphertext, resource_nonce, associated)):
            raise _refused(400, "UNDECRYPTABLE", "unsupported resource", safe)
        try:
            plain = aes_decrypt(nonce=resource_nonce, ciphertext=ciphertext, associated_data=associated,
                                apiv3_key=self.config.apiv3_key)
        except Exception:  # bad base64, wrong nonce length
            plain = None
        if plain is None:
            raise _refused(400, "UNDECRYPTABLE", "resource does not decrypt with the APIv3 key", safe)
        try:
            data = json.loads(plain)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            raise _refused(400, "MALFORMED", "resource is not JSON", safe) from None
        for name in ("out_trade_no", "transaction_id", "out_refund_no", "refund_id", "trade_state", "refund_status"):
            if isinstance(data.get(name), str):
                safe[name] = data[name][:64]
        if data.get("mchid") != self.config.mch_id or ("appid" in data and data["appid"] != self.config.app_id):
            raise _refused(400, "WRONG_APP", "mchid or appid is not ours", safe)
        ack = Answer(204)
        amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
        if event in REFUND_EVENTS:
            if not data.get("out_refund_no"):
                raise _refused(400, "MALFORMED", "missing out_refund_no", safe)
            try:
                fen = _fen(amount.get("refund"))
            except ValueError:
                raise _refused(400, "MALFORMED", "refund amount is not whole fen", safe) from None
            state = REFUND_STATES.get(str(data.get("refund_status", "")), RefundState.PROCESSING)
            refund = RefundResult(request_no=data["out_refund_no"], state=state, refund_no=str(data.get("refund_id", "")),
                                  amount_fen=fen, payment_no=str(data.get("out_trade_no", "")),
                                  at=_time(data.get("success_time")))
            return Notice(ack=ack, refund=refund, log_fields=safe)
        if event == "TRANSACTION.SUCCESS":
            if not (data.get("out_trade_no") and data.get("transaction_id")):
                raise _refused(400, "MALFORMED", "missing out_trade_no or transaction_id", safe)
            try:
                _fen(amount.get("total"))
            except ValueError:
                raise _refused(400, "MALFORMED", "amount is not whole fen", safe) from None
            return Notice(ack=ack, payment=self._payment(data, payment_no=data["out_trade_no"]), log_fields=safe)
        return Notice(ack=ack, log_fields=safe)  # an event we do not act on: taken, so it is not sent again

    def refusal(self, code: str) -> Answer:
        return _failure(code, 400)

    # ---- refunds --------------------------------------------------------------------------------

    def _refund(self, data: dict, *, request_no: str, payment_no: str) -> RefundResult:
        amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
        try:
            fen = _fen(amount.get("refund"))
        except ValueError:
            raise UnknownOutcome("wechat refund: unreadable amount") from None
        state = REFUND_STATES.get(str(data.get("status", "")), RefundState.PROCESSING)
        return RefundResult(request_no=data.get("out_refund_no") or request_no, state=state,
                            refund_no=str(data.get("refund_id", "")), amount_fen=fen,
                            payment_no=data.get("out_trade_no") or payment_no, at=_time(data.get("success_time")))

    def refund(self, *, request_no: str, payment_no: str, trade_no: str, amount_fen: int, total_fen: int,
               reason: str = "", notify_url: str = "") -> RefundResult:
        extra = {"reason": reason[:80]} if reason else {}
        if notify_url:
            extra["notify_url"] = notify_url
        data = self._call("refund", lambda: self.client.refund(
            out_refund_no=request_no, amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"},
            out_trade_no=payment_no, **extra))
        return self._refund(data, request_no=request_no, payment_no=payment_no)

    def query_refund(self, *, request_no: str, payment_no: str) -> RefundResult:
        data = self._call("refund query", lambda: self.client.query_refund(out_refund_no=request_no), missing_is_none=True)
        if data is None:
            return RefundResult(request_no=request_no, state=RefundState.NOT_FOUND, payment_no=payment_no)
        return self._refund(data, request_no=request_no, payment_no=payment_no)

    # ---- statements -----------------------------------------------------------------------------

    def statement(self, day: date) -> list[StatementLine]:
        data = self._call("trade bill", lambda: self.client.trade_bill(bill_date=day.isoformat()))
        url, expected = data.get("download_url", ""), str(data.get("hash_value", "")).lower()
        if not url.startswith(self.config.gateway.rstrip("/")):
            raise UnknownOutcome("wechat bill: download URL is not at the gateway")
        try:
            status, content = self.client.download_bill(url)
        except Exception as exc:
            raise UnknownOutcome(f"wechat bill download failed ({type(exc).__name__})") from None
        if status != 200 or not isinstance(content, bytes):
            raise UnknownOutcome(f"wechat bill download: HTTP {status}")
        try:
            raw = gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content
        except (OSError, EOFError):
            raise UnknownOutcome("wechat bill: not a readable gzip") from None
        # The hash is of the bill itself (after un-gzipping); a mismatch means a broken download.
        if data.get("hash_type", "SHA1") == "SHA1" and hashlib.sha1(raw).hexdigest() != expected:
            raise UnknownOutcome("wechat bill: SHA1 does not match")
        return parse_trade_bill(raw.decode("utf-8-sig", errors="replace"))


def parse_trade_bill(text: str) -> list[StatementLine]:
    """The ALL trade bill: a header row, rows whose cells start with a backtick, then the totals."""
    lines_in = [line for line in text.splitlines() if line.strip()]
    if not lines_in:
        return []
    header = [c.strip().lstrip("`") for c in lines_in[0].split(",")]

    def column(name: str) -> int | None:
        return header.index(name) if name in header else None

    at_i, trade_i, ours_i, state_i = column("交易时间"), column("微信订单号"), column("商户订单号"), column("交易状态")
    total_i, refund_no_i, our_refund_i = column("订单金额"), column("微信退款单号"), column("商户退款单号")
    refund_i = column("申请退款金额") if column("申请退款金额") is not None else column("退款金额")
    if None in (trade_i, ours_i, state_i, total_i):
        raise UnknownOutcome("wechat bill: header row not recognised")
    statement = []
    for line in lines_in[1:]:
        if line.startswith("总交易单数"):
            break
        cells = [c.strip().lstrip("`").strip() for c in line.split(",")]

        def cell(i, cells=cells):
            return cells[i] if i is not None and i < len(cells) else ""

        try:
            at = datetime.strptime(cell(at_i), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        except ValueError:
            at = None
        try:
            if cell(state_i) == "REFUND":
                statement.append(StatementLine(kind="refund", our_no=cell(our_refund_i), their_no=cell(refund_no_i),
                                               amount_fen=abs(yuan_to_fen(cell(refund_i))), at=at,
                                               payment_no=cell(ours_i)))
            else:
                statement.append(StatementLine(kind="payment", our_no=cell(ours_i), their_no=cell(trade_i),
                                               amount_fen=yuan_to_fen(cell(total_i)), at=at, payment_no=cell(ours_i)))
        except ValueError:
            raise UnknownOutcome("wechat bill: a line without a readable amount") from None
    return statement
