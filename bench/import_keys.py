"""Bulk key import: `kameng import-keys PRODUCT_ID FILE` with 1,000,000 unique keys on PostgreSQL.

Streams a file of unique keys to a temp dir, runs the import as a subprocess and measures its wall
time (target <= 60 s) and peak memory (VmHWM / max RSS, target <= 500 MB); then imports the same
file again and checks that it reports every key as a duplicate. Finally checks the table by SQL.

    .venv/bin/python bench/import_keys.py
    .venv/bin/python bench/import_keys.py --keys 200000          # a quicker run
"""

import argparse
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
import threading
import time

from _common import KAMENG, BenchEnv, add_common_args, log, machine_info, report, setup_users

TIME_TARGET = 60.0
MEM_TARGET_MB = 500.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys in the file (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=300, help="kill an import after this many seconds")
    add_common_args(parser)
    return parser.parse_args(argv)


def write_keys(path, n: int) -> None:
    """Unique keys that look like real card secrets (card number + password), written in blocks."""
    salt = secrets.token_hex(4).upper()
    with open(path, "w", encoding="utf-8") as handle:
        block = []
        for i in range(n):
            block.append(f"CARD{salt}{i:010d}-{secrets.token_hex(8).upper()}\n")
            if len(block) == 10000:
                handle.writelines(block)
                block = []
        handle.writelines(block)


def run_measured(env: BenchEnv, args: list[str], timeout: float) -> dict:
    """Run a command; wall time, peak memory (from /usr/bin/time -v when present, else VmHWM polling)."""
    time_bin = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    cmd = [time_bin, "-v", *args] if time_bin else args
    peak_kb = [0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env.env, cwd=env.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def poll():  # also used as a cross-check of /usr/bin/time: the Python process is the child of `time`
        while not stop.is_set():
            try:
                children = [proc.pid]
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as handle:
                    children += [int(c) for c in handle.read().split()]
                for pid in children:
                    with open(f"/proc/{pid}/status") as handle:
                        for line in handle:
                            if line.startswith("VmHWM:"):
                                peak_kb[0] = max(peak_kb[0], int(line.split()[1]))
            except (OSError, ValueError):
                pass
            stop.wait(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"import took longer than {timeout} s") from None
    finally:
        stop.set()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {err[-3000:]}")
    max_rss_kb = None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    if m:
        max_rss_kb = int(m.group(1))
    if max_rss_kb is None:
        max_rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    counts = re.search(r"imported: (\d+)\s+duplicates: (\d+)\s+rejected: (\d+)", out)
    if not counts:
        raise RuntimeError(f"no counts in the output: {out!r}")
    return {"elapsed": elapsed, "peak_mb": max(max_rss_kb, peak_kb[0]) / 1024, "time_v": bool(m),
            "imported": int(counts[1]), "duplicates": int(counts[2]), "rejected": int(counts[3]), "stdout": out.strip()}


def main(argv=None) -> int:
    args = parse_args(argv)
    info = machine_info(args.pg)
    with BenchEnv(args.pg, prefix="import", keep=args.keep) as env:
        setup = setup_users(env, buyers=0, products=1, price="1.00", fund_fen=0, password="bench-pass-123")
        product_id = setup["products"][0]
        path = env.tmp / "keys.txt"
        t = time.perf_counter()
        write_keys(path, args.keys)
        log(f"wrote {args.keys} keys ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
        command = [KAMENG, "import-keys", str(product_id), str(path), "--quiet"]
        first = run_measured(env, command, args.timeout)
        log(f"first import: {first['stdout']} in {first['elapsed']:.1f} s, peak {first['peak_mb']:.0f} MB")
        second = run_measured(env, command, args.timeout)
        log(f"second import: {second['stdout']} in {second['elapsed']:.1f} s, peak {second['peak_mb']:.0f} MB")
        with env.connect() as conn:
            rows, distinct = conn.execute(
                "SELECT count(*), count(DISTINCT fingerprint) FROM inventory_cardsecret WHERE product_id = %s",
                (product_id,)).fetchone()
            batches = conn.execute("SELECT status, processed, imported, duplicates, rejected FROM inventory_importbatch "
                                   "WHERE product_id = %s ORDER BY id", (product_id,)).fetchall()

    checks = {
        f"first import <= {TIME_TARGET:.0f} s": first["elapsed"] <= TIME_TARGET,
        f"peak memory <= {MEM_TARGET_MB:.0f} MB (both imports)": max(first["peak_mb"], second["peak_mb"]) <= MEM_TARGET_MB,
        f"first import: {args.keys} imported, 0 duplicates, 0 rejected":
            (first["imported"], first["duplicates"], first["rejected"]) == (args.keys, 0, 0),
        f"second import: {args.keys} duplicates, 0 imported":
            (second["imported"], second["duplicates"], second["rejected"]) == (0, args.keys, 0),
        f"table holds {args.keys} distinct secrets": rows == distinct == args.keys,
        "batch counters match": [tuple(b[1:]) for b in batches] == [(args.keys, args.keys, 0, 0), (args.keys, 0, args.keys, 0)],
    }
    how = "/usr/bin/time -v max RSS and /proc VmHWM polling" if first["time_v"] else "VmHWM polling / RUSAGE_CHILDREN"
    lines = [
        f"{args.keys:,} unique keys (~{len('CARD') + 8 + 10 + 1 + 16} chars each), `kameng import-keys` subprocess; "
        f"peak memory by {how}",
        "",
        "| run | wall time | keys/s | peak memory | output |",
        "|---|---|---|---|---|",
        f"| first import | **{first['elapsed']:.1f} s** | {args.keys / first['elapsed']:,.0f} | "
        f"**{first['peak_mb']:.0f} MB** | {first['stdout']} |",
        f"| same file again | {second['elapsed']:.1f} s | {args.keys / second['elapsed']:,.0f} | "
        f"{second['peak_mb']:.0f} MB | {second['stdout']} |",
        "",
        f"SQL: {rows} secrets, {distinct} distinct fingerprints; batches {batches}",
        "",
        *[f"- [{'x' if ok else ' '}] {name}" for name, ok in checks.items()],
    ]
    report("import_keys", lines=lines, errors=[], info=info, record_it=args.record)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
