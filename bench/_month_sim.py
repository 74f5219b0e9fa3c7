"""A month of a shop on the test clock, driven through the services (runs inside a Django process).

Used by `simulated_month.py`: see its docstring for what is simulated and measured. Everything here
acts the way a person or a source would — buyers buy, reveal, ask for refunds and appeal; suppliers
deliver, report top-ups and answer claims (or not); reviewers decide early, late or never — and the
platform's own deadlines do the rest, swept at every step exactly as the worker sweeps them.

The clock moves from event to event, never more than `STEP` at a time, and lands exactly on every
refund deadline that falls due in between, as a worker sweeping every second would.
"""

import heapq
import itertools
import random
import statistics
from collections import Counter, defaultdict
from datetime import timedelta

from django.db.models import Min

from kameng.accounts.models import User
from kameng.accounts.services import user_create
from kameng.aftersales import decisions, supplier_claims
from kameng.aftersales import services as aftersales
from kameng.aftersales.models import Refund, RefundEvent, RefundPayout
from kameng.catalog.services import product_create
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.core.errors import DomainError
from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import ImportBatch, KeyIssue
from kameng.inventory.services import keys_import_list
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, Line, journal_post
from kameng.orders.fulfilment import manual_deliver, topup_report
from kameng.orders.models import Order
from kameng.orders.services import order_create, order_reveal
from kameng.payments.services import sandbox_pay

STEP = timedelta(minutes=60)
# A decision counts as on time when it is made by its deadline; the sweep acts on a deadline the moment
# the clock reaches it here (the worker sweeps every second), plus the real seconds one sweep takes.
ON_TIME_SLACK = timedelta(minutes=1)
DECISION_EVENTS = ("approved", "rejected", "auto_approved", "appeal_approved", "appeal_rejected")
FIRST_DECISIONS = ("approved", "rejected", "auto_approved")

DESCRIPTIONS = {
    "invalid_key": "在游戏兑换页面输入卡密后提示“卡密无效”，试了三次都一样，附截图。",
    "key_already_used": "卡密提示已被使用，兑换记录里没有我的账号，附截图。",
    "not_as_described": "商品页写的是 60 天会员，兑换后只到账 30 天，附兑换记录截图。",
    "system_error": "兑换时页面报错“系统繁忙”，卡密状态却变成已使用，附录屏。",
    "changed_mind": "买错了面值，需要的是 50 元的，这张卡密还没有查看过。",
    "not_delivered": "付款后一直显示待发货，超过承诺时间还没有收到。",
    "topup_not_received": "话费充值付款一天了，手机号一直没有到账，运营商也查不到记录。",
}
APPEAL_TEXT = "我已补充兑换页面的完整录屏，能看到卡密输入后立即提示已被使用，请重新审核。"
INFO_REPLY = "补充：兑换时间是晚上九点左右，使用的是官方网站兑换页面，录屏已上传。"
CONTEST_NOTE = "我方出库记录显示该卡密发货时有效，且未在其他渠道售出。"

# Who the simulated people are and how they behave.
SUPPLIERS = (("sup_prompt", "prompt"), ("sup_slow", "slow"), ("sup_silent", "silent"))
CHANNELS = (("wallet", 0.40), ("alipay", 0.30), ("wechat", 0.25), ("bank", 0.05))


class Month:
    def __init__(self, payload: dict):
        self.rng = random.Random(payload["seed"])
        self.days = payload["days"]
        self.orders_per_day = payload["orders_per_day"]
        self.dispute_rate = payload["dispute_rate"]
        self.queue: list = []
        self.seq = itertools.count()
        self.counts = Counter()
        self.scheduled_review: set[int] = set()
        self.decisions: dict[tuple[int, str], tuple] = {}  # (refund id, first|appeal) -> (decided_at, due, actor)
        self.last_seen = clock.now()

    # ---- the cast ---------------------------------------------------------------------------------

    def setup(self, buyers: int) -> None:
        password = "sim-password-1"
        self.admin = user_create(username="sim_admin", password=password, role="admin")
        self.reviewers = [user_create(username=f"sim_reviewer{i}", password=password, role="reviewer") for i in range(3)]
        self.seniors = [user_create(username=f"sim_senior{i}", password=password, role="senior_reviewer")
                        for i in range(2)]
        self.suppliers = {}
        self.products = []  # (product, supplier user, behaviour, kind)
        self.bad_batches: set[int] = set()
        for username, behaviour in SUPPLIERS:
            supplier = user_create(username=username, password=password, role="supplier")
            self.suppliers[supplier.id] = behaviour
            card = product_create(actor=supplier, name=f"{username} 游戏点卡 30 元", kind="card", price="30.00",
                                  face_value="30.00", delivery_promise_minutes=5)
            self.stock(supplier, card, bad=behaviour == "slow")  # one supplier's first batch is a bad one
            topup = product_create(actor=supplier, name=f"{username} 话费充值 50 元", kind="topup", price="49.50",
                                   face_value="50.00", delivery_promise_minutes=30,
                                   refund_policy={"late_delivery_compensation_rate": "0.05"})
            manual = product_create(actor=supplier, name=f"{username} 代充会员 月卡", kind="card", price="19.90",
                                    face_value="25.00", delivery_promise_minutes=120, is_manual=True,
                                    refund_policy={"late_delivery_compensation_rate": "0.10"})
            self.products += [(card, supplier, behaviour, "card"), (card, supplier, behaviour, "card"),
                              (topup, supplier, behaviour, "topup"), (manual, supplier, behaviour, "manual")]
        self.buyers = []
        for i in range(buyers):
            buyer = user_create(username=f"sim_buyer{i}", password=password, role="buyer", phone=f"1380000{i:04d}")
            journal_post(reference=f"sim-grant:{buyer.id}", kind="promotion",
                         lines=[Line(Accounts.PROMOTIONS, 1_000_000), Line(Accounts.wallet(buyer.id), -1_000_000)])
            self.buyers.append(buyer)

    def stock(self, supplier, product, *, bad: bool = False) -> None:
        """A batch of keys; a week's sales each (a quarantined batch leaves the others selling)."""
        count = self.orders_per_day * 7 // 2
        keys_import_list(actor=supplier, product_id=product.id, keys=[
            f"SIM-{product.id}-{self.rng.getrandbits(64):016x}" for _ in range(count)])
        if bad:
            self.bad_batches.add(ImportBatch.objects.filter(product=product).latest("id").id)

    def restock(self) -> None:
        for product, supplier, _behaviour, _kind in self.products[::4]:  # each supplier's card product
            self.stock(supplier, product)

    # ---- the event queue --------------------------------------------------------------------------

    def at(self, when, action, *args) -> None:
        heapq.heappush(self.queue, (when, next(self.seq), action, args))

    def later(self, hours_low: float, hours_high: float):
        return clock.now() + timedelta(hours=self.rng.uniform(hours_low, hours_high))

    def plan_orders(self) -> None:
        start = clock.now()
        for week in range(1, (self.days + 6) // 7 + 1):
            self.at(start + timedelta(days=7 * week - 1), self.restock)
        self.at(start + timedelta(hours=1), self.restock)  # a second batch from the start
        for day in range(self.days):
            for _ in range(self.orders_per_day):
                self.at(start + timedelta(days=day, seconds=self.rng.uniform(0, 86400)), self.buy)

    # ---- buyers -----------------------------------------------------------------------------------

    def buy(self) -> None:
        buyer = self.rng.choice(self.buyers)
        product, supplier, behaviour, kind = self.rng.choice(self.products)
        channel = self.rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
        try:
            order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel=channel, accept_terms=True,
                                 recharge_account="13912345678" if kind == "topup" else None)
            if channel != "wallet":
                sandbox_pay(user=buyer, payment_no=order.payments.get().payment_no)
        except DomainError as exc:
            self.counts[f"order refused: {exc.code}"] += 1
            return
        self.counts["orders"] += 1
        self.counts[f"orders via {channel}"] += 1
        run_queued_tasks()
        if kind == "topup":
            roll = self.rng.random()
            if roll < 0.82:
                self.at(self.later(0.02, 0.2), self.topup_result, supplier, order.order_no, "success")
            elif roll < 0.88:  # succeeds, but after the 30-minute promise: compensated
                self.at(self.later(0.6, 3), self.topup_result, supplier, order.order_no, "success")
            elif roll < 0.96:
                self.at(self.later(0.05, 1), self.topup_result, supplier, order.order_no, "failed")
            else:  # the supplier never reports: the buyer asks after the 24-hour confirmation window
                self.at(self.later(25, 30), self.ask, buyer, order.order_no, "topup_not_received")
        elif kind == "manual":
            roll = self.rng.random()
            if roll < 0.75:
                self.at(self.later(0.1, 1.8), self.deliver_by_hand, supplier, buyer, order.order_no)
            elif roll < 0.90:  # late, past the two-hour promise
                self.at(self.later(2.5, 8), self.deliver_by_hand, supplier, buyer, order.order_no)
            else:  # never delivered: the buyer asks once the promise has passed (unless the platform acted)
                self.at(self.later(3, 12), self.ask, buyer, order.order_no, "not_delivered")
        else:
            self.after_delivery(buyer, order.order_no)

    def after_delivery(self, buyer, order_no: str) -> None:
        revealed = self.rng.random() < 0.85
        if revealed:
            self.at(self.later(0.01, 0.5), self.reveal, buyer, order_no)
        # Good batches: about 2.5 % of sold keys are claimed bad (under the 5 % quarantine share); the bad one: half.
        bad_key = bool(self.bad_batches) and KeyIssue.objects.filter(
            order_item__order__order_no=order_no, secret__batch_id__in=self.bad_batches).exists()
        if bad_key and revealed and self.rng.random() < 0.5:  # a bad batch: half its buyers find the key dead
            self.at(self.later(0.6, 6), self.ask, buyer, order_no, "invalid_key")
            return
        if self.rng.random() < self.dispute_rate:
            if revealed:
                reason = self.rng.choices(["invalid_key", "key_already_used", "not_as_described", "system_error"],
                                          weights=[15, 10, 45, 30])[0]
                self.at(self.later(0.6, 40), self.ask, buyer, order_no, reason)
            else:
                self.at(self.later(0.1, 40), self.ask, buyer, order_no, "changed_mind")

    def reveal(self, buyer, order_no: str) -> None:
        try:
            order_reveal(user=buyer, order_no=order_no)
        except DomainError:
            pass  # refunded before the buyer looked

    def ask(self, buyer, order_no: str, reason: str) -> None:
        destination = "wallet" if self.rng.random() < 0.3 else "original"
        try:
            refund = aftersales.refund_create(buyer=buyer, order_no=order_no, reason=reason,
                                              description=DESCRIPTIONS[reason], destination=destination)
        except DomainError as exc:
            self.counts[f"request refused: {exc.code}"] += 1
            return
        self.counts["requests by buyers"] += 1
        self.counts[f"requests: {reason}"] += 1
        if refund.supplier_answer == "pending":
            self.supplier_answers(refund)

    def appeal(self, buyer, refund_id: int) -> None:
        try:
            aftersales.refund_appeal(user=buyer, refund_id=refund_id, description=APPEAL_TEXT)
            self.counts["appeals"] += 1
        except DomainError as exc:
            self.counts[f"appeal refused: {exc.code}"] += 1

    def answer_info(self, buyer, refund_id: int) -> None:
        try:
            aftersales.refund_message(user=buyer, refund_id=refund_id, body=INFO_REPLY)
        except DomainError:
            pass

    # ---- suppliers --------------------------------------------------------------------------------

    def topup_result(self, supplier, order_no: str, status: str) -> None:
        try:
            topup_report(actor=supplier, order_no=order_no, status=status)
        except DomainError as exc:
            self.counts[f"top-up report refused: {exc.code}"] += 1
        run_queued_tasks()
        self.counts["top-ups succeeded" if status == "success" else "top-ups failed"] += 1

    def deliver_by_hand(self, supplier, buyer, order_no: str) -> None:
        order = Order.objects.get(order_no=order_no)
        contents = [f"会员兑换码 SIM-MANUAL-{order.id}-{n}" for n in range(order.items.count())]
        try:
            manual_deliver(actor=supplier, order_no=order_no, contents=contents)
        except DomainError as exc:  # refunded meanwhile: nothing to deliver
            self.counts[f"manual delivery refused: {exc.code}"] += 1
            return
        self.counts["manual deliveries"] += 1
        self.after_delivery(buyer, order_no)

    def supplier_answers(self, refund) -> None:
        supplier_id = refund.order.snapshot["supplier_id"]
        behaviour = self.suppliers[supplier_id]
        if behaviour == "silent":
            return
        when = self.later(0.3, 8) if behaviour == "prompt" else self.later(20, 40)  # slow: often past the 24 hours
        answer = "accept" if self.rng.random() < 0.55 else "contest"
        self.at(when, self.supplier_answer, supplier_id, refund.id, answer)

    def supplier_answer(self, supplier_id: int, refund_id: int, answer: str) -> None:
        supplier = User.objects.get(id=supplier_id)
        try:
            if answer == "accept":
                supplier_claims.claim_accept(supplier=supplier, refund_id=refund_id, note="核实无误，同意退款。")
            else:
                supplier_claims.claim_contest(supplier=supplier, refund_id=refund_id, note=CONTEST_NOTE)
            self.counts[f"supplier {answer}ed"] += 1
        except DomainError as exc:
            self.counts[f"supplier answer refused: {exc.code}"] += 1

    # ---- reviewers --------------------------------------------------------------------------------

    def plan_reviews(self) -> None:
        """Each case waiting for staff gets one plan: decided in time, late, or never."""
        waiting = (Refund.objects.filter(status__in=("submitted", "appealed"), sla_due_at__isnull=False)
                   .exclude(supplier_answer="pending").values_list("id", "status", "sla_due_at", "appealed_at"))
        for refund_id, status, due, appealed_at in waiting:
            key = refund_id * 2 + (1 if appealed_at else 0)
            if key in self.scheduled_review:
                continue
            self.scheduled_review.add(key)
            now = clock.now()
            roll = self.rng.random()
            if roll < 0.50:
                span = max((due - now).total_seconds(), 60)
                when = now + timedelta(seconds=self.rng.uniform(0.05, 0.95) * span)
            elif roll < 0.70:  # late: after the first deadline (the case is escalated by then)
                when = due + timedelta(hours=self.rng.uniform(1, 30))
            else:
                continue  # never: the deadlines must decide it
            self.at(when, self.review, refund_id, status == "appealed")

    def review(self, refund_id: int, appeal: bool) -> None:
        refund = Refund.objects.get(id=refund_id)
        if appeal:
            actor = next(s for s in self.seniors if s.id != refund.first_decided_by_id)
        else:
            actor = self.rng.choice(self.seniors if refund.escalated else self.reviewers)
        roll = self.rng.random()
        try:
            if not appeal and roll < 0.10 and not refund.messages.filter(kind="info_request").exists():
                decisions.refund_request_info(actor=actor, refund_id=refund_id, message="请补充兑换页面的录屏和兑换时间。")
                self.counts["info requested"] += 1
                if self.rng.random() < 0.7:
                    self.at(self.later(1, 20), self.answer_info, refund.buyer, refund_id)
                self.scheduled_review.discard(refund_id * 2)  # planned again once answered
                return
            if roll < (0.45 if appeal else 0.72):
                decisions.refund_approve(actor=actor, refund_id=refund_id, note="证据充分，同意退款。")
            else:
                decisions.refund_reject(actor=actor, refund_id=refund_id, reason_code="not_reproducible",
                                        note="卡密在我方测试中可正常兑换，证据不足以证明问题。")
                if not appeal and self.rng.random() < 0.4:
                    self.at(self.later(2, 72), self.appeal, refund.buyer, refund_id)
            self.counts["staff decisions"] += 1
        except DomainError as exc:
            self.counts[f"staff action refused: {exc.code}"] += 1
        run_queued_tasks()

    # ---- the clock --------------------------------------------------------------------------------

    def next_deadline(self):
        due = Refund.objects.filter(status__in=("submitted", "appealed")).aggregate(m=Min("sla_due_at"))["m"]
        supplier_due = Refund.objects.filter(supplier_answer="pending").aggregate(m=Min("supplier_due_at"))["m"]
        info_due = Refund.objects.filter(status="awaiting_buyer").aggregate(m=Min("info_due_at"))["m"]
        return min((d for d in (due, supplier_due, info_due) if d is not None), default=None)

    def move_to(self, target) -> None:
        now = clock.now()
        if target > now:
            clock.advance(seconds=max(1, int((target - now).total_seconds() + 0.999)))
        for _ in range(2):  # as the worker would: what a deadline wrote (a job, a payout) runs too
            acted = sum(process_due().values()) + run_queued_tasks()
            if not acted:
                break
        self.record_decisions()

    def record_decisions(self) -> None:
        """Note each decision with the deadline in force when it was made (an appeal resets it)."""
        now = clock.now()
        for refund in Refund.objects.filter(decided_at__gt=self.last_seen, decided_at__lte=now).only(
                "id", "decided_at", "sla_due_at", "appealed_at", "submitted_at"):
            stage = "appeal" if refund.appealed_at else "first"
            if (refund.id, stage) not in self.decisions:
                self.decisions[(refund.id, stage)] = (refund.decided_at, refund.sla_due_at)
        self.last_seen = now

    def run(self) -> None:
        self.plan_orders()
        end = clock.now() + timedelta(days=self.days)
        # No new orders after the month; everything open must still end (three working days, escalation,
        # appeals of seven days and their review fit in three weeks, holidays included).
        tail_end = end + timedelta(days=21)
        while True:
            now = clock.now()
            target = now + STEP
            if self.queue and self.queue[0][0] < target:
                target = self.queue[0][0]
            deadline = self.next_deadline()
            if deadline is not None and deadline < target:
                target = deadline
            self.move_to(max(target, now))
            while self.queue and self.queue[0][0] <= clock.now():
                _when, _seq, action, args = heapq.heappop(self.queue)
                action(*args)
            self.plan_reviews()
            if clock.now() >= end and not self.queue and not self.still_open():
                break
            if clock.now() >= tail_end:
                break

    def still_open(self) -> bool:
        return Refund.objects.filter(status__in=("submitted", "awaiting_buyer", "appealed", "approved", "refunding")
                                     ).exists()

    # ---- the figures ------------------------------------------------------------------------------

    def figures(self) -> dict:
        refunds = list(Refund.objects.select_related("payout").order_by("id"))
        system_first = set()
        decision_actor = {}
        for refund_id, event, actor in (RefundEvent.objects.filter(event__in=DECISION_EVENTS)
                                        .order_by("id").values_list("refund_id", "event", "actor")):
            if event in FIRST_DECISIONS and refund_id not in decision_actor:
                decision_actor[refund_id] = actor
                if actor == "system":
                    system_first.add(refund_id)
        opened_by_system = {r.id for r in refunds if r.events.order_by("id").first().actor == "system"}
        by_actor = Counter("system" if a == "system" else a.split(":", 1)[0] for a in decision_actor.values())
        on_time = [decided <= due + ON_TIME_SLACK for (decided, due) in self.decisions.values() if due is not None]
        lateness = [(decided - due).total_seconds() for (decided, due) in self.decisions.values()
                    if due is not None and decided > due]
        hours_by_channel = defaultdict(list)
        for refund in refunds:
            payout = getattr(refund, "payout", None)
            if refund.status == "refunded" and payout is not None and refund.refunded_at:
                hours_by_channel[payout.channel].append((refund.refunded_at - refund.submitted_at).total_seconds() / 3600)
        statuses = Counter(r.status for r in refunds)
        check = book_check()
        return {
            "counts": dict(self.counts),
            "refunds": len(refunds),
            "statuses": dict(statuses),
            "system_created": len(opened_by_system),
            "automatic_share_of_requests": (len(system_first - opened_by_system) / len(set(decision_actor) - opened_by_system)
                                            if set(decision_actor) - opened_by_system else None),
            "first_decisions": len(decision_actor),
            "decided_by": dict(by_actor),
            "automatic_share": len(system_first) / len(decision_actor) if decision_actor else None,
            "decisions_with_deadline": len(on_time),
            "on_time_share": sum(on_time) / len(on_time) if on_time else None,
            "max_late_seconds": max(lateness, default=0),
            "open_at_end": sum(statuses[s] for s in ("submitted", "awaiting_buyer", "appealed", "approved", "refunding")),
            "hours_to_money": {channel: {"n": len(v), "median": statistics.median(v)} for channel, v in
                               sorted(hours_by_channel.items())},
            "payouts_failed": RefundPayout.objects.filter(status="failed").count(),
            "compensations": Journal.objects.filter(kind="late_delivery_compensation").count(),
            "batches_quarantined": ImportBatch.objects.exclude(quarantined_at=None).count(),
            "bad_batches": len(self.bad_batches),
            "ledger_ok": check.ok,
            "ledger_problems": [*check.unbalanced[:3], *check.empty[:3], *check.stranded[:3]],
            "sim_days": (clock.now() - self.started).total_seconds() / 86400,
        }


def simulate(payload: dict) -> dict:
    month = Month(payload)
    month.started = clock.now()
    month.setup(payload["buyers"])
    month.run()
    return month.figures()
