"""Alipay (open platform, RSA2) through the maintained SDK `python-alipay-sdk`.

Page pay for desktops, wap pay for phones, `alipay.trade.precreate` for a QR code; the asynchronous
notification; `alipay.trade.refund` with our request number as `out_request_no` (partial refunds);
`alipay.trade.fastpay.refund.query`; `alipay.trade.query`; the day's bill through
`alipay.data.dataservice.bill.downloadurl.query` and the GBK CSV zip it points to.

The SDK signs every request and checks the signature of every answer with Alipay's public key; an
answer it cannot check is an `UnknownOutcome`, never a state.
"""

import csv
import io
import logging
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from alipay import AliPay
from alipay.utils import AliPayConfig

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
    fen_to_yuan,
    yuan_to_fen,
)

logger = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
WIRE_TIME = "%Y-%m-%d %H:%M:%S"  # Alipay's times are Beijing wall-clock time
DEFAULT_GATEWAY = "https://openapi.alipay.com/gateway.do"
PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
# Codes that mean "Alipay had a problem", not "Alipay said no": the outcome is unknown.
UNKNOWN_CODES = {"20000", "ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error"}
# Notification fields safe to log (public numbers and states; never sign, buyer ids or logon names).
LOG_FIELDS = ("notify_id", "app_id", "out_trade_no", "trade_no", "trade_status", "total_amount", "out_biz_no",
              "refund_fee", "notify_time")
BILL_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class AlipaySettings:
    app_id: str
    app_private_key: str  # PEM
    alipay_public_key: str  # PEM
    gateway: str = DEFAULT_GATEWAY
    timeout: float = 10.0


class _Client(AliPay):
    """The SDK's client, pointed at `KAMENG_ALIPAY_GATEWAY`.

    The SDK only knows two hosts (production, or Alipay's own sandbox with `debug=True`) and keeps the
    choice in `_gateway`, which every request reads; setting it after construction is the whole
    change. Requests are stamped with the platform clock in Beijing time (the SDK would read the
    machine's local time, which on a UTC server is eight hours off).
    """

    def __init__(self, *, gateway: str, **kwargs):
        super().__init__(**kwargs)
        self._gateway = gateway

    def build_body(self, method, biz_content=None, **kwargs):
        data = super().build_body(method, biz_content, **kwargs)
        data["timestamp"] = clock.now().astimezone(BEIJING).strftime(WIRE_TIME)
        return data


def _beijing(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text.strip(), WIRE_TIME).replace(tzinfo=BEIJING)
    except ValueError:
        return None


def _fail(code: str, detail: str = "", log_fields: dict | None = None) -> NotificationRefused:
    # Anything but the plain text `success` makes Alipay send the notification again later.
    return NotificationRefused(code, Answer(400, "fail"), detail, log_fields)


class AlipayGateway(Gateway):
    name = "alipay"

    def __init__(self, config: AlipaySettings):
        self.config = config
        self.client = _Client(
            gateway=config.gateway,
            appid=config.app_id,
            app_private_key_string=config.app_private_key,
            alipay_public_key_string=config.alipay_public_key,
            sign_type="RSA2",
            config=AliPayConfig(timeout=config.timeout),
        )

    # ---- calling Alipay -------------------------------------------------------------------------

    def _call(self, what: str, call) -> dict:
        """Run one signed server call; sort its answer into result, refusal or unknown."""
        try:
            result = call()
        except Exception as exc:  # timeout, connection, HTTP 5xx, not JSON, unsigned or badly signed answer
            logger.warning("alipay %s: no usable answer (%s)", what, type(exc).__name__)
            raise UnknownOutcome(f"alipay {what}: no usable answer ({type(exc).__name__})") from None
        if not isinstance(result, dict):
            raise UnknownOutcome(f"alipay {what}: answer is not an object")
        code = str(result.get("code", ""))
        if code == "10000":
            return result
        sub_code = str(result.get("sub_code", "")) or code
        if code in UNKNOWN_CODES or sub_code in UNKNOWN_CODES:
            raise UnknownOutcome(f"alipay {what}: {sub_code}")
        raise GatewayRefused(sub_code, str(result.get("sub_msg") or result.get("msg") or "")[:200])

    # ---- paying ---------------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> Checkout:
        common = {
            "subject": request.subject[:128],
            "out_trade_no": request.payment_no,
            "total_amount": fen_to_yuan(request.amount_fen),
            "notify_url": request.notify_url,
            "time_expire": request.expires_at.astimezone(BEIJING).strftime(WIRE_TIME),
        }
        if request.device == Device.QR:
            result = self._call("precreate", lambda: self.client.api_alipay_trade_precreate(**common))
            if not result.get("qr_code"):
                raise UnknownOutcome("alipay precreate: no qr_code in the answer")
            return Checkout(expires_at=request.expires_at, code_url=result["qr_code"])
        back = {"return_url": request.return_url} if request.return_url else {}
        if request.device == Device.PHONE:
            quit_url = {"quit_url": request.return_url} if request.return_url else {}
            query = self.client.api_alipay_trade_wap_pay(**common, **back, **quit_url)
        else:
            query = self.client.api_alipay_trade_page_pay(**common, **back)
        return Checkout(expires_at=request.expires_at, pay_url=f"{self.config.gateway}?{query}")

    def query_payment(self, payment_no: str) -> PaymentResult:
        try:
            result = self._call("trade.query", lambda: self.client.api_alipay_trade_query(out_trade_no=payment_no))
        except GatewayRefused as exc:
            if exc.code.endswith("TRADE_NOT_EXIST"):
                return PaymentResult(payment_no=payment_no, state=PaymentState.NOT_FOUND)
            raise
        status = result.get("trade_status", "")
        try:
            amount = yuan_to_fen(result.get("total_amount", ""))
        except ValueError:
            raise UnknownOutcome("alipay trade.query: unreadable total_amount") from None
        if status in PAID:
            state = PaymentState.SUCCEEDED
        elif status == "TRADE_CLOSED":  # never paid, or paid and refunded in full
            state = PaymentState.CLOSED
        else:
            state = PaymentState.PENDING
        return PaymentResult(payment_no=payment_no, state=state, trade_no=result.get("trade_no", ""), amount_fen=amount,
                             at=_beijing(result.get("send_pay_date")))

    # ---- notifications --------------------------------------------------------------------------

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> Notice:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise _fail("MALFORMED", "not a form") from None
        safe = {k: fields.get(k, "")[:64] for k in LOG_FIELDS if k in fields}
        signature = fields.pop("sign", "")
        sign_type = fields.pop("sign_type", "RSA2")
        if not signature:
            raise _fail("BAD_SIGNATURE", "no sign", safe)
        if sign_type != "RSA2":
            raise _fail("BAD_SIGNATURE", "sign_type is not RSA2", safe)
        try:
            valid = self.client.verify(dict(fields), signature)
        except Exception:  # a signature that is not even base64
            valid = False
        if not valid:
            raise _fail("BAD_SIGNATURE", "signature does not verify", safe)
        if fields.get("app_id") != self.config.app_id:
            raise _fail("WRONG_APP", "app_id is not ours", safe)
        missing = [n for n in ("out_trade_no", "trade_no", "trade_status") if not fields.get(n)]
        if missing:
            raise _fail("MALFORMED", f"missing {', '.join(missing)}", safe)
        try:
            amount = yuan_to_fen(fields.get("total_amount", ""))
        except ValueError:
            raise _fail("MALFORMED", "total_amount is not an amount", safe) from None
        ack = Answer(200, "success")
        if fields.get("out_biz_no") and ("refund_fee" in fields or "gmt_refund" in fields):
            # A refund changed the trade. The notice gives only the trade's refunded total, so the
            # amount of this request is read with `query_refund`.
            refund = RefundResult(request_no=fields["out_biz_no"], state=RefundState.PROCESSING,
                                  refund_no=fields["trade_no"], payment_no=fields["out_trade_no"],
                                  at=_beijing(fields.get("gmt_refund")))
            return Notice(ack=ack, refund=refund, log_fields=safe)
        status = fields["trade_status"]
        state = PaymentState.SUCCEEDED if status in PAID else (
            PaymentState.CLOSED if status == "TRADE_CLOSED" else PaymentState.PENDING)
        payment = PaymentResult(payment_no=fields["out_trade_no"], state=state, trade_no=fields["trade_no"],
                                amount_fen=amount, at=_beijing(fields.get("gmt_payment")))
        return Notice(ack=ack, payment=payment, log_fields=safe)

    def refusal(self, code: str) -> Answer:
        return Answer(400, "fail")

    # ---- refunds --------------------------------------------------------------------------------

    def refund(self, *, request_no: str, payment_no: str, trade_no: str, amount_fen: int, total_fen: int,
               reason: str = "", notify_url: str = "") -> RefundResult:
        extra = {"refund_reason": reason[:256]} if reason else {}
        result = self._call("trade.refund", lambda: self.client.api_alipay_trade_refund(
            refund_amount=fen_to_yuan(amount_fen), out_trade_no=payment_no, out_request_no=request_no, **extra,
        ))
        if result.get("fund_change") != "Y":
            # "N" is what a repeated request number gets, or a refund still in progress: ask.
            return self.query_refund(request_no=request_no, payment_no=payment_no)
        return RefundResult(request_no=request_no, state=RefundState.SUCCEEDED, refund_no=result.get("trade_no", ""),
                            amount_fen=amount_fen, payment_no=payment_no, at=_beijing(result.get("gmt_refund_pay")))

    def query_refund(self, *, request_no: str, payment_no: str) -> RefundResult:
        biz = {"out_trade_no": payment_no, "out_request_no": request_no, "query_options": ["gmt_refund_pay"]}
        try:
            result = self._call("fastpay.refund.query",
                                lambda: self.client.server_api("alipay.trade.fastpay.refund.query", biz))
        except GatewayRefused as exc:
            if exc.code.endswith("TRADE_NOT_EXIST"):
                return RefundResult(request_no=request_no, state=RefundState.NOT_FOUND, payment_no=payment_no)
            raise
        if not result.get("refund_amount"):
            # Alipay's rule: no data back means this request number was never refunded.
            return RefundResult(request_no=request_no, state=RefundState.NOT_FOUND, payment_no=payment_no)
        try:
            amount = yuan_to_fen(result["refund_amount"])
        except ValueError:
            raise UnknownOutcome("alipay refund query: unreadable refund_amount") from None
        # Alipay's rule: data back with an empty status or REFUND_SUCCESS means refunded.
        status = result.get("refund_status", "")
        state = RefundState.SUCCEEDED if status in ("", "REFUND_SUCCESS") else RefundState.PROCESSING
        return RefundResult(request_no=request_no, state=state, refund_no=result.get("trade_no", ""), amount_fen=amount,
                            payment_no=payment_no, at=_beijing(result.get("gmt_refund_pay")))

    # ---- statements -----------------------------------------------------------------------------

    def statement(self, day: date) -> list[StatementLine]:
        biz = {"bill_type": "trade", "bill_date": day.isoformat()}
        result = self._call("bill.downloadurl.query",
                            lambda: self.client.server_api("alipay.data.dataservice.bill.downloadurl.query", biz))
        url = result.get("bill_download_url", "")
        if not url.startswith(("https://", "http://")):
            raise UnknownOutcome("alipay bill: no download URL")
        try:
            with urllib.request.urlopen(url, timeout=self.config.timeout) as answer:  # the URL came in a signed answer
                data = answer.read(BILL_MAX_BYTES + 1)
        except Exception as exc:
            raise UnknownOutcome(f"alipay bill download failed ({type(exc).__name__})") from None
        if len(data) > BILL_MAX_BYTES:
            raise UnknownOutcome("alipay bill: file too large")
        return parse_bill_zip(data)


# ---- the bill file ------------------------------------------------------------------------------------


def parse_bill_zip(data: bytes) -> list[StatementLine]:
    """Alipay ships a zip of GBK CSV files; the detail file is the one with the 支付宝交易号 header row."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UnknownOutcome("alipay bill: not a zip") from None
    for info in archive.infolist():
        if info.file_size > BILL_MAX_BYTES:
            raise UnknownOutcome("alipay bill: file too large")
        text = archive.read(info).decode("gbk", errors="replace")
        lines = parse_bill_csv(text)
        if lines is not None:
            return lines
    raise UnknownOutcome("alipay bill: no detail file in the zip")


def _cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index].strip().strip("\t").strip()


def parse_bill_csv(text: str) -> list[StatementLine] | None:
    """The detail CSV: `#` comment lines, a header row, one row per payment or refund, `#` totals."""
    rows = list(csv.reader(io.StringIO(text)))
    header_at = next((i for i, row in enumerate(rows) if row and _cell(row, 0) == "支付宝交易号"), None)
    if header_at is None:
        return None
    header = [c.strip() for c in rows[header_at]]

    def column(prefix: str) -> int | None:
        return next((i for i, name in enumerate(header) if name.startswith(prefix)), None)

    trade, ours, kind, done, amount, request = (column("支付宝交易号"), column("商户订单号"), column("业务类型"),
                                                 column("完成时间"), column("订单金额"), column("退款批次号"))
    lines = []
    for row in rows[header_at + 1:]:
        if not row or _cell(row, 0).startswith("#"):
            if row and _cell(row, 0).startswith("#"):
                break
            continue
        try:
            fen = abs(yuan_to_fen(_cell(row, amount)))
        except ValueError:
            raise UnknownOutcome("alipay bill: a line without a readable amount") from None
        at = _beijing(_cell(row, done))
        if _cell(row, kind) == "退款":
            lines.append(StatementLine(kind="refund", our_no=_cell(row, request), their_no=_cell(row, trade),
                                       amount_fen=fen, at=at, payment_no=_cell(row, ours)))
        else:
            lines.append(StatementLine(kind="payment", our_no=_cell(row, ours), their_no=_cell(row, trade),
                                       amount_fen=fen, at=at, payment_no=_cell(row, ours)))
    return lines
