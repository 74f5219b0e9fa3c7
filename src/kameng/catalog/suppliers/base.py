"""The one interface every goods source (货源) speaks: top-ups and card keys bought on demand.

The services never know which source they talk to: they submit an order under our order number, ask
about an order whose result callback never came, ask for the balance held at the source, and hand a
result callback over for checking. Everything here is plain data; no adapter touches the database.

Two rules every adapter keeps (as the payment gateways do, see `kameng.payments.gateways.base`):
- A callback is either a verified, typed `Callback` or a `CallbackRefused` carrying our reason code.
- A call whose outcome we cannot know (timeout, connection error, garbage, an answer whose signature
  does not verify, the source's own "system busy") raises `UnknownOutcome`, never a guessed state:
  the query settles it later. A clear, signed "no" raises `SupplierRefused`.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class SupplyKind(StrEnum):
    TOPUP = "topup"  # credit put on the buyer's account (phone number, game id...)
    CARD = "card"  # card keys bought from the source when the buyer pays


class SupplyState(StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "success"
    FAILED = "failed"
    NOT_FOUND = "not_found"  # the source has never heard of this order number


@dataclass(frozen=True)
class SupplyOrder:
    order_no: str  # ours: the source dedupes on it, so a re-sent order is placed once
    kind: SupplyKind
    sku: str  # the source's product code
    face_value_fen: int  # per unit
    quantity: int
    account: str = ""  # top-ups only
    notify_url: str = ""


@dataclass(frozen=True)
class SupplyResult:
    order_no: str
    state: SupplyState
    supplier_ref: str = ""  # the source's own order number
    face_value_fen: int | None = None
    quantity: int | None = None
    cards: tuple[str, ...] = ()  # card keys, for a card order that succeeded
    message: str = ""


@dataclass(frozen=True)
class Callback:
    """A verified result callback; `nonce` is what a replay would repeat."""

    result: SupplyResult
    nonce: str
    # Safe to log and store: numbers and states only, never signatures or card keys.
    log_fields: dict = field(default_factory=dict)


class SupplierError(Exception):
    """Base of every source failure. Messages never carry secrets or card keys."""


class UnknownOutcome(SupplierError):
    """We do not know what happened: ask again later."""


class SupplierRefused(SupplierError):
    """The source answered, signed, with a business refusal (the order was not placed)."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}"[:300])
        self.code = code
        self.message = message


class NotConfigured(SupplierError):
    """No usable source for this product (none configured, disabled, or the sandbox is off)."""


class CallbackRefused(Exception):
    """A callback we do not accept; `code` is our reason (see `protocol.ANSWERS` for the answer)."""

    def __init__(self, code: str, detail: str = "", log_fields: dict | None = None):
        super().__init__(f"{code}: {detail}"[:300])
        self.code = code
        self.detail = detail
        self.log_fields = log_fields or {}


class Supplier(ABC):
    name: str = ""

    @abstractmethod
    def submit(self, order: SupplyOrder) -> SupplyResult:
        """Place the order. The same order number twice places it once (the source dedupes)."""

    @abstractmethod
    def query(self, order_no: str) -> SupplyResult: ...

    @abstractmethod
    def balance_fen(self) -> int:
        """What we still hold at the source (prepaid balance), in fen."""

    @abstractmethod
    def parse_callback(self, *, headers: Mapping[str, str], body: bytes) -> Callback:
        """Verify and read a result callback; raise `CallbackRefused` for anything we must not trust."""
