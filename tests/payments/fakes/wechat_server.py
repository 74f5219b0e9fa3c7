"""A fake WeChat Pay API v3 over real HTTP, speaking the real protocol with keys made for the test.

It checks each request's `WECHATPAY2-SHA256-RSA2048` Authorization header with the merchant's public
key, signs each answer (`Wechatpay-Timestamp/Nonce/Signature/Serial`) with WeChat Pay's key (public-key
mode), and sends notifications whose `resource` is AEAD_AES_256_GCM-encrypted with the APIv3 key.
It keeps trades, refunds (deduplicated by `out_refund_no`) and serves the day's trade bill.
"""

import base64
import gzip
import hashlib
import json
import re
import secrets
import time
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .common import FakeServer, KeyPair, Modes, post, stranger_key

BEIJING = ZoneInfo("Asia/Shanghai")
MCH_ID = "1900000109"
APP_ID = "wxd678efh567hg6787"
CERT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025000000000001"
APIV3_KEY = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"  # 32 bytes, as WeChat Pay requires
AUTH = re.compile(r'^WECHATPAY2-SHA256-RSA2048 (.+)$')


def _now() -> datetime:
    return datetime.now(BEIJING)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class FakeWechatPay(FakeServer):
    def __init__(self, merchant_key: KeyPair, wechat_key: KeyPair, *, refunds_complete_at_once: bool = False):
        self.merchant_key = merchant_key  # we use only its public half, as WeChat Pay does
        self.wechat_key = wechat_key
        self.wrong_key = stranger_key()
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.refund_calls = 0
        self.refunds_complete_at_once = refunds_complete_at_once
        self.drop_notifications = False
        self.delivered: list[tuple[int, bytes]] = []
        self.bill_tokens: dict[str, bytes] = {}
        super().__init__()

    # ---- HTTP -----------------------------------------------------------------------------------

    def handle(self, handler) -> None:
        url = urlsplit(handler.path)
        body = handler.body.decode("utf-8")
        if not self.authorized(handler.command, handler.path, body, handler.headers.get("Authorization", "")):
            return self.answer(handler, 401, {"code": "SIGN_ERROR", "message": "签名错误"})
        if self.mode == Modes.GARBAGE:
            return self.reply(handler, 200, "<html>upstream error</html>", "text/html")
        query = dict(parse_qsl(url.query))
        path = url.path
        with self.lock:
            if handler.command == "POST" and path in ("/v3/pay/transactions/native", "/v3/pay/transactions/h5"):
                return self.answer(handler, *self.create(json.loads(body), h5=path.endswith("/h5")))
            if handler.command == "GET" and path.startswith("/v3/pay/transactions/out-trade-no/"):
                return self.answer(handler, *self.query(path.rsplit("/", 1)[1], query))
            if handler.command == "POST" and path == "/v3/refund/domestic/refunds":
                return self.answer(handler, *self.refund(json.loads(body)))
            if handler.command == "GET" and path.startswith("/v3/refund/domestic/refunds/"):
                row = self.refunds.get(path.rsplit("/", 1)[1])
                if row is None:
                    return self.answer(handler, 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
                return self.answer(handler, 200, self.refund_view(row))
            if handler.command == "GET" and path == "/v3/bill/tradebill":
                return self.answer(handler, 200, self.bill(query.get("bill_date", "")))
            if handler.command == "GET" and path == "/v3/billdownload/file":
                # The download answer is the file itself (gzip), not JSON, and is not signed.
                return self.reply(handler, 200, self.bill_tokens.get(query.get("token", ""), b""),
                                  "application/octet-stream")
        self.answer(handler, 404, {"code": "NOT_FOUND", "message": "no such API"})

    def authorized(self, method: str, path: str, body: str, header: str) -> bool:
        match = AUTH.match(header)
        if not match:
            return False
        parts = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if parts.get("mchid") != MCH_ID or parts.get("serial_no") != CERT_SERIAL:
            return False
        message = f"{method}\n{path}\n{parts.get('timestamp', '')}\n{parts.get('nonce_str', '')}\n{body}\n"
        return self.merchant_key.verify(message, parts.get("signature", ""))

    def signed_headers(self, body: str, key: KeyPair | None = None) -> dict:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        key = key or (self.wrong_key if self.mode == Modes.BAD_SIGNATURE else self.wechat_key)
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": key.sign(f"{timestamp}\n{nonce}\n{body}\n"),
                "Wechatpay-Serial": PUBLIC_KEY_ID, "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
                "Request-ID": secrets.token_hex(8)}

    def answer(self, handler, status: int, data: dict) -> None:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        self.reply(handler, status, body, "application/json; charset=utf-8", self.signed_headers(body))

    # ---- trades ---------------------------------------------------------------------------------

    def create(self, data: dict, *, h5: bool) -> tuple[int, dict]:
        if data.get("mchid") != MCH_ID or data.get("appid") != APP_ID:
            return 400, {"code": "PARAM_ERROR", "message": "mchid与appid不匹配"}
        total = data.get("amount", {}).get("total")
        if not isinstance(total, int) or total <= 0:
            return 400, {"code": "PARAM_ERROR", "message": "amount.total 无效"}
        if h5 and not data.get("scene_info", {}).get("payer_client_ip"):
            return 400, {"code": "PARAM_ERROR", "message": "缺少 scene_info"}
        no = data["out_trade_no"]
        if no not in self.trades:
            self.trades[no] = {"out_trade_no": no, "total": total, "description": data.get("description", ""),
                               "notify_url": data.get("notify_url", ""), "trade_state": "NOTPAY",
                               "transaction_id": "4200" + secrets.token_hex(12)[:24], "success_time": None}
        if h5:
            return 200, {"h5_url": f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx{secrets.token_hex(8)}"}
        return 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_hex(5)}"}

    def trade_view(self, trade: dict) -> dict:
        view = {"appid": APP_ID, "mchid": MCH_ID, "out_trade_no": trade["out_trade_no"],
                "trade_state": trade["trade_state"], "trade_state_desc": "",
                "amount": {"total": trade["total"], "payer_total": trade["total"], "currency": "CNY"}}
        if trade["success_time"]:
            view.update(transaction_id=trade["transaction_id"], success_time=_rfc3339(trade["success_time"]),
                        trade_type="NATIVE", bank_type="OTHERS", payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
        return view

    def query(self, out_trade_no: str, query: dict) -> tuple[int, dict]:
        if query.get("mchid") != MCH_ID:
            return 400, {"code": "PARAM_ERROR", "message": "mchid 无效"}
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
        return 200, self.trade_view(trade)

    def refund(self, data: dict) -> tuple[int, dict]:
        self.refund_calls += 1
        no = data.get("out_refund_no", "")
        if no in self.refunds:  # the same refund number: the same refund, nothing more paid
            return 200, self.refund_view(self.refunds[no])
        trade = self.trades.get(data.get("out_trade_no", ""))
        if trade is None or trade["success_time"] is None:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
        amount = data.get("amount", {})
        refund = amount.get("refund")
        if amount.get("total") != trade["total"] or not isinstance(refund, int) or refund <= 0:
            return 400, {"code": "PARAM_ERROR", "message": "金额无效"}
        refunded = sum(r["refund"] for r in self.refunds.values() if r["out_trade_no"] == trade["out_trade_no"])
        if refunded + refund > trade["total"]:
            return 403, {"code": "NOT_ENOUGH", "message": "退款金额超过可退金额"}
        row = self.refunds[no] = {
            "out_refund_no": no, "refund_id": "5030" + secrets.token_hex(12)[:24], "out_trade_no": trade["out_trade_no"],
            "transaction_id": trade["transaction_id"], "refund": refund, "total": trade["total"],
            "status": "PROCESSING", "created": _now(), "success_time": None,
            "notify_url": data.get("notify_url", ""),
        }
        trade["trade_state"] = "REFUND"
        if self.refunds_complete_at_once:
            row["status"], row["success_time"] = "SUCCESS", _now()
        return 200, self.refund_view(row)

    def refund_view(self, row: dict) -> dict:
        view = {"refund_id": row["refund_id"], "out_refund_no": row["out_refund_no"],
                "transaction_id": row["transaction_id"], "out_trade_no": row["out_trade_no"], "channel": "ORIGINAL",
                "user_received_account": "支付用户零钱", "create_time": _rfc3339(row["created"]), "status": row["status"],
                "amount": {"total": row["total"], "refund": row["refund"], "payer_total": row["total"],
                           "payer_refund": row["refund"], "settlement_refund": row["refund"],
                           "settlement_total": row["total"], "discount_refund": 0, "currency": "CNY"}}
        if row["success_time"]:
            view["success_time"] = _rfc3339(row["success_time"])
        return view

    # ---- notifications --------------------------------------------------------------------------

    def encrypt(self, plain: str, *, key: str = APIV3_KEY, associated: str = "transaction") -> dict:
        nonce = secrets.token_hex(6)  # 12 characters, used as bytes by WeChat Pay
        cipher = AESGCM(key.encode()).encrypt(nonce.encode(), plain.encode("utf-8"), associated.encode())
        return {"original_type": associated, "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(cipher).decode("ascii"), "associated_data": associated, "nonce": nonce}

    def envelope(self, event_type: str, resource: dict | str, *, key: str = APIV3_KEY) -> str:
        plain = resource if isinstance(resource, str) else json.dumps(resource, ensure_ascii=False)
        associated = "refund" if event_type.startswith("REFUND") else "transaction"
        return json.dumps({
            "id": secrets.token_hex(16), "create_time": _rfc3339(_now()), "resource_type": "encrypt-resource",
            "event_type": event_type, "summary": "支付成功" if associated == "transaction" else "退款状态变更",
            "resource": self.encrypt(plain, key=key, associated=associated),
        }, ensure_ascii=False)

    def payment_notification(self, out_trade_no: str, **overrides) -> tuple[str, dict]:
        """(body, headers) of a TRANSACTION.SUCCESS notification."""
        resource = {**self.trade_view(self.trades[out_trade_no]), **overrides}
        body = self.envelope("TRANSACTION.SUCCESS", resource)
        return body, self.signed_headers(body, self.wechat_key)

    def refund_notification(self, out_refund_no: str, **overrides) -> tuple[str, dict]:
        row = self.refunds[out_refund_no]
        resource = {"mchid": MCH_ID, "out_trade_no": row["out_trade_no"], "transaction_id": row["transaction_id"],
                    "out_refund_no": row["out_refund_no"], "refund_id": row["refund_id"],
                    "refund_status": row["status"], "user_received_account": "支付用户零钱",
                    "amount": {"total": row["total"], "refund": row["refund"], "payer_total": row["total"],
                               "payer_refund": row["refund"]}}
        if row["success_time"]:
            resource["success_time"] = _rfc3339(row["success_time"])
        resource.update(overrides)
        event = {"SUCCESS": "REFUND.SUCCESS", "ABNORMAL": "REFUND.ABNORMAL", "CLOSED": "REFUND.CLOSED"}[row["status"]]
        body = self.envelope(event, resource)
        return body, self.signed_headers(body, self.wechat_key)

    def _deliver(self, url: str, body: str, headers: dict) -> None:
        if url and not self.drop_notifications:
            self.delivered.append(post(url, body.encode("utf-8"), {**headers, "Content-Type": "application/json"}))

    def pay(self, out_trade_no: str, *, deliver: bool = True) -> tuple[str, dict]:
        with self.lock:
            trade = self.trades[out_trade_no]
            trade["trade_state"], trade["success_time"] = "SUCCESS", _now()
        body, headers = self.payment_notification(out_trade_no)
        if deliver:
            self._deliver(trade["notify_url"], body, headers)
        return body, headers

    def complete_refund(self, out_refund_no: str, *, status: str = "SUCCESS", deliver: bool = True) -> tuple[str, dict]:
        with self.lock:
            row = self.refunds[out_refund_no]
            row["status"] = status
            row["success_time"] = _now() if status == "SUCCESS" else None
        body, headers = self.refund_notification(out_refund_no)
        if deliver:
            self._deliver(row["notify_url"], body, headers)
        return body, headers

    # ---- the trade bill -------------------------------------------------------------------------

    def bill_text(self, day: str) -> str:
        header = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
                  "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
                  "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
        lines, count, total, refunded = [header], 0, 0, 0
        for trade in self.trades.values():
            if trade["success_time"] and trade["success_time"].date().isoformat() == day:
                cells = [trade["success_time"].strftime("%Y-%m-%d %H:%M:%S"), APP_ID, MCH_ID, "0", "",
                         trade["transaction_id"], trade["out_trade_no"], "oUpF8uMuAJO", "NATIVE", "SUCCESS", "OTHERS",
                         "CNY", _yuan(trade["total"]), "0.00", "0", "0", "0.00", "0.00", "", "", trade["description"],
                         "", "0.00000", "0.60%", _yuan(trade["total"]), "0.00", ""]
                lines.append(",".join("`" + c for c in cells))
                count, total = count + 1, total + trade["total"]
        for row in self.refunds.values():
            if row["success_time"] and row["success_time"].date().isoformat() == day:
                trade = self.trades[row["out_trade_no"]]
                cells = [row["success_time"].strftime("%Y-%m-%d %H:%M:%S"), APP_ID, MCH_ID, "0", "",
                         row["transaction_id"], row["out_trade_no"], "oUpF8uMuAJO", "NATIVE", "REFUND", "OTHERS", "CNY",
                         "0.00", "0.00", row["refund_id"], row["out_refund_no"], _yuan(row["refund"]), "0.00",
                         "ORIGINAL", "SUCCESS", trade["description"], "", "0.00000", "0.60%", _yuan(trade["total"]),
                         _yuan(row["refund"]), ""]
                lines.append(",".join("`" + c for c in cells))
                count, refunded = count + 1, refunded + row["refund"]
        lines.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
        lines.append(",".join("`" + c for c in [str(count), _yuan(total), _yuan(refunded), "0.00", "0.00", _yuan(total),
                                                _yuan(refunded)]))
        return "\r\n".join(lines) + "\r\n"

    def bill(self, day: str) -> dict:
        raw = self.bill_text(day).encode("utf-8")
        token = secrets.token_hex(8)
        self.bill_tokens[token] = gzip.compress(raw)
        return {"hash_type": "SHA1", "hash_value": hashlib.sha1(raw).hexdigest(),
                "download_url": f"{self.base_url}/v3/billdownload/file?token={token}"}
