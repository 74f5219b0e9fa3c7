"""Jobs survive a dead worker: a claim is a lease, an expired one returns the job to the queue, and the jobs
that come back (a top-up send, a key import) do their work once. (The real `kill -9`: tests/e2e/test_crash.py.)"""

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kameng.core.models import WorkerLease
from kameng.core.worker import MAX_CLAIMS, jobs_requeue_abandoned, lease_renew, run_queued_tasks
from kameng.inventory.importing import ImportSuperseded, import_lines
from kameng.inventory.models import CardSecret, ImportBatch
from kameng.orders.models import SandboxSupplierTopup, TopupDispatch
from kameng.orders.services import order_create
from kameng.web.imports import import_start, imports_clean_abandoned

pytestmark = pytest.mark.django_db

DEAD = "dead0000:4242:1:gone-host"


@pytest.fixture(autouse=True)
def _own_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # uploads of these tests stay out of the others' way


def _claimed_by(worker_id: str, *, ago: int, claims: int = 1) -> DBTaskResult:
    """The queued job, claimed `ago` seconds back by a worker that then (perhaps) died."""
    job = DBTaskResult.objects.ready().get()
    DBTaskResult.objects.filter(id=job.id).update(status="RUNNING", worker_ids=[worker_id] * claims,
                                                  started_at=timezone.now() - timedelta(seconds=ago))
    return job


@pytest.fixture
def paid_topup(make_user, make_product, fund_wallet):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    return order_create(buyer=buyer, product_id=make_product(kind="topup").id, quantity=1, channel="wallet",
                        accept_terms=True, recharge_account="13800138000")


def test_a_job_claimed_by_a_dead_worker_runs_again_and_sends_the_top_up_once(paid_topup):
    job = _claimed_by(DEAD, ago=settings.KAMENG_JOB_LEASE_SECONDS + 5)
    assert run_queued_tasks() == 0  # RUNNING for ever, as before the lease
    assert jobs_requeue_abandoned() == {"requeued": 1, "failed": 0}
    assert run_queued_tasks() == 1
    job.refresh_from_db()
    assert job.status == "SUCCESSFUL" and len(job.worker_ids) == 2
    assert TopupDispatch.objects.get(order=paid_topup).status == "dispatched"
    assert SandboxSupplierTopup.objects.filter(order_no=paid_topup.order_no).count() == 1


def test_a_job_of_a_live_worker_is_left_alone_however_long_it_runs(paid_topup):
    lease_renew("alive000:1:1:here")
    _claimed_by("alive000:1:1:here", ago=10 * settings.KAMENG_JOB_LEASE_SECONDS)
    assert jobs_requeue_abandoned() == {"requeued": 0, "failed": 0}
    WorkerLease.objects.filter(worker_id="alive000:1:1:here").update(
        beat_at=timezone.now() - timedelta(seconds=settings.KAMENG_JOB_LEASE_SECONDS + 1))
    assert jobs_requeue_abandoned()["requeued"] == 1  # it stopped beating: now it is dead


def test_a_job_that_kills_every_worker_is_failed_not_retried_for_ever(paid_topup):
    job = _claimed_by(DEAD, ago=settings.KAMENG_JOB_LEASE_SECONDS + 5, claims=MAX_CLAIMS)
    assert jobs_requeue_abandoned() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "FAILED" and job.exception_class_path.endswith("JobAbandoned")


def test_the_supplier_is_asked_once_even_if_the_worker_died_after_it_accepted(paid_topup):
    """The crash came between the supplier's acceptance and our commit: the re-run submits again with the same
    order number, which the supplier dedupes, so the account is topped up once."""
    from kameng.catalog.suppliers import SandboxSupplier
    from kameng.catalog.suppliers.base import SupplyKind, SupplyOrder

    first = SandboxSupplier().submit(SupplyOrder(order_no=paid_topup.order_no, kind=SupplyKind.TOPUP, sku="",
                                                 face_value_fen=1000, quantity=1, account="13800138000")).supplier_ref
    run_queued_tasks()
    assert TopupDispatch.objects.get(order=paid_topup).upstream_ref == first
    assert SandboxSupplierTopup.objects.filter(order_no=paid_topup.order_no).count() == 1


def _upload(product, supplier, body: bytes):
    """Start a page import; returns the batch and the file it stored."""
    folder = Path(settings.MEDIA_ROOT) / "imports"
    before = set(folder.iterdir()) if folder.is_dir() else set()
    batch = import_start(actor=supplier, product_id=product.id, upload=SimpleUploadedFile("keys.txt", body))
    (stored,) = set(folder.iterdir()) - before
    return batch, stored


def test_an_import_cut_short_resumes_without_counting_anything_twice(supplier, make_product):
    product = make_product(keys=1)  # KEY-<id>-000000 already in stock: one true duplicate
    lines = [f"RESUME-{i:04d}" for i in range(30)] + ["", f"KEY-{product.id}-000000", "RESUME-0003"]
    batch, stored = _upload(product, supplier, "\n".join(lines).encode())
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600  # plaintext keys: the server's user only
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    # The first run commits two chunks of ten, then its worker dies.
    import_lines(batch=ImportBatch.objects.get(id=batch.id), lines=lines[:20], chunk_size=10)
    assert ImportBatch.objects.get(id=batch.id).processed == 20
    assert run_queued_tasks() >= 1  # the job, back in the queue, runs again on the whole file
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.imported, batch.duplicates, batch.rejected) == ("done", 33, 30, 2, 1)
    assert CardSecret.objects.filter(product=product).count() == 31
    assert not stored.exists()


def test_an_import_no_worker_will_finish_fails_and_its_file_is_removed(supplier, make_product):
    product = make_product()
    batch, stored = _upload(product, supplier, b"GIVEN-UP-1\nGIVEN-UP-2\n")
    _claimed_by(DEAD, ago=settings.KAMENG_JOB_LEASE_SECONDS + 5, claims=MAX_CLAIMS)
    jobs_requeue_abandoned()
    imports_clean_abandoned()
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.error == "ABANDONED"
    assert not stored.exists()


def test_a_second_run_of_one_import_stops_instead_of_counting_again(supplier, make_product):
    """A worker wrongly thought dead and the worker that took its job over: only one of them counts."""
    product = make_product()
    batch, _ = _upload(product, supplier, b"TWICE-1\nTWICE-2\nTWICE-3\nTWICE-4\n")
    slow = ImportBatch.objects.get(id=batch.id)  # the first run read the batch at line 0...
    import_lines(batch=ImportBatch.objects.get(id=batch.id), lines=["TWICE-1", "TWICE-2"], chunk_size=2)
    with pytest.raises(ImportSuperseded):  # ...and the second run moved it on meanwhile
        import_lines(batch=slow, lines=["TWICE-1", "TWICE-2", "TWICE-3", "TWICE-4"], chunk_size=2)
    batch.refresh_from_db()
    assert (batch.processed, batch.imported, batch.duplicates) == (2, 2, 0)
