"""The installed `kameng` command end to end, as an outside client drives it (contract §Command line).

Runs against SQLite in its own data directory (the PostgreSQL pass covers the same code through the
test client); `kameng serve` must answer HTTP and run the background worker in-process.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KAMENG = str(Path(sys.executable).with_name("kameng"))

pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="runs once, in the SQLite pass"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("kameng-e2e")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(KAMENG_DATA_DIR=str(data), KAMENG_SANDBOX="1", KAMENG_ACCESS_LOG="", DJANGO_SETTINGS_MODULE="kameng.settings")

    def run(*args):
        done = subprocess.run([KAMENG, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    run("migrate", "-v", "0")
    ids = {role: run("createuser", role, "--password", "pw123456", "--role", role, *(["--phone", "13800000000"] if role == "buyer" else []))
           for role in ("buyer", "supplier", "admin")}
    port = free_port()
    # The server's log goes to a file: a pipe nobody reads fills up and stops the server mid-request.
    log = open(tmp_path_factory.mktemp("kameng-log") / "serve.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen([KAMENG, "serve", "--port", str(port), "--workers", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}/api/v1"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        log.seek(0)
        pytest.fail("kameng serve did not start: " + log.read()[-2000:])
    yield {"base": base, "run": run, "ids": ids, "data": data}
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


def login(base, name):
    token = httpx.post(f"{base}/auth/token", json={"username": name, "password": "pw123456"}, timeout=30).json()["token"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def wait_for(check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return check()


def test_serve_sells_a_key_imported_from_a_file(server, tmp_path):
    supplier = login(server["base"], "supplier")
    product = supplier.post("/admin/products", json={"name": "点卡", "kind": "card", "price": "3.00",
                                                     "face_value": "3.00"}).json()
    keys = tmp_path / "keys.txt"
    keys.write_text("E2E-KEY-1\nE2E-KEY-2\nE2E-KEY-2\n\n", encoding="utf-8")
    out = server["run"]("import-keys", str(product["id"]), str(keys), "--quiet")
    assert "imported: 2  duplicates: 1  rejected: 1" in out

    buyer = login(server["base"], "buyer")
    order = buyer.post("/orders", json={"product_id": product["id"], "quantity": 1, "channel": "wechat",
                                        "accept_terms": True}).json()
    paid = buyer.post(f"/sandbox/payments/{order['payment']['payment_no']}/pay").json()
    assert paid["order_status"] == "delivered"
    secret = buyer.post(f"/orders/{order['order_no']}/reveal").json()["items"][0]["secret"]
    assert secret in ("E2E-KEY-1", "E2E-KEY-2")


def test_the_in_process_worker_dispatches_top_ups(server):
    supplier = login(server["base"], "supplier")
    product = supplier.post("/admin/products", json={"name": "话费", "kind": "topup", "price": "10.00",
                                                     "face_value": "10.00"}).json()
    buyer = login(server["base"], "buyer")
    recharge = buyer.post("/wallet/recharge", json={"amount": "20.00", "channel": "alipay"}).json()
    buyer.post(f"/sandbox/payments/{recharge['payment_no']}/pay")
    order = buyer.post("/orders", json={"product_id": product["id"], "quantity": 1, "channel": "wallet",
                                        "accept_terms": True, "recharge_account": "13800138000"}).json()
    dispatched = wait_for(lambda: buyer.get(f"/orders/{order['order_no']}").json()["topup"]["status"] == "dispatched")
    assert dispatched, "the worker inside kameng serve never dispatched the top-up"


def test_check_ledger_passes_after_real_traffic(server):
    assert "the book balances" in server["run"]("check-ledger")


def test_no_secret_in_the_data_directory_logs_or_files(server):
    for path in Path(server["data"]).rglob("*"):
        if path.is_file() and path.suffix not in (".sqlite3", ".sqlite3-wal", ".sqlite3-shm") and "static" not in path.parts:
            assert b"E2E-KEY-" not in path.read_bytes(), path


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 shell")
def test_keys_are_not_stored_in_plaintext(server):
    db = Path(server["data"]) / "kameng.sqlite3"
    dump = subprocess.run(["sqlite3", str(db), ".dump inventory_cardsecret"], capture_output=True).stdout
    assert b"E2E-KEY-" not in dump


def test_kameng_worker_alone_expires_unpaid_orders(tmp_path):
    """`kameng worker` (for multi-process deployments) processes deadlines with no server running."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(KAMENG_DATA_DIR=str(tmp_path), KAMENG_SANDBOX="1", DJANGO_SETTINGS_MODULE="kameng.settings")

    def shell(code: str) -> str:
        done = subprocess.run([KAMENG, "manage", "shell", "-c", code], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]  # the shell may announce its auto-imports first

    subprocess.run([KAMENG, "migrate", "-v", "0"], env=env, check=True, timeout=120)
    order_no = shell(
        "from kameng.accounts.services import user_create\n"
        "from kameng.catalog.services import product_create\n"
        "from kameng.inventory.services import keys_import_list\n"
        "from kameng.orders.services import order_create\n"
        "from kameng.core.models import TestClock\n"
        "s = user_create(username='s', password='pw123456', role='supplier')\n"
        "b = user_create(username='b', password='pw123456', role='buyer')\n"
        "p = product_create(actor=s, name='x', kind='link', price='1.00', face_value='1.00')\n"
        "keys_import_list(actor=s, product_id=p.id, keys=['EXPIRE-LINK-1'])\n"
        "o = order_create(buyer=b, product_id=p.id, quantity=1, channel='bank', accept_terms=True)\n"
        "TestClock.objects.update_or_create(id=1, defaults={'offset_seconds': 3600})\n"
        "print(o.order_no)"
    )
    status = f"from kameng.orders.models import Order; print(Order.objects.get(order_no='{order_no}').status)"
    assert shell(status) == "pending_payment"  # nothing but a worker would expire it now
    worker = subprocess.Popen([KAMENG, "worker", "--interval", "0.2"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        expired = wait_for(lambda: shell(status) == "expired", seconds=30)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
    assert expired, "kameng worker did not expire the unpaid order"
    assert shell("from kameng.inventory.models import CardSecret; print(CardSecret.objects.get().status)") == "available"


def test_a_gateway_notification_over_http_pays_once(server):
    """As an outside gateway would: signed form fields POSTed to the notify endpoint, no cookie, no CSRF token."""
    import hashlib
    import hmac

    secret = (Path(server["data"]) / "sandbox_secret").read_text().strip()
    supplier = login(server["base"], "supplier")
    product = supplier.post("/admin/products", json={"name": "通知", "kind": "card", "price": "2.50",
                                                     "face_value": "2.50"}).json()
    supplier.post(f"/admin/products/{product['id']}/keys", json={"keys": ["NOTIFY-KEY-1"]})
    buyer = login(server["base"], "buyer")
    order = buyer.post("/orders", json={"product_id": product["id"], "quantity": 1, "channel": "alipay",
                                        "accept_terms": True}).json()
    fields = {"payment_no": order["payment"]["payment_no"], "trade_no": "EXT-TRADE-1", "amount": "2.50",
              "status": "SUCCESS", "ts": str(int(time.time()))}
    message = "&".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()
    fields["sign"] = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    forged = httpx.post(f"{server['base']}/payments/notify/sandbox", data={**fields, "amount": "0.01"})
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "BAD_SIGNATURE"
    first = httpx.post(f"{server['base']}/payments/notify/sandbox", data=fields)
    assert first.status_code == 200, first.text
    again = httpx.post(f"{server['base']}/payments/notify/sandbox", data=fields)
    assert again.status_code == 409
    assert buyer.get(f"/orders/{order['order_no']}").json()["status"] == "delivered"
