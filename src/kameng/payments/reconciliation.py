"""Reconciliation: a gateway's statement for one Beijing day against our payments and refund payouts.

Every statement line is matched by our number (the payment number, or the refund's request number)
and its amount, and is either matched, missing here (the gateway has it, we do not, or we think it is
unpaid or still refunding) or of a different amount. Our own completed records of the day that the
statement lacks are missing there. The run and every line that did not match are recorded.

Repairs go through the normal paths and never on a file's word alone: the gateway is asked first
(a signed answer), then
- a payment it took that we still think unpaid is taken by `services.gateway_payment_take` — the
  same capture a notification makes, so the order is delivered (or, expired or closed meanwhile,
  handled by the existing late-payment rules) and the book stays balanced;
- a refund it paid back that we still think is refunding is settled by the payout query path
  (`gateway_payouts.payout_query` → `payout_complete`).
Both are once-only by the state they change: a second run of the same day finds the line matched.
Everything else is left for a person.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.db import transaction

from kameng.core import clock
from kameng.core.errors import DomainError

from .gateways import registry
from .gateways.base import Gateway, GatewayError, PaymentState, RefundState, StatementLine
from .models import Payment, PaymentStatus, ReconciliationLine, ReconciliationRun
from .statements import StatementUnreadable, statement_fetch, statement_parse

logger = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
REAL_GATEWAYS = ("alipay", "wechat")
# Our records missing from the statement are asked about (did the gateway put them on another day?)
# up to this many per run; past that, the statement is plainly the wrong one and they are just listed.
MISSING_THERE_QUERIES = 50

Category = ReconciliationLine.Category
Repair = ReconciliationLine.Repair

# Why a line did not match, or what was done about it: shown to finance (Chinese first).
REASONS = {
    "UNKNOWN_TO_US": "平台没有这笔记录",
    "DUPLICATE_LINE": "同一单号在账单中出现多次",
    "TRADE_NO_DIFFERS": "网关交易号与平台记录的不一致",
    "NOT_RECORDED_PAID": "网关已收款，平台记为未支付",
    "NOT_RECORDED_REFUNDED": "网关已退款，平台仍为退款中",
    "NOT_CONFIRMED": "网关查询未确认，未自动处理",
    "QUERY_FAILED": "网关查询失败，下次对账重试",
    "GATEWAY_UNAVAILABLE": "该渠道网关未配置，无法查询确认",
    "NOT_TAKEN": "网关已收款，但未能补记，需人工处理",
    "AMOUNT_DIFFERS": "账单金额与平台记录不符",
    "NOT_ON_STATEMENT": "平台已记账，网关账单中没有",
}


# Why no statement was read, for people (the run's `error` starts with the code).
FAILURES = {
    "NOT_CONFIGURED": "该支付渠道未配置，无法获取账单",
    "FETCH_FAILED": "网关账单接口暂时无法获取账单（账单可能尚未生成），稍后重试",
    "FILE_TOO_LARGE": "账单文件超过 50 MB",
    "FILE_UNREADABLE": "账单文件无法读取，请确认是从商户平台下载的原始文件",
    "NO_FILE_FORMAT": "该渠道没有可导入的账单文件格式",
    "INTERRUPTED": "对账中途出错，未完成，请重新运行",
}


def failure_text(error: str) -> str:
    return FAILURES.get(error.split(":", 1)[0], "未取得账单") if error else ""


def beijing_day(day: date) -> tuple[datetime, datetime]:
    """A statement day is the Asia/Shanghai day: [00:00, next 00:00) Beijing time."""
    start = datetime.combine(day, time.min, tzinfo=BEIJING)
    return start, start + timedelta(days=1)


def beijing_today() -> date:
    return clock.now().astimezone(BEIJING).date()


@dataclass
class _Run:
    """What one run knows while it works: the row, the gateway to ask, the numbers already seen."""

    row: ReconciliationRun
    gateway: Gateway | None
    payments_seen: set
    refunds_seen: set
    payments: dict  # payment_no → our Payment, looked up in batches
    payouts: dict  # request number → our RefundPayout

    def count(self, category: str | None) -> None:
        field = {None: "matched", Category.MISSING_HERE: "missing_here", Category.MISSING_THERE: "missing_there",
                 Category.AMOUNT_DIFFERS: "amount_differs"}[category]
        setattr(self.row, field, getattr(self.row, field) + 1)

    def report(self, category: str, *, kind: str, reason: str, line: StatementLine | None = None, our_no: str = "",
               their_no: str = "", our_amount: int | None = None, at=None, order_no: str = "",
               repair: str = "") -> ReconciliationLine:
        recorded = ReconciliationLine.objects.create(
            run=self.row, kind=kind, category=category, reason=reason, repair=repair,
            our_no=(line.our_no if line else our_no)[:64], their_no=(line.their_no if line else their_no)[:64],
            statement_amount_fen=line.amount_fen if line else None, our_amount_fen=our_amount,
            at=(line.at if line else at), order_no=order_no or "",
        )
        self.count(category)  # after the row: a repair whose transaction fails is not counted
        if repair:
            self.row.repaired += 1
        return recorded


def reconcile(*, channel: str, day: date, file_data: bytes | None = None, file_name: str = "",
              actor: str = "cli") -> ReconciliationRun:
    """Reconcile `channel` for the Beijing day `day`; from the gateway's bill API, or from `file_data`.

    Never raises for an unreadable statement: the run is recorded as failed with the reason.
    """
    row = ReconciliationRun.objects.create(
        channel=channel, day=day, actor=actor[:40], started_at=clock.now(),
        source=ReconciliationRun.Source.FILE if file_data is not None else ReconciliationRun.Source.GATEWAY,
        file_name=file_name.replace("\\", "/").rsplit("/", 1)[-1][:200],
    )
    return _reconcile_into(row, file_data)


def _reconcile_into(row: ReconciliationRun, file_data: bytes | None) -> ReconciliationRun:
    channel, day = row.channel, row.day
    try:
        if file_data is not None:
            lines = statement_parse(channel=channel, data=file_data)
        else:
            lines = statement_fetch(channel=channel, day=day)
    except StatementUnreadable as exc:
        logger.warning("reconciliation %s %s: no statement (%s)", channel, day, exc)
        return _failed(row, exc.code, str(exc))
    try:
        gateway = registry.gateway_for(channel)
    except registry.ChannelUnavailable:
        gateway = None  # a file for a channel not configured here: matched and reported, nothing repaired
    run = _Run(row=row, gateway=gateway, payments_seen=set(), refunds_seen=set(),
               payments=_payments_by_number(channel, {x.our_no for x in lines if x.kind != "refund" and x.our_no}),
               payouts=_payouts_by_number(channel, {x.our_no for x in lines if x.kind == "refund" and x.our_no}))
    row.statement_lines = len(lines)
    try:
        for line in lines:
            if line.kind == "refund":
                _refund_line(run, line)
            else:
                _payment_line(run, line)
        _missing_there(run, day)
    except Exception as exc:  # the database gave up (a lock timeout, say): never leave the run "running"
        _failed(row, "INTERRUPTED", f"interrupted by an error ({type(exc).__name__}); run it again")
        raise
    row.status = ReconciliationRun.Status.BALANCED if row.unmatched == 0 else ReconciliationRun.Status.DIFFERENCES
    row.finished_at = clock.now()
    row.save()
    logger.info("reconciliation %s %s: %d matched, %d missing here, %d missing there, %d amount differs, "
                "%d repaired", channel, day, row.matched, row.missing_here, row.missing_there, row.amount_differs,
                row.repaired)
    return row


def _failed(row: ReconciliationRun, code: str, why: str) -> ReconciliationRun:
    """`error` is "CODE: detail": the code names the failure for people (`FAILURES`), the detail is for logs."""
    row.status, row.error, row.finished_at = ReconciliationRun.Status.FAILED, f"{code}: {why}"[:300], clock.now()
    row.save(update_fields=["status", "error", "finished_at"])
    return row


# ---- the daily job ----------------------------------------------------------------------------------

DAILY_RETRY_AFTER = timedelta(hours=1)  # a day whose statement could not be had is tried again this much later
DAILY_STUCK_AFTER = timedelta(hours=1)  # a daily run still running this long died with its worker


def reconciliations_due() -> int:
    """Yesterday's statement of each configured real gateway, once a day, from KAMENG_RECONCILE_HOUR (Beijing).

    The sandbox is not reconciled: its statement is made from our own records. The day is claimed by
    creating its run (a unique index lets one worker claim it); the work runs as a background job.
    """
    from django.conf import settings
    from django.db import IntegrityError

    from .tasks import reconcile_run

    if not settings.KAMENG_RECONCILE_DAILY:
        return 0
    now = clock.now()
    here = now.astimezone(BEIJING)
    if here.hour < settings.KAMENG_RECONCILE_HOUR:
        return 0
    day = here.date() - timedelta(days=1)
    claimed = 0
    for channel in REAL_GATEWAYS:
        if not registry.configured(channel):
            continue
        runs = ReconciliationRun.objects.filter(channel=channel, day=day, actor="system")
        for stuck in runs.filter(status=ReconciliationRun.Status.RUNNING, started_at__lte=now - DAILY_STUCK_AFTER):
            _failed(stuck, "INTERRUPTED", "the daily run did not finish (its worker stopped); it is run again")
        if runs.exclude(status=ReconciliationRun.Status.FAILED).exists():
            continue
        if runs.filter(started_at__gt=now - DAILY_RETRY_AFTER).exists():
            continue  # failed a moment ago: the bill may not be out yet
        try:
            with transaction.atomic():
                row = ReconciliationRun.objects.create(channel=channel, day=day, actor="system", started_at=now,
                                                       source=ReconciliationRun.Source.GATEWAY)
                reconcile_run.enqueue(row.id)  # committed with its claim, or not at all
        except IntegrityError:
            continue  # another worker claimed it
        claimed += 1
    return claimed


def reconcile_claimed(run_id: int) -> None:
    """The daily job's work for a claimed run. A run that already recorded lines was interrupted: it is
    closed as failed (its lines, and any repair among them, stay on it) and the next sweep starts afresh."""
    row = ReconciliationRun.objects.filter(id=run_id, status=ReconciliationRun.Status.RUNNING).first()
    if row is None:
        return
    if row.lines.exists():
        _failed(row, "INTERRUPTED", "the daily run was interrupted; it is run again")
        return
    _reconcile_into(row, None)


# ---- payments ---------------------------------------------------------------------------------------


LOOKUP_BATCH = 500  # numbers per IN (...) query: far below SQLite's limit on parameters


def _batches(numbers: set) -> list[list[str]]:
    ordered = sorted(numbers)
    return [ordered[i:i + LOOKUP_BATCH] for i in range(0, len(ordered), LOOKUP_BATCH)]


# Matching reads only these fields, as plain values: building full model rows cost most of a large run.
PAYMENT_FIELDS = {"id": "id", "payment_no": "payment_no", "amount_fen": "amount_fen", "status": "status",
                  "trade_no": "trade_no", "order_id": "order_id", "order_no": "order__order_no"}
PAYOUT_FIELDS = {"id": "id", "request_no": "request_no", "amount_fen": "amount_fen", "status": "status",
                 "order_id": "refund__order_id", "order_no": "refund__order__order_no"}


def _plain(queryset, fields: dict) -> list[SimpleNamespace]:
    names = list(fields)
    return [SimpleNamespace(**dict(zip(names, row, strict=True)))
            for row in queryset.values_list(*fields.values())]


def _payments_by_number(channel: str, numbers: set) -> dict:
    found = {}
    for batch in _batches(numbers):
        rows = _plain(Payment.objects.filter(payment_no__in=batch, channel=channel), PAYMENT_FIELDS)
        found.update((p.payment_no, p) for p in rows)
    return found


def _payouts_by_number(channel: str, numbers: set) -> dict:
    from kameng.aftersales.models import RefundPayout

    found = {}
    for batch in _batches(numbers):
        rows = _plain(RefundPayout.objects.filter(request_no__in=batch, channel=channel), PAYOUT_FIELDS)
        found.update((p.request_no, p) for p in rows)
    return found


def _ours(queryset, run: _Run):
    """Our records that this run's gateway could have taken (a real gateway's, or else the sandbox's)."""
    name = run.gateway.name if run.gateway is not None else run.row.channel
    if name in REAL_GATEWAYS:
        return queryset.filter(gateway__in=(name, ""))
    return queryset.exclude(gateway__in=REAL_GATEWAYS)


def _payment_line(run: _Run, line: StatementLine) -> None:
    kind = ReconciliationLine.Kind.PAYMENT
    if line.our_no and line.our_no in run.payments_seen:
        run.report(Category.MISSING_HERE, kind=kind, reason="DUPLICATE_LINE", line=line)
        return
    run.payments_seen.add(line.our_no)
    payment = run.payments.get(line.our_no)
    if payment is None:
        run.report(Category.MISSING_HERE, kind=kind, reason="UNKNOWN_TO_US", line=line)
        return
    order_no = payment.order_no or ""
    if payment.amount_fen != line.amount_fen:
        run.report(Category.AMOUNT_DIFFERS, kind=kind, reason="AMOUNT_DIFFERS", line=line,
                   our_amount=payment.amount_fen, order_no=order_no)
        return
    if payment.status == PaymentStatus.SUCCEEDED:
        if payment.trade_no and line.their_no and payment.trade_no != line.their_no:
            run.report(Category.MISSING_HERE, kind=kind, reason="TRADE_NO_DIFFERS", line=line,
                       our_amount=payment.amount_fen, order_no=order_no)
        else:
            run.count(None)
        return
    _payment_take(run, line, payment, order_no)


def _payment_take(run: _Run, line: StatementLine, payment: SimpleNamespace, order_no: str) -> None:
    """The gateway's statement shows money we think never came: confirm by a query, then take it."""
    from . import services

    def unrepaired(reason: str) -> None:
        run.report(Category.MISSING_HERE, kind=ReconciliationLine.Kind.PAYMENT, reason=reason, line=line,
                   our_amount=payment.amount_fen, order_no=order_no)

    if run.gateway is None:
        return unrepaired("GATEWAY_UNAVAILABLE")
    try:  # the evidence that moves money is the gateway's signed answer, never a line of a file
        result = run.gateway.query_payment(payment.payment_no)
    except GatewayError as exc:
        logger.warning("reconciliation: payment %s not confirmed (%s)", payment.payment_no, type(exc).__name__)
        return unrepaired("QUERY_FAILED")
    if result.state != PaymentState.SUCCEEDED or result.amount_fen != payment.amount_fen or not result.trade_no:
        return unrepaired("NOT_CONFIRMED")
    try:
        with transaction.atomic():
            services.gateway_payment_take(gateway=run.gateway.name, payment_no=payment.payment_no,
                                          trade_no=result.trade_no, amount_fen=result.amount_fen)
            note = f"reconciliation #{run.row.id} ({run.row.channel} {run.row.day}): payment {payment.payment_no} taken"
            _order_event(payment.order_id, note)
            run.report(Category.MISSING_HERE, kind=ReconciliationLine.Kind.PAYMENT, reason="NOT_RECORDED_PAID",
                       line=line, our_amount=payment.amount_fen, order_no=order_no, repair=Repair.CAPTURED)
    except DomainError as exc:
        if exc.code == "ALREADY_PROCESSED" and services.taken_with(payment.payment_no, result.trade_no):
            run.count(None)  # its notification (or a parallel run) took it meanwhile: nothing left to do
            return
        logger.error("reconciliation: payment %s paid at %s but not taken (%s)", payment.payment_no,
                     run.gateway.name, exc.code)
        unrepaired("NOT_TAKEN")
        return
    logger.warning("reconciliation: payment %s was paid at %s but never recorded; taken now", payment.payment_no,
                   run.gateway.name)


def _order_event(order_id: int | None, note: str) -> None:
    if order_id is None:
        return  # a wallet recharge: the run's line is its record
    from kameng.orders.events import order_event
    from kameng.orders.models import Order

    order_event(order=Order.objects.get(id=order_id), event="reconciliation_repair", actor="system", note=note)


# ---- refunds ----------------------------------------------------------------------------------------


def _refund_line(run: _Run, line: StatementLine) -> None:
    from kameng.aftersales.models import RefundPayout

    kind = ReconciliationLine.Kind.REFUND
    if line.our_no and line.our_no in run.refunds_seen:
        run.report(Category.MISSING_HERE, kind=kind, reason="DUPLICATE_LINE", line=line)
        return
    run.refunds_seen.add(line.our_no)
    payout = run.payouts.get(line.our_no)
    if payout is None:
        run.report(Category.MISSING_HERE, kind=kind, reason="UNKNOWN_TO_US", line=line)
        return
    order_no = payout.order_no
    if payout.amount_fen != line.amount_fen:
        run.report(Category.AMOUNT_DIFFERS, kind=kind, reason="AMOUNT_DIFFERS", line=line,
                   our_amount=payout.amount_fen, order_no=order_no)
        return
    if payout.status == RefundPayout.Status.SUCCEEDED:
        run.count(None)
        return
    _payout_settle(run, line, payout, order_no)


def _payout_settle(run: _Run, line: StatementLine, payout, order_no: str) -> None:
    """The statement shows a refund paid back that we still think is on its way: settle it by the query path."""
    from kameng.aftersales import gateway_payouts
    from kameng.aftersales.models import RefundPayout

    if run.gateway is None or run.gateway.name not in REAL_GATEWAYS:
        # The sandbox settles a refund only by its own notification (its sweep sends it when due).
        reason = "GATEWAY_UNAVAILABLE" if run.gateway is None else "NOT_CONFIRMED"
        run.report(Category.MISSING_HERE, kind=ReconciliationLine.Kind.REFUND, reason=reason, line=line,
                   our_amount=payout.amount_fen, order_no=order_no)
        return
    row = RefundPayout.objects.select_related("refund").get(id=payout.id)
    outcome = gateway_payouts.payout_query(row)  # asks the gateway; settles once through payout_complete
    with transaction.atomic():
        if outcome == gateway_payouts.ACCEPTED:
            note = f"reconciliation #{run.row.id} ({run.row.channel} {run.row.day}): refund {payout.request_no} settled"
            _order_event(payout.order_id, note)
            run.report(Category.MISSING_HERE, kind=ReconciliationLine.Kind.REFUND, reason="NOT_RECORDED_REFUNDED",
                       line=line, our_amount=payout.amount_fen, order_no=order_no, repair=Repair.PAYOUT_SETTLED)
            return
        if outcome == gateway_payouts.REPEAT:
            run.count(None)  # settled meanwhile by its notification or another run
            return
        run.report(Category.MISSING_HERE, kind=ReconciliationLine.Kind.REFUND,
                   reason="QUERY_FAILED" if outcome == gateway_payouts.IGNORED else "NOT_CONFIRMED", line=line,
                   our_amount=payout.amount_fen, order_no=order_no)


# ---- our records the statement lacks ----------------------------------------------------------------


def _missing_there(run: _Run, day: date) -> None:
    from kameng.aftersales.models import RefundPayout

    start, end = beijing_day(day)
    channel = run.row.channel
    day_payments = _ours(Payment.objects.filter(channel=channel, status=PaymentStatus.SUCCEEDED, paid_at__gte=start,
                                                paid_at__lt=end), run)
    # The numbers first (cheap); whole rows only for the few the statement lacks.
    absent = [no for no in day_payments.values_list("payment_no", flat=True) if no not in run.payments_seen]
    payments = day_payments.filter(payment_no__in=absent[:LOOKUP_BATCH])
    run.row.missing_there += max(0, len(absent) - LOOKUP_BATCH)  # counted; a statement this wrong lists the first
    queries = 0
    for payment in payments.select_related("order").order_by("paid_at"):
        queries += 1
        if queries <= MISSING_THERE_QUERIES and _on_another_day(run, day, payment=payment):
            continue
        run.report(Category.MISSING_THERE, kind=ReconciliationLine.Kind.PAYMENT, reason="NOT_ON_STATEMENT",
                   our_no=payment.payment_no, their_no=payment.trade_no or "", our_amount=payment.amount_fen,
                   at=payment.paid_at, order_no=payment.order.order_no if payment.order_id else "")
    day_payouts = RefundPayout.objects.filter(channel=channel, status=RefundPayout.Status.SUCCEEDED,
                                              completed_at__gte=start, completed_at__lt=end)
    absent = [no for no in day_payouts.values_list("request_no", flat=True) if no not in run.refunds_seen]
    payouts = day_payouts.filter(request_no__in=absent[:LOOKUP_BATCH]).select_related("refund__order")
    run.row.missing_there += max(0, len(absent) - LOOKUP_BATCH)
    for payout in payouts.order_by("completed_at"):
        queries += 1
        if queries <= MISSING_THERE_QUERIES and _on_another_day(run, day, payout=payout):
            continue
        run.report(Category.MISSING_THERE, kind=ReconciliationLine.Kind.REFUND, reason="NOT_ON_STATEMENT",
                   our_no=payout.request_no, their_no=payout.gateway_ref, our_amount=payout.amount_fen,
                   at=payout.completed_at, order_no=payout.refund.order.order_no)


def _on_another_day(run: _Run, day: date, *, payment: Payment | None = None, payout=None) -> bool:
    """Whether the gateway completed this record on another Beijing day (we noted it a little later or
    earlier, across midnight), so it belongs to that day's statement and is no difference of this one."""
    if run.gateway is None:
        return False
    try:
        if payment is not None:
            result = run.gateway.query_payment(payment.payment_no)
            done = result.state == PaymentState.SUCCEEDED and result.amount_fen == payment.amount_fen
        else:
            from kameng.aftersales.gateway_payouts import paid_with

            paid = paid_with(payout)
            result = run.gateway.query_refund(request_no=payout.request_no,
                                              payment_no=paid.payment_no if paid else "")
            done = result.state == RefundState.SUCCEEDED and result.amount_fen == payout.amount_fen
    except GatewayError:
        return False
    return done and result.at is not None and result.at.astimezone(BEIJING).date() != day
