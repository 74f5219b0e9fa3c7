#!/usr/bin/env python
"""A simulated month of after-sales on the test clock: do the platform's deadlines keep every promise?

Setup: a fresh PostgreSQL database (sandbox on, so the test clock moves), three suppliers — one that
answers claims within hours, one that answers after a day or more (often past its 24 hours), one that
never answers — each with a card product (stocked keys: a batch a week, and the slow supplier's first
batch is bad: half of its revealed keys are reported invalid), a phone top-up (some succeed after their
promise: 5 % compensation) and a manual product delivered by hand (10 % compensation); three reviewers and two senior reviewers; B buyers with funded wallets.

Simulated (bench/_month_sim.py, through the services, one process): D days of N orders a day at random
times, paid by wallet, Alipay, WeChat Pay or bank card (sandbox gateways, signed notifications). Top-ups
succeed, fail or are never reported; manual orders are delivered on time, late or never; buyers reveal
most keys and a share of them ask for a refund (invalid key, key already used, not as described, system
error; changed mind on keys never revealed); never-reported top-ups and undelivered orders are asked
about after their windows. Suppliers answer supplier-liable claims as their character says.
Reviewers plan each case waiting for them: half decided within the deadline, a fifth late, the rest
never; some ask the buyer for more, most answers come back; rejected buyers appeal, and a senior decides
or does not. The clock moves from event to event (at most an hour a step), lands on every refund
deadline, and at each step runs the deadline sweep and the job queue as the worker does. After the D days,
no new orders; the run ends when nothing is open (or after 21 more days).

Printed: the share of decisions made within the deadline in force (goal 100 %), the share decided
automatically — by the platform's rules or deadlines, actor `system` (goal >= 60 %), who decided the
rest, the median hours from request to money back per channel, what is still open, and the book check.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchEnv, add_common_args, log, machine_info, report  # noqa: E402

SIMULATE = r"""
import sys
sys.path.insert(0, payload["bench"])
from _month_sim import simulate
result = simulate(payload)
"""

CHANNEL_NAMES = {"wallet": "钱包 wallet", "alipay": "支付宝 Alipay", "wechat": "微信支付 WeChat Pay",
                 "bank": "银行卡 bank card"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders-per-day", type=int, default=60)
    parser.add_argument("--buyers", type=int, default=120)
    parser.add_argument("--dispute-rate", type=float, default=0.12, help="share of delivered keys asked about")
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()

    info = machine_info(args.pg)
    started = time.monotonic()
    with BenchEnv(args.pg, prefix="month", keep=args.keep) as env:
        log(f"simulating {args.days} days x {args.orders_per_day} orders")
        figures = env.django(SIMULATE, {
            "bench": str(Path(__file__).resolve().parent), "days": args.days, "orders_per_day": args.orders_per_day,
            "buyers": args.buyers, "dispute_rate": args.dispute_rate, "seed": args.seed,
        })
    elapsed = time.monotonic() - started

    def share(value):
        return "n/a" if value is None else f"{value * 100:.1f} %"

    counts = figures["counts"]
    lines = [
        f"simulated {figures['sim_days']:.1f} days ({args.days} with orders) in {elapsed / 60:.1f} min wall time; "
        f"load average at the end {Path('/proc/loadavg').read_text().split()[0]}",
        f"- orders: {counts.get('orders', 0)} "
        f"({', '.join(f'{k[11:]} {v}' for k, v in sorted(counts.items()) if k.startswith('orders via'))}); "
        f"top-ups succeeded {counts.get('top-ups succeeded', 0)}, failed {counts.get('top-ups failed', 0)}; "
        f"manual deliveries {counts.get('manual deliveries', 0)}",
        f"- refunds: {figures['refunds']} ({figures['system_created']} opened by the platform itself, "
        f"{counts.get('requests by buyers', 0)} by buyers); appeals {counts.get('appeals', 0)}; "
        f"final states {figures['statuses']}",
        f"- decisions within the deadline in force: **{share(figures['on_time_share'])}** of "
        f"{figures['decisions_with_deadline']} (goal 100 %; latest one {figures['max_late_seconds']:.0f} s past its "
        f"deadline)",
        f"- first decisions made automatically (actor system: the rules, supplier silence, deadlines): "
        f"**{share(figures['automatic_share'])}** of {figures['first_decisions']} (goal >= 60 %); decided by "
        f"{figures['decided_by']}; of the requests buyers filed themselves, "
        f"{share(figures['automatic_share_of_requests'])} were decided automatically",
        "- median hours from request to money back: " + "; ".join(
            f"{CHANNEL_NAMES.get(channel, channel)} {row['median']:.1f} h (n={row['n']})"
            for channel, row in figures["hours_to_money"].items()),
        f"- still open at the end: {figures['open_at_end']}; failed payouts {figures['payouts_failed']}",
        f"- late-delivery compensations credited: {figures['compensations']}; import batches quarantined: "
        f"{figures['batches_quarantined']} (batches seeded bad: {figures['bad_batches']})",
        f"- book check: {'balanced' if figures['ledger_ok'] else 'FAILED ' + str(figures['ledger_problems'])}",
        "- what people and sources did: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())
                                                          if not k.startswith("orders")),
    ]
    checks = [
        (figures["on_time_share"] == 1.0, "every decision within its deadline"),
        ((figures["automatic_share"] or 0) >= 0.60, "at least 60 % decided automatically"),
        (figures["open_at_end"] == 0, "nothing left open"),
        (figures["ledger_ok"], "the book balances"),
    ]
    lines += [f"- [{'x' if good else ' '}] {text}" for good, text in checks]
    report("simulated_month", lines=lines, errors=[], info=info, record_it=args.record)
    return 0 if all(good for good, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
