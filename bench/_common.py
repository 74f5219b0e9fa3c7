"""Shared plumbing for the benchmarks: a throw-away PostgreSQL database and data dir, the `kameng`
CLI, a `kameng serve` subprocess, a small HTTP client, latency statistics and RESULTS.md.

Everything talks to 127.0.0.1 only and is removed again when the `BenchEnv` context exits.
"""

import datetime as dt
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "RESULTS.md"
VENV_BIN = Path(sys.executable).parent
KAMENG = str(VENV_BIN / "kameng")
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/postgres"


def add_common_args(parser) -> None:
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", PG_DEFAULT),
                        help="maintenance URL of the PostgreSQL server (the bench creates and drops its own database "
                             "there; default %(default)s)")
    parser.add_argument("--record", action="store_true", help="append the summary to bench/RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the database and temp dir (for inspection)")


def log(*parts) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


# ---- machine ---------------------------------------------------------------------------------


def machine_info(pg_url: str) -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        mem = subprocess.run(["free", "-h"], capture_output=True, text=True, check=True).stdout.splitlines()[1].split()[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "mem": mem,
        "cpu": cpu,
        "postgres": pg,
        "python": platform.python_version(),
    }


def machine_line(info: dict) -> str:
    return (f"{info['date']} · nproc {info['nproc']} · RAM {info['mem']} · CPU {info['cpu']} · "
            f"PostgreSQL {info['postgres']} · Python {info['python']}")


def report(title: str, *, lines: list[str], errors: list[str], info: dict, record_it: bool) -> None:
    """Print a benchmark's summary and the first server errors; with --record, append it to RESULTS.md."""
    summary = "\n".join(lines)
    print(summary)
    for line in errors[:20]:
        print("server:", line, file=sys.stderr)
    if record_it:
        record(title, "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), info, summary)


def record(title: str, command: str, info: dict, body: str) -> None:
    text = f"\n### {title}\n\n- machine: {machine_line(info)}\n- command: `{command}`\n\n{body.rstrip()}\n"
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text)
    log(f"appended to {RESULTS}")


# ---- statistics ------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# ---- HTTP ------------------------------------------------------------------------------------


class Http:
    """A keep-alive JSON client for one thread (stdlib http.client: light on the shared CPU)."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 60):
        self.port = port
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.conn = None

    def request(self, method: str, path: str, body=None) -> tuple[int, dict | None]:
        payload = None if body is None else json.dumps(body)
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=payload, headers=self.headers)
                response = self.conn.getresponse()
                raw = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                break
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest, ConnectionResetError, BrokenPipeError):
                # a keep-alive connection the server had already closed: reconnect once
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = {"raw": raw[:200].decode("utf-8", "replace")}
        return response.status, data

    def close(self):
        if self.conn is not None:
            self.conn.close()


def login(port: int, username: str, password: str) -> str:
    status, body = Http(port).request("POST", "/api/v1/auth/token", {"username": username, "password": password})
    if status != 200:
        raise RuntimeError(f"login {username}: {status} {body}")
    return body["token"]


def login_all(port: int, usernames: list[str], password: str) -> list[str]:
    """Tokens for many users; a few at a time (each login is one deliberately slow password hash)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda name: login(port, name, password), usernames))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the environment -------------------------------------------------------------------------


class BenchEnv:
    """A fresh PostgreSQL database + KAMENG_DATA_DIR, migrated; dropped and removed on exit."""

    def __init__(self, pg_url: str, *, prefix: str, keep: bool = False, sandbox: bool = True):
        self.pg_url = pg_url
        self.keep = keep
        self.dbname = f"kameng_bench_{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
        base = pg_url.rsplit("/", 1)[0]
        self.database_url = f"{base}/{self.dbname}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"kameng-bench-{prefix}-"))
        self.servers: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "KAMENG_DATA_DIR": str(self.tmp / "data"),
            "KAMENG_SANDBOX": "1" if sandbox else "0",
            "DJANGO_SETTINGS_MODULE": "kameng.settings",
            "PYTHONUNBUFFERED": "1",
        }

    def __enter__(self):
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        log(f"database {self.dbname}, data dir {self.tmp}")
        self.kameng("migrate", "-v", "0")
        return self

    def __exit__(self, *exc):
        for server in self.servers:
            self.stop_server(server)
        if self.keep:
            log(f"kept database {self.dbname} and {self.tmp}")
            return False
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.database_url, **kwargs)

    def kameng(self, *args: str, capture: bool = True) -> str:
        proc = subprocess.run([KAMENG, *args], env=self.env, cwd=self.tmp, capture_output=capture, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"kameng {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout if capture else ""

    def django(self, code: str, payload: dict) -> dict:
        """Run `code` in a Django process (kameng.settings); it reads `payload`, sets `result` (JSON)."""
        wrapper = (
            "import json, sys, django\n"
            "django.setup()\n"
            "payload = json.loads(sys.stdin.read())\n"
            "result = None\n" + code + "\nprint('\\n@@RESULT@@' + json.dumps(result))\n"
        )
        proc = subprocess.run([sys.executable, "-c", wrapper], env=self.env, cwd=self.tmp, input=json.dumps(payload),
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"setup script failed: {proc.stderr[-3000:]}")
        return json.loads(proc.stdout.rsplit("@@RESULT@@", 1)[1])

    def start_server(self, *, no_worker: bool, workers: int | None = None) -> tuple[subprocess.Popen, int]:
        port = free_port()
        args = [KAMENG, "serve", "--host", "127.0.0.1", "--port", str(port)]
        if no_worker:
            args.append("--no-worker")
        if workers:
            args += ["--workers", str(workers)]
        logfile = open(self.tmp / f"server-{port}.log", "w")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(args, env=self.env, cwd=self.tmp, stdout=logfile, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.logfile = logfile
        self.servers.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"kameng serve exited: {(self.tmp / f'server-{port}.log').read_text()[-2000:]}")
            try:
                status, _ = Http(port, timeout=2).request("GET", "/api/v1/health")
                if status == 200:
                    log(f"kameng serve up on port {port} (pid {proc.pid})")
                    return proc, port
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("kameng serve did not answer /api/v1/health within 60 s")

    def stop_server(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own session: gunicorn master + its workers
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.logfile.close()

    def log_marks(self) -> dict:
        """Where the server logs end now: pass to server_errors to see only what came after."""
        return {path: path.stat().st_size for path in self.tmp.glob("server-*.log")}

    def server_errors(self, since: dict | None = None) -> list[str]:
        lines = []
        for path in self.tmp.glob("server-*.log"):
            with path.open("rb") as handle:
                handle.seek((since or {}).get(path, 0))
                text = handle.read().decode("utf-8", "replace")
            for line in text.splitlines():
                if "Traceback" in line or "[ERROR]" in line or '" 5' in line:
                    lines.append(line)
        return lines


# Shared Django setup: a supplier, buyers with funded wallets, products. Runs inside BenchEnv.django.
SETUP_USERS = r"""
from concurrent.futures import ThreadPoolExecutor
from kameng.accounts.services import user_create
from kameng.catalog.services import product_create
from kameng.ledger.services import Accounts, Line, journal_post, account
from django.db import connection

def make(args):
    name, role, phone = args
    try:
        return user_create(username=name, password=payload["password"], role=role, phone=phone).id
    finally:
        connection.close()

specs = [("bench_supplier", "supplier", "")] + [(f"bench_buyer{i}", "buyer", "13800000000") for i in range(payload["buyers"])]
# PBKDF2 releases the GIL: two threads hash on two cores.
with ThreadPoolExecutor(2) as pool:
    ids = list(pool.map(make, specs))
from kameng.accounts.models import User
supplier = User.objects.get(id=ids[0])
products = [product_create(actor=supplier, name=f"bench card {i}", kind="card", price=payload["price"],
                           face_value=payload["price"]).id for i in range(payload["products"])]
for uid in ids[1:]:
    journal_post(reference=f"bench-grant:{uid}", kind="promotion",
                 lines=[Line(Accounts.PROMOTIONS, payload["fund_fen"]), Line(Accounts.wallet(uid), -payload["fund_fen"])])
for code in (Accounts.ESCROW, Accounts.COMMISSION, Accounts.payable(supplier.id)):
    account(code)
result = {"supplier": {"id": ids[0], "username": "bench_supplier"},
          "buyers": [{"id": uid, "username": f"bench_buyer{i}"} for i, uid in enumerate(ids[1:])],
          "products": products}
"""


def setup_users(env: BenchEnv, *, buyers: int, products: int, price: str, fund_fen: int, password: str) -> dict:
    return env.django(SETUP_USERS, {"buyers": buyers, "products": products, "price": price, "fund_fen": fund_fen,
                                    "password": password})


def stock_keys(port: int, supplier_token: str, product_id: int, count: int, tag: str, per_request: int = 10000) -> None:
    client = Http(port, supplier_token, timeout=300)
    done = 0
    while done < count:
        n = min(per_request, count - done)
        keys = [f"BENCH-{tag}-{product_id}-{done + i:08d}-{secrets.token_hex(4)}" for i in range(n)]
        status, body = client.request("POST", f"/api/v1/admin/products/{product_id}/keys", {"keys": keys})
        if status != 200 or body.get("imported") != n:
            raise RuntimeError(f"stocking keys: {status} {body}")
        done += n
    client.close()


# ---- additions for the after-sales benchmarks (refunds_auto.py, staff_queue.py) ---------------------


def django_parallel(env: BenchEnv, code: str, payloads: list[dict]) -> list:
    """`env.django(code, payload)` for each payload, in as many concurrent Django processes; results in order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, len(payloads))) as pool:
        return list(pool.map(lambda payload: env.django(code, payload), payloads))


# Many users quickly: one password hash shared by all of them (PBKDF2 costs ~0.5 s a user), rows bulk-inserted,
# API tokens minted the way `token_issue` stores them (sha256 digest), wallets funded by promotion journals as
# `SETUP_USERS` does. payload: {"prefix","count","role","password","fund_fen"} -> [{"id","username","token"}].
SETUP_BULK_USERS = r"""
import hashlib, secrets
from django.contrib.auth.hashers import make_password
from django.db import transaction
from kameng.accounts.models import ApiToken, User
from kameng.core import clock
from kameng.ledger.services import Accounts, Line, account, journal_post

hashed = make_password(payload["password"])
users = User.objects.bulk_create([
    User(username=f"{payload['prefix']}{i}", password=hashed, role=payload["role"], phone="13800000000")
    for i in range(payload["count"])
])
users = list(User.objects.filter(username__startswith=payload["prefix"], role=payload["role"]).order_by("id"))
tokens = {u.id: secrets.token_urlsafe(32) for u in users}
ApiToken.objects.bulk_create([
    ApiToken(user=u, digest=hashlib.sha256(tokens[u.id].encode()).hexdigest(), created_at=clock.real_now())
    for u in users
])
if payload.get("fund_fen"):
    for u in users:
        with transaction.atomic():
            journal_post(reference=f"bench-grant:{u.id}", kind="promotion",
                         lines=[Line(Accounts.PROMOTIONS, payload["fund_fen"]),
                                Line(Accounts.wallet(u.id), -payload["fund_fen"])])
for code in (Accounts.ESCROW, Accounts.COMMISSION):
    account(code)
result = [{"id": u.id, "username": u.username, "token": tokens[u.id]} for u in users]
"""


def setup_bulk_users(env: BenchEnv, *, prefix: str, count: int, role: str, password: str, fund_fen: int = 0) -> list[dict]:
    return env.django(SETUP_BULK_USERS, {"prefix": prefix, "count": count, "role": role, "password": password,
                                         "fund_fen": fund_fen})


def latency_line(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (f"p50 {ms(percentile(values, 50))}, p90 {ms(percentile(values, 90))}, p99 {ms(percentile(values, 99))}, "
            f"max {ms(max(values))} (n={len(values)})")


class PageSession:
    """A browser-like session (httpx, cookies) that logs in through the login form with its CSRF token."""

    def __init__(self, port: int, timeout: float = 60):
        import httpx

        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.base, timeout=timeout, follow_redirects=False,
                                   headers={"Accept-Language": "zh-hans"})

    def login(self, username: str, password: str) -> None:
        import re

        page = self.client.get("/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if page.status_code != 200 or not match:
            raise RuntimeError(f"login page: {page.status_code}")
        answer = self.client.post("/login/", data={"username": username, "password": password,
                                                   "csrfmiddlewaretoken": match.group(1), "next": ""},
                                  headers={"Referer": self.base + "/login/"})
        if answer.status_code != 302 or "sessionid" not in self.client.cookies:
            raise RuntimeError(f"login {username}: {answer.status_code} {answer.text[:300]}")

    def get(self, path: str):
        return self.client.get(path)

    def close(self) -> None:
        self.client.close()
