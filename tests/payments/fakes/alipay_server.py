"""A fake Alipay open platform over real HTTP, speaking the real protocol with keys made for the test.

It checks every request's RSA2 signature with the app's public key (over all parameters but `sign`),
signs every answer (`alipay_trade_*_response` + `sign`) and every notification (over the sorted
fields but `sign` and `sign_type`) with its own key. It keeps trades, refunds (deduplicated by
`out_trade_no` + `out_request_no`) and serves the day's bill as Alipay ships it: a zip of GBK CSVs.
"""

import io
import json
import secrets
import zipfile
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from .common import FakeServer, KeyPair, Modes, post, stranger_key

BEIJING = ZoneInfo("Asia/Shanghai")
APP_ID = "2021000000000001"
PID = "2088000000000156"


def _now() -> datetime:
    return datetime.now(BEIJING)


def _wire(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fen(text: str) -> int:
    whole, _, part = text.partition(".")
    return int(whole) * 100 + int((part + "00")[:2])


class FakeAlipay(FakeServer):
    def __init__(self, app_key: KeyPair, alipay_key: KeyPair, app_id: str = APP_ID):
        self.app_key = app_key  # we hold only its public half, as Alipay does
        self.alipay_key = alipay_key
        self.wrong_key = stranger_key()
        self.app_id = app_id
        self.trades: dict[str, dict] = {}
        self.refunds: dict[tuple[str, str], dict] = {}
        self.refund_calls = 0
        self.drop_notifications = False
        self.delivered: list[tuple[int, bytes]] = []  # (status, answer) of each notification sent
        self.extra_bill_rows: list[dict] = []
        super().__init__()

    @property
    def gateway(self) -> str:
        return self.base_url + "/gateway.do"

    # ---- HTTP -----------------------------------------------------------------------------------

    def handle(self, handler) -> None:
        url = urlsplit(handler.path)
        if url.path.startswith("/bill/"):
            return self.reply(handler, 200, self.bill_zip(url.path.removeprefix("/bill/").removesuffix(".zip")),
                              "application/zip")
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if handler.command == "POST":
            params.update(parse_qsl(handler.body.decode("utf-8"), keep_blank_values=True))
        method = params.get("method", "")
        response_type = method.replace(".", "_") + "_response"
        if not self.request_signed(params):
            return self.answer(handler, response_type, {"code": "40002", "msg": "Invalid Arguments",
                                                        "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"})
        if params.get("app_id") != self.app_id:
            return self.answer(handler, response_type, {"code": "40002", "msg": "Invalid Arguments",
                                                        "sub_code": "isv.invalid-app-id", "sub_msg": "无效的AppID参数"})
        biz = json.loads(params.get("biz_content") or "{}")
        if method in ("alipay.trade.page.pay", "alipay.trade.wap.pay"):
            self.open_trade(biz, params.get("notify_url", ""))
            return self.reply(handler, 200, "<html><body>支付宝收银台（测试）</body></html>", "text/html; charset=utf-8")
        if self.mode == Modes.GARBAGE:
            return self.reply(handler, 502, "<html>Bad Gateway</html>", "text/html")
        handlers = {
            "alipay.trade.precreate": self.precreate,
            "alipay.trade.query": self.query,
            "alipay.trade.refund": self.refund,
            "alipay.trade.fastpay.refund.query": self.refund_query,
            "alipay.data.dataservice.bill.downloadurl.query": self.bill_url,
        }
        if method not in handlers:
            return self.answer(handler, response_type, {"code": "40004", "msg": "Business Failed",
                                                        "sub_code": "isv.invalid-method", "sub_msg": "不存在的方法名"})
        with self.lock:
            result = handlers[method](biz, params)
        self.answer(handler, response_type, result)

    def request_signed(self, params: dict) -> bool:
        """Alipay signs requests over every parameter but `sign`, sorted, raw values joined k=v with &."""
        signature = params.get("sign", "")
        message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
        return bool(signature) and self.app_key.verify(message, signature)

    def answer(self, handler, response_type: str, result: dict) -> None:
        inner = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
        key = self.wrong_key if self.mode == Modes.BAD_SIGNATURE else self.alipay_key
        body = f'{{"{response_type}":{inner},"sign":"{key.sign(inner)}"}}'
        self.reply(handler, 200, body, "application/json;charset=utf-8")

    # ---- trades ---------------------------------------------------------------------------------

    def open_trade(self, biz: dict, notify_url: str) -> dict:
        with self.lock:
            trade = self.trades.get(biz["out_trade_no"])
            if trade is None:
                trade = self.trades[biz["out_trade_no"]] = {
                    "out_trade_no": biz["out_trade_no"], "total_fen": _fen(biz["total_amount"]),
                    "subject": biz.get("subject", ""), "notify_url": notify_url, "status": "WAIT_BUYER_PAY",
                    "trade_no": _now().strftime("%Y%m%d") + "22001" + secrets.token_hex(6),
                    "created": _now(), "paid_at": None, "time_expire": biz.get("time_expire", ""),
                }
            return trade

    def precreate(self, biz: dict, params: dict) -> dict:
        trade = self.open_trade(biz, params.get("notify_url", ""))
        return {"code": "10000", "msg": "Success", "out_trade_no": trade["out_trade_no"],
                "qr_code": f"https://qr.alipay.com/bax{secrets.token_hex(8)}"}

    def query(self, biz: dict, params: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}
        result = {"code": "10000", "msg": "Success", "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
                  "trade_status": trade["status"], "total_amount": _yuan(trade["total_fen"]),
                  "buyer_logon_id": "csq***@sandbox.com"}
        if trade["paid_at"]:
            result["send_pay_date"] = _wire(trade["paid_at"])
        return result

    def refund(self, biz: dict, params: dict) -> dict:
        self.refund_calls += 1
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}
        if trade["status"] not in ("TRADE_SUCCESS", "TRADE_CLOSED") or trade["paid_at"] is None:
            return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"}
        request_no = biz.get("out_request_no") or trade["out_trade_no"]
        key = (trade["out_trade_no"], request_no)
        amount = _fen(biz["refund_amount"])
        fund_change = "N"
        if key not in self.refunds:
            refunded = sum(r["amount_fen"] for (no, _), r in self.refunds.items() if no == trade["out_trade_no"])
            if refunded + amount > trade["total_fen"]:
                return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                        "sub_msg": "退款金额超限"}
            self.refunds[key] = {"amount_fen": amount, "at": _now(), "trade_no": trade["trade_no"]}
            fund_change = "Y"
            if refunded + amount == trade["total_fen"]:
                trade["status"] = "TRADE_CLOSED"
        total_refunded = sum(r["amount_fen"] for (no, _), r in self.refunds.items() if no == trade["out_trade_no"])
        return {"code": "10000", "msg": "Success", "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
                "buyer_logon_id": "csq***@sandbox.com", "fund_change": fund_change,
                "refund_fee": _yuan(total_refunded), "gmt_refund_pay": _wire(self.refunds[key]["at"])}

    def refund_query(self, biz: dict, params: dict) -> dict:
        key = (biz.get("out_trade_no", ""), biz.get("out_request_no", ""))
        row = self.refunds.get(key)
        if row is None:  # Alipay answers success with no refund data
            return {"code": "10000", "msg": "Success", "out_trade_no": key[0], "out_request_no": key[1]}
        trade = self.trades[key[0]]
        return {"code": "10000", "msg": "Success", "trade_no": row["trade_no"], "out_trade_no": key[0],
                "out_request_no": key[1], "total_amount": _yuan(trade["total_fen"]),
                "refund_amount": _yuan(row["amount_fen"]), "refund_status": "REFUND_SUCCESS",
                "gmt_refund_pay": _wire(row["at"])}

    def bill_url(self, biz: dict, params: dict) -> dict:
        day = biz.get("bill_date", "")
        return {"code": "10000", "msg": "Success", "bill_download_url": f"{self.base_url}/bill/{day}.zip"}

    # ---- the buyer pays; notifications --------------------------------------------------------

    def sign_notification(self, fields: dict) -> dict:
        fields = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}
        message = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return {**fields, "sign_type": "RSA2", "sign": self.alipay_key.sign(message)}

    def notification(self, out_trade_no: str, **overrides) -> dict:
        trade = self.trades[out_trade_no]
        fields = {
            "notify_time": _wire(_now()), "notify_type": "trade_status_sync", "notify_id": secrets.token_hex(16),
            "charset": "utf-8", "version": "1.0", "app_id": self.app_id, "auth_app_id": self.app_id,
            "trade_no": trade["trade_no"], "out_trade_no": out_trade_no, "out_biz_no": "",
            "buyer_id": "2088102177846880", "seller_id": PID, "trade_status": trade["status"],
            "total_amount": _yuan(trade["total_fen"]), "receipt_amount": _yuan(trade["total_fen"]),
            "subject": trade["subject"], "gmt_create": _wire(trade["created"]),
        }
        fields.pop("out_biz_no")
        if trade["paid_at"]:
            fields["gmt_payment"] = _wire(trade["paid_at"])
        fields.update(overrides)
        return self.sign_notification(fields)

    def pay(self, out_trade_no: str, *, deliver: bool = True) -> bytes:
        """The buyer pays: the trade succeeds and Alipay posts its notification (unless dropped)."""
        with self.lock:
            trade = self.trades[out_trade_no]
            trade["status"], trade["paid_at"] = "TRADE_SUCCESS", _now()
        body = urlencode(self.notification(out_trade_no)).encode("utf-8")
        if deliver and not self.drop_notifications and trade["notify_url"]:
            self.delivered.append(post(trade["notify_url"], body,
                                       {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}))
        return body

    # ---- the bill -------------------------------------------------------------------------------

    def bill_rows(self, day: str) -> list[dict]:
        rows = []
        for trade in self.trades.values():
            if trade["paid_at"] and trade["paid_at"].date().isoformat() == day:
                rows.append({"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"], "kind": "交易",
                             "subject": trade["subject"], "created": trade["created"], "done": trade["paid_at"],
                             "amount": _yuan(trade["total_fen"]), "request_no": ""})
        for (out_trade_no, request_no), row in self.refunds.items():
            if row["at"].date().isoformat() == day:
                trade = self.trades[out_trade_no]
                rows.append({"trade_no": row["trade_no"], "out_trade_no": out_trade_no, "kind": "退款",
                             "subject": trade["subject"], "created": trade["created"], "done": row["at"],
                             "amount": "-" + _yuan(row["amount_fen"]), "request_no": request_no})
        return rows + self.extra_bill_rows

    def bill_zip(self, day: str) -> bytes:
        header = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
                  "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
                  "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注")
        lines = ["#支付宝业务明细查询", f"#账号：[{PID}0156]",
                 f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]",
                 "#-----------------------------------------业务明细列表----------------------------------------", header]
        rows = self.bill_rows(day)
        for r in rows:
            lines.append(",".join([
                f"{r['trade_no']}\t", f"{r['out_trade_no']}\t", r["kind"], r["subject"], _wire(r["created"]),
                _wire(r["done"]), "", "", "", "", "csq***@sandbox.com", r["amount"], r["amount"], "0.00", "0.00", "0.00",
                "0.00", "0.00", "", "0.00", "0.00", f"{r['request_no']}\t" if r["request_no"] else "", "0.00", "0.00", "",
            ]))
        lines += ["#-----------------------------------------业务明细列表结束------------------------------------",
                  f"#交易合计：{sum(r['kind'] == '交易' for r in rows)}笔",
                  f"#退款合计：{sum(r['kind'] == '退款' for r in rows)}笔",
                  f"#导出时间：[{_wire(_now() + timedelta(hours=1))}]"]
        buffer = io.BytesIO()
        compact = day.replace("-", "")
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{PID}_{compact}_业务明细(汇总).csv", "#支付宝业务汇总查询\n门店编号,门店名称,交易订单总笔数\n".encode("gbk"))
            archive.writestr(f"{PID}_{compact}_业务明细.csv", ("\r\n".join(lines) + "\r\n").encode("gbk"))
        return buffer.getvalue()
