#!/usr/bin/env python
"""The dossier's printable summary (`summary.pdf`): time and memory per summary, from the full Noto CJK face
(the baseline: what every summary cost before, `KAMENG_PDF_FONT_CACHE=0`) and from the cut-down copy in the
data directory (aftersales/pdf_font.py), in the same run.

Setup (once, SQLite in a throw-away data dir): a buyer's revealed card order, an `invalid_key` claim with two
pictures, messages and a timeline — a realistic two-page summary. The cut-down font is then built once, and
that one-time cost is reported too.

Measured: each round starts a fresh Python process per variant (variants interleaved, the order alternating
by round, so load drifts hit both alike); the process imports Django, then builds `--calls` summaries of the
claim through `summary_pdf`. Reported per variant: the first summary in a process (what a worker pays), the
later ones (median), the resident-memory growth while building them (VmHWM after − VmRSS before, from /proc:
the kernel's own figures) and the PDF's size. Run from the repository root:

    /work/main/.venv/bin/python bench/dossier_pdf.py [--rounds 5] [--calls 3] [--record]
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, log, record  # noqa: E402

SETUP = r"""
import io
from PIL import Image
from django.core.files.uploadedfile import SimpleUploadedFile
from kameng.accounts.services import user_create
from kameng.aftersales.services import evidence_add, refund_create, refund_message
from kameng.catalog.services import product_create
from kameng.inventory.services import keys_import_list
from kameng.ledger.services import Accounts, Line, journal_post
from kameng.orders.services import order_create, order_reveal

supplier = user_create(username="bench_psupplier", password="bench-password-1", role="supplier")
buyer = user_create(username="bench_pbuyer", password="bench-password-1", role="buyer", phone="13800000000")
product = product_create(actor=supplier, name="王者荣耀 点券卡 60 元", kind="card", price="60.00", face_value="60.00")
keys_import_list(actor=supplier, product_id=product.id, keys=[f"WZRY-BENCH-{i:06d}" for i in range(4)])
journal_post(reference="bench-grant", kind="promotion",
             lines=[Line(Accounts.PROMOTIONS, 100_000), Line(Accounts.wallet(buyer.id), -100_000)])
order = order_create(buyer=buyer, product_id=product.id, quantity=2, channel="wallet", accept_terms=True)
order_reveal(user=buyer, order_no=order.order_no)
refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", destination="wallet",
                       description="在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05，附截图和客服聊天记录。")
for name, colour in (("兑换失败截图.jpg", (200, 40, 40)), ("客服聊天记录.png", (40, 90, 200))):
    out = io.BytesIO()
    Image.new("RGB", (1080, 1920), colour).save(out, format="JPEG" if name.endswith("jpg") else "PNG")
    evidence_add(user=buyer, refund_id=refund.id, uploaded_file=SimpleUploadedFile(name, out.getvalue()))
refund_message(user=buyer, refund_id=refund.id, body="补充：第二张卡密同样提示已被使用，兑换时间 21:07。")
print(refund.id)
"""

BUILD = r"""
import time
from kameng.aftersales import pdf_font
started = time.perf_counter()
assert pdf_font.build(pdf_font.cache_path())
print(json.dumps({"seconds": time.perf_counter() - started, "bytes": pdf_font.cache_path().stat().st_size,
                  "glyphs_source": 65535}))
"""

CHILD = r"""
import time
from kameng.aftersales.dossier_pdf import summary_pdf
from kameng.aftersales.models import Refund

def vm(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

refund = Refund.objects.select_related("order", "buyer").get(id=payload["refund"])
evidence = list(refund.evidence.order_by("id"))
before = vm("VmRSS:")
times, size = [], 0
for _ in range(payload["calls"]):
    started = time.perf_counter()
    size = len(summary_pdf(refund=refund, evidence=evidence))
    times.append(time.perf_counter() - started)
print(json.dumps({"times": times, "rss_before": before, "peak": vm("VmHWM:"), "size": size}))
"""

PRELUDE = "import json, os, sys, django\npayload = json.loads(os.environ['BENCH_PAYLOAD'])\ndjango.setup()\n"


def run(code: str, env: dict, payload: dict | None = None) -> str:
    env = {**env, "BENCH_PAYLOAD": json.dumps(payload or {})}
    done = subprocess.run([sys.executable, "-c", PRELUDE + code], env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"child failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3, help="summaries per process")
    parser.add_argument("--record", action="store_true", help="append the summary to bench/RESULTS.md")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="kameng-bench-pdf-")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(KAMENG_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="kameng.settings", PYTHONPATH=str(ROOT / "src"),
               KAMENG_SANDBOX="1")
    load_before = load()
    log("migrating", data_dir)
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], env=env, check=True)
    refund_id = int(run(SETUP, env))
    log("building the cut-down font once")
    built = json.loads(run(BUILD, {**env, "KAMENG_PDF_FONT_CACHE": "1"}))

    variants = {"full face (before)": "0", "cut-down copy (after)": "1"}
    results = {name: [] for name in variants}
    for round_no in range(args.rounds):
        order = list(variants) if round_no % 2 == 0 else list(reversed(variants))
        for name in order:
            out = json.loads(run(CHILD, {**env, "KAMENG_PDF_FONT_CACHE": variants[name]},
                                 {"refund": refund_id, "calls": args.calls}))
            results[name].append(out)
            log(f"round {round_no + 1} {name}: " + ", ".join(f"{t:.2f}s" for t in out["times"])
                + f"; +{out['peak'] - out['rss_before']:.0f} MB")

    lines = [f"{args.rounds} rounds × {args.calls} summaries per fresh process, variants interleaved; "
             f"load average before {load_before}, after {load()}",
             "", "| font | first summary in a process (median, min–max) | later summaries (median) | "
             "memory growth while building (median) | summary.pdf size |", "|---|---|---|---|---|"]
    for name, runs in results.items():
        firsts = [r["times"][0] for r in runs]
        later = [t for r in runs for t in r["times"][1:]]
        growth = [r["peak"] - r["rss_before"] for r in runs]
        lines.append(f"| {name} | {statistics.median(firsts):.2f} s ({min(firsts):.2f}–{max(firsts):.2f}) | "
                     f"{statistics.median(later):.2f} s | {statistics.median(growth):.0f} MB | "
                     f"{runs[-1]['size'] / 1024:.0f} KB |" if later else "")
    lines.append(f"\nOne-time build of the cut-down copy: {built['seconds']:.1f} s, {built['bytes'] / 1e6:.1f} MB file "
                 "(in the background, on the first summary that finds none).")
    body = "\n".join(lines)
    print(body)
    shutil.rmtree(data_dir, ignore_errors=True)
    if args.record:
        info = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "nproc": os.cpu_count(),
                "mem": _mem(), "cpu": _cpu(), "postgres": "not used (SQLite)", "python": platform.python_version()}
        record("Dossier summary PDF: full Noto CJK face vs the cut-down copy (bench/dossier_pdf.py)",
               "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), info, body)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def _mem() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return "?"


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    log(f"done in {time.perf_counter() - started:.0f} s")
