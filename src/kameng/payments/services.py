"""Payments: creating them, and taking the gateway's word that they were paid — only when signed."""

import logging
import secrets
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction

from kameng.core import clock, compiled, locks
from kameng.core.errors import Invalid
from kameng.core.models import reloaded
from kameng.core.money import InvalidAmount, Money
from kameng.core.times import in_beijing
from kameng.ledger.services import Accounts, Line, journal_post

from . import audit, errors
from .gateways import sandbox
from .models import Payment, PaymentPurpose, PaymentStatus

logger = logging.getLogger(__name__)

GATEWAY_CHANNELS = ("alipay", "wechat", "bank")
NOTIFICATION_TOLERANCE = timedelta(hours=24)


def new_payment_no() -> str:
    return "P" + in_beijing(clock.now()).strftime("%Y%m%d") + secrets.token_hex(6).upper()


def payment_create(*, payer, channel: str, amount: Money, order=None, purpose=PaymentPurpose.ORDER) -> Payment:
    """A pending gateway payment. Its checkout (pay URL, QR) is opened after commit: `checkout.checkout_open`."""
    from .checkout import channel_require

    channel_require(channel)
    now = clock.now()
    [payment] = compiled.insert([Payment(
        payment_no=new_payment_no(),
        purpose=purpose,
        order=order,
        payer=payer,
        channel=channel,
        amount_fen=amount.fen,
        created_at=now,
        expires_at=order.expires_at if order is not None else now + timedelta(minutes=settings.KAMENG_ORDER_TTL_MINUTES),
    )])
    return payment


def wallet_payment_create(*, payer, amount: Money, order) -> Payment:
    """A wallet payment is taken the moment it exists (the balance was checked under the wallet's lock)."""
    now = clock.now()
    payment_no = new_payment_no()
    [payment] = compiled.insert([Payment(
        payment_no=payment_no, purpose=PaymentPurpose.ORDER, order=order, payer=payer, channel="wallet",
        amount_fen=amount.fen, created_at=now, status=PaymentStatus.SUCCEEDED, trade_no=f"WALLET-{payment_no}",
        paid_at=now,
    )])
    return payment


def _parse_ts(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def is_fresh(ts: str) -> bool:
    """A gateway notification's `ts` is readable and within the tolerance of now (replays and old forgeries fail)."""
    moment = _parse_ts(ts)
    return moment is not None and clock.is_recent(moment, tolerance=NOTIFICATION_TOLERANCE)


def notification_fields(fields: dict) -> dict:
    """The string fields of a notification; NUL bytes and lone surrogates refuse it whole (nothing can store them)."""
    fields = {k: v for k, v in fields.items() if isinstance(k, str) and isinstance(v, str)}
    if audit.has_unstorable_characters(fields):
        raise errors.unstorable_characters()
    return fields


def _check(fields: dict) -> tuple[str, str, Money]:
    if not settings.KAMENG_SANDBOX:
        raise errors.sandbox_off()
    missing = [name for name in (*sandbox.FIELDS, "sign") if not fields.get(name)]
    if missing:
        raise errors.BadNotification(f"missing fields: {', '.join(missing)}")
    if not sandbox.verify(fields):
        raise errors.bad_signature()
    if fields["status"] != "SUCCESS":
        raise errors.BadNotification("only SUCCESS notifications move money", code="UNSUPPORTED_STATUS")
    if not is_fresh(fields["ts"]):
        raise errors.stale()
    try:
        amount = Money.parse(fields["amount"])
    except InvalidAmount as exc:
        raise errors.amount_mismatch() from exc
    return fields["payment_no"], fields["trade_no"], amount


REAL_GATEWAYS = ("alipay", "wechat")
# Read on every gateway notification, so compiled once (kameng.core.compiled).
_PAYMENT_FOR_UPDATE = compiled.Query(
    lambda payment_no: Payment.objects.filter(payment_no=payment_no).select_for_update(of=("self",)), payment_no=str)
_OTHER_PAYMENT_WITH_TRADE = compiled.Query(
    lambda trade_no, payment_id: Payment.objects.filter(trade_no=trade_no).exclude(id=payment_id).only("id"),
    trade_no=str)


def _capture_notified(payment_no: str, trade_no: str, amount: Money, *, gateway: str = "sandbox") -> Payment:
    with transaction.atomic():
        payment = locks.lock_first_compiled(_PAYMENT_FOR_UPDATE, payment_no=payment_no)  # before its order
        # Only the gateway that opened the payment's checkout can say it was paid there (the sandbox
        # never pays a payment opened at Alipay, even with the sandbox on).
        if payment is None or (payment.gateway in REAL_GATEWAYS and payment.gateway != gateway):
            raise errors.payment_not_found()
        if amount.fen != payment.amount_fen:
            raise errors.amount_mismatch()
        if payment.status != PaymentStatus.PENDING:
            raise errors.already_processed()
        if _OTHER_PAYMENT_WITH_TRADE.first(trade_no=trade_no, payment_id=payment.id) is not None:
            raise errors.trade_no_reused()
        payment_capture(payment=payment, trade_no=trade_no)
    return payment


def notification_receive(fields: dict) -> Payment:
    """Handle a gateway notification. Refusals raise and change nothing but the audit trail.

    Every notification is recorded (accepted, duplicate, refused — and even one that fails
    unexpectedly), with its sanitized fields and the outcome's code.
    """
    record = partial(audit.record, gateway=sandbox.NAME, kind="payment", fields=fields, expected=sandbox.FIELDS)
    try:
        fields = notification_fields(fields)
        payment_no, trade_no, amount = _check(fields)
        try:
            payment = _capture_notified(payment_no, trade_no, amount)
        except IntegrityError:
            # Two payments raced with one trade number: the unique index let only one through.
            if Payment.objects.filter(trade_no=trade_no).exclude(payment_no=payment_no).exists():
                raise errors.trade_no_reused() from None
            raise
    except errors.DomainError as exc:
        record(outcome=exc.code)
        logger.warning("payment notification refused: %s payment_no=%s", exc.code,
                       audit.clean(fields.get("payment_no", ""), 64))
        raise
    except Exception:
        audit.record_failure(record)
        raise
    record(outcome=audit.ACCEPTED)
    return payment


def gateway_payment_take(*, gateway: str, payment_no: str, trade_no: str, amount_fen: int) -> Payment:
    """A real gateway's verified word (notification or query) that a payment was made: taken once.

    The gateway must be the payment's own channel: Alipay's word never pays a WeChat payment.
    """
    if not Payment.objects.filter(payment_no=payment_no, channel=gateway).exists():
        raise errors.payment_not_found()
    try:
        return _capture_notified(payment_no, trade_no, Money(amount_fen), gateway=gateway)
    except IntegrityError:
        if Payment.objects.filter(trade_no=trade_no).exclude(payment_no=payment_no).exists():
            raise errors.trade_no_reused() from None
        raise


def taken_with(payment_no: str, trade_no: str) -> bool:
    """Whether this payment was taken with this gateway trade (a repeated notification)."""
    return Payment.objects.filter(payment_no=payment_no, status=PaymentStatus.SUCCEEDED, trade_no=trade_no).exists()


def payment_capture(*, payment: Payment, trade_no: str = "", order=None, items=None) -> None:
    """Money has arrived (the payment row is locked by the caller): book it and fulfil.

    `order` is the order row already locked by the caller (a wallet purchase); otherwise it is locked here.
    """
    if payment.status == PaymentStatus.PENDING:  # a wallet payment is created already taken
        payment.succeed(trade_no=trade_no, at=clock.now())
        compiled.save_fields(payment, ["status", "trade_no", "paid_at"])
    if order is None and payment.order_id:
        from kameng.orders.locking import lock_order

        order = lock_order(payment.order_id)  # after the payment, before the ledger: the lock order
    taken = TakenMoney(payment, order)
    if payment.purpose == PaymentPurpose.ORDER:
        from kameng.orders.fulfilment import order_paid

        order_paid(order=order, payment=payment, items=items, taken=taken)
    taken.book()  # into escrow (a wallet, for a recharge), unless the sale was settled straight from it


class TakenMoney:
    """A payment just taken and not yet in the book: booked exactly once, one of two ways.

    - `book()`: the capture journal, from the channel (a clearing account, or the wallet) into escrow —
      the money waits there for delivery (or, for a recharge, into the buyer's wallet);
    - `settle_from(fen)`: when its order is delivered in the same transaction, the sale's settlement
      draws on the channel directly, so the purchase is ONE journal (as a wallet purchase is) and the
      money never rests in escrow. Answers the account to draw on, or None (booked into escrow instead)
      when the amount is not the whole payment.
    """

    def __init__(self, payment: Payment, order=None):
        self.payment = payment
        self.order = order
        self.booked = False

    def _debit(self) -> str:
        payment = self.payment
        return Accounts.wallet(payment.payer_id) if payment.channel == "wallet" else Accounts.clearing(payment.channel)

    def book(self) -> None:
        if self.booked:
            return
        payment = self.payment
        credit = Accounts.wallet(payment.payer_id) if payment.purpose == PaymentPurpose.RECHARGE else Accounts.ESCROW
        journal_post(
            reference=f"capture:{payment.payment_no}",
            kind="payment_captured",
            lines=[Line(self._debit(), payment.amount_fen), Line(credit, -payment.amount_fen)],
            order=self.order,
            payment=payment,
        )
        self.booked = True

    def settle_from(self, fen: int) -> str | None:
        if self.booked or self.payment.purpose != PaymentPurpose.ORDER or fen != self.payment.amount_fen:
            self.book()
            return None
        self.booked = True
        return self._debit()


def recharge_create(*, user, amount, channel: str) -> Payment:
    if not user.is_buyer:
        from kameng.core.errors import Forbidden

        raise Forbidden("only buyers have a wallet", code="ROLE_FORBIDDEN")
    if channel not in GATEWAY_CHANNELS:
        raise Invalid(f"recharge through one of {', '.join(GATEWAY_CHANNELS)}", code="INVALID_CHANNEL")
    try:
        money = Money.parse(amount)
    except InvalidAmount as exc:
        raise Invalid(str(exc), code="INVALID_AMOUNT") from exc
    if not 0 < money.fen <= 5_000_000:
        raise Invalid("a recharge is from 0.01 to 50000.00", code="INVALID_AMOUNT")
    with transaction.atomic():
        return payment_create(payer=user, channel=channel, amount=money, purpose=PaymentPurpose.RECHARGE)


def sandbox_pay(*, user, payment_no: str) -> Payment:
    """The buyer pays in the sandbox: the gateway signs a notification and delivers it."""
    payment = Payment.objects.filter(payment_no=payment_no, payer=user).first()
    if payment is None or payment.channel not in GATEWAY_CHANNELS or payment.gateway in REAL_GATEWAYS:
        raise errors.payment_not_found()
    if payment.status != PaymentStatus.PENDING:
        raise errors.already_processed()
    notification_receive(sandbox.notification_for(payment_no=payment.payment_no, amount=str(Money(payment.amount_fen))))
    return reloaded(payment)
