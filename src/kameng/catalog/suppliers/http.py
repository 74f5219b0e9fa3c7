"""A goods source reached over KSP/1 (see `protocol`): the adapter for every configured 货源.

Requests are signed with the merchant's API secret; every answer must carry the source's signature
(notify secret) bound to our request's nonce, and be fresh — an answer we cannot check is an
`UnknownOutcome`, never a state. Secrets are never logged and never put in an exception.
"""

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from . import protocol
from .base import (
    Callback,
    CallbackRefused,
    Supplier,
    SupplierRefused,
    SupplyKind,
    SupplyOrder,
    SupplyResult,
    SupplyState,
    UnknownOutcome,
)

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1024 * 1024
MAX_CARDS = 1000
CALLBACK_STATES = {"success": SupplyState.SUCCEEDED, "failed": SupplyState.FAILED}
ANSWER_STATES = {**CALLBACK_STATES, "processing": SupplyState.PROCESSING}


@dataclass(frozen=True)
class SourceSettings:
    name: str
    endpoint: str  # base URL; the protocol's paths are appended
    merchant_id: str
    api_secret: str  # signs our requests
    notify_secret: str  # the source signs its answers and callbacks with it
    timeout: float = 10.0

    def __repr__(self) -> str:  # a settings object in a traceback or a log must not show the secrets
        return f"SourceSettings(name={self.name!r}, endpoint={self.endpoint!r}, merchant_id={self.merchant_id!r})"


def _result(data, *, order_no: str, states=ANSWER_STATES) -> SupplyResult:
    """Read a result object (an answer's `data` or a callback's body); ValueError if it is malformed."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    if data.get("out_order_no") != order_no and order_no:
        raise ValueError("out_order_no differs")
    state = states.get(data.get("status"))
    if state is None:
        raise ValueError("unknown status")
    ref = data.get("order_no", "")
    if not isinstance(ref, str) or len(ref) > 64:
        raise ValueError("order_no")
    face = protocol.fen(data["face_value"]) if "face_value" in data else None
    quantity = data.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1):
        raise ValueError("quantity")
    cards = data.get("cards", [])
    if not isinstance(cards, list) or len(cards) > MAX_CARDS or not all(isinstance(c, str) and c for c in cards):
        raise ValueError("cards")
    message = data.get("message", "")
    return SupplyResult(order_no=data["out_order_no"], state=state, supplier_ref=ref, face_value_fen=face,
                        quantity=quantity, cards=tuple(cards), message=message[:200] if isinstance(message, str) else "")


class HttpSupplier(Supplier):
    def __init__(self, settings: SourceSettings):
        self.settings = settings
        self.name = settings.name

    def __repr__(self) -> str:
        return f"HttpSupplier({self.settings!r})"

    # ---- calls ------------------------------------------------------------------------------------

    def _call(self, purpose: str, payload: dict) -> tuple[str, dict, str]:
        """POST a signed request; return (code, data, message) of a verified answer, or raise UnknownOutcome."""
        s = self.settings
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        stamp = protocol.new_stamp()
        sent = protocol.headers(secret=s.api_secret, purpose=purpose, merchant_id=s.merchant_id, body=body, stamp=stamp)
        request = urllib.request.Request(s.endpoint.rstrip("/") + protocol.PATHS[purpose], data=body, headers=sent,
                                          method="POST")
        try:
            with urllib.request.urlopen(request, timeout=s.timeout) as answer:  # noqa: S310 (an admin-set URL)
                raw, answer_headers = answer.read(MAX_ANSWER_BYTES + 1), answer.headers
        except urllib.error.HTTPError as exc:  # the protocol answers 200; anything else tells us nothing
            raise UnknownOutcome(f"{purpose}: HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:  # timeout, refused connection, bad URL
            raise UnknownOutcome(f"{purpose}: {type(exc).__name__}") from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise UnknownOutcome(f"{purpose}: answer too large")
        try:
            protocol.check(secret=s.notify_secret, purpose=f"answer:{stamp.nonce}", merchant_id=s.merchant_id,
                           headers=answer_headers, body=raw)
        except protocol.Refused as exc:
            raise UnknownOutcome(f"{purpose}: answer refused ({exc.code})") from None
        try:
            document = json.loads(raw.decode("utf-8"))
            code, data = document["code"], document.get("data") or {}
            message = document.get("message", "")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UnknownOutcome(f"{purpose}: signed answer is not the protocol's JSON") from None
        if not isinstance(code, str) or not isinstance(data, dict):
            raise UnknownOutcome(f"{purpose}: signed answer is not the protocol's JSON")
        if code == protocol.SYSTEM_ERROR:
            raise UnknownOutcome(f"{purpose}: the source reports a system error")
        return code, data, message if isinstance(message, str) else ""

    def _order_result(self, purpose: str, payload: dict, order_no: str) -> SupplyResult:
        code, data, message = self._call(purpose, payload)
        if purpose == protocol.QUERY and code == protocol.NOT_FOUND:
            return SupplyResult(order_no=order_no, state=SupplyState.NOT_FOUND)
        if code != protocol.OK:
            raise SupplierRefused(code, message[:200] or protocol.CODES.get(code, "refused"))
        try:
            return _result(data, order_no=order_no)
        except (ValueError, KeyError) as exc:
            raise UnknownOutcome(f"{purpose}: malformed result ({exc})") from None

    def submit(self, order: SupplyOrder) -> SupplyResult:
        payload = {"out_order_no": order.order_no, "kind": str(order.kind), "sku": order.sku,
                   "face_value": protocol.yuan(order.face_value_fen), "quantity": order.quantity,
                   "notify_url": order.notify_url}
        if order.kind == SupplyKind.TOPUP:
            payload["account"] = order.account
        return self._order_result(protocol.SUBMIT, payload, order.order_no)

    def query(self, order_no: str) -> SupplyResult:
        return self._order_result(protocol.QUERY, {"out_order_no": order_no}, order_no)

    def balance_fen(self) -> int:
        code, data, message = self._call(protocol.BALANCE, {})
        if code != protocol.OK:
            raise SupplierRefused(code, message[:200])
        try:
            return protocol.fen(data["balance"])
        except (ValueError, KeyError) as exc:
            raise UnknownOutcome("balance: malformed") from exc

    # ---- callbacks --------------------------------------------------------------------------------

    def parse_callback(self, *, headers: Mapping[str, str], body: bytes) -> Callback:
        s = self.settings
        try:
            stamp = protocol.check(secret=s.notify_secret, purpose=protocol.NOTIFY, merchant_id=s.merchant_id,
                                   headers=headers, body=body)
        except protocol.Refused as exc:
            raise CallbackRefused(exc.code) from None
        try:
            data = json.loads(body.decode("utf-8"))
            result = _result(data, order_no="", states=CALLBACK_STATES)
            if not isinstance(result.order_no, str) or not 0 < len(result.order_no) <= 32:
                raise ValueError("out_order_no")
        except (ValueError, KeyError, TypeError, UnicodeError) as exc:
            raise CallbackRefused("MALFORMED_NOTIFICATION", str(exc)[:100], {"nonce": stamp.nonce}) from None
        log_fields = {"out_order_no": result.order_no, "order_no": result.supplier_ref, "status": str(result.state),
                      "face_value": data.get("face_value", ""), "quantity": data.get("quantity", ""),
                      "cards": len(result.cards)}
        return Callback(result=result, nonce=stamp.nonce, log_fields=log_fields)
