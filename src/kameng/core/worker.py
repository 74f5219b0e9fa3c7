"""The background worker: due deadlines, then queued `django.tasks` jobs, in a loop.

`kameng worker` runs it alone; `kameng serve` runs it in a thread of each server process.

Jobs are leased, not owned: a worker beats a heartbeat (`WorkerLease`) while it lives, and a job it
claimed stays its own only while that heartbeat is fresh. When a worker dies mid-job (`kill -9`, a lost
machine) any other worker's loop returns the job to the queue once the lease has run out, and it runs
again. So every job must be safe to re-run: each re-reads its state under a lock first (a top-up is sent
only while queued, an import resumes after the last committed chunk).
"""

import logging
import os
import secrets
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection

from kameng.core import clock

logger = logging.getLogger(__name__)

# A job claimed this many times by workers that all died is not retried again: it is failed, loudly.
MAX_CLAIMS = 5


_process_tokens: dict[int, str] = {}


def _worker_id() -> str:
    """Unique per thread of a process start: a restarted process that reuses a dead one's pid (containers
    do) must not renew the dead one's lease, or its jobs would look alive for ever."""
    token = _process_tokens.setdefault(os.getpid(), secrets.token_hex(4))
    return f"{token}:{os.getpid()}:{threading.get_ident()}:{socket.gethostname()}"[:64]


def lease_seconds() -> int:
    return settings.KAMENG_JOB_LEASE_SECONDS


_renewed: dict[str, float] = {}  # worker id → monotonic time of its last beat from this process


def lease_renew(worker_id: str, *, unless_fresh: bool = False) -> None:
    """This worker is alive now (real time: the test clock must not expire anyone).

    `unless_fresh`: skip the write if this process beat for it within a quarter of the lease (a burst of
    jobs claims many times a second; one write covers them all).
    """
    from kameng.core.models import WorkerLease

    if unless_fresh and time.monotonic() - _renewed.get(worker_id, float("-inf")) < lease_seconds() / 4:
        return
    WorkerLease.objects.update_or_create(worker_id=worker_id, defaults={"beat_at": clock.real_now()})
    _renewed[worker_id] = time.monotonic()


def lease_end(worker_id: str) -> None:
    from kameng.core.models import WorkerLease

    WorkerLease.objects.filter(worker_id=worker_id).delete()
    _renewed.pop(worker_id, None)


def jobs_requeue_abandoned() -> dict[str, int]:
    """Jobs still RUNNING under a worker whose lease ran out go back to the queue (or fail after MAX_CLAIMS).

    Each row is changed only if it is still the same claim (status and start time unchanged), so two
    workers reaping at once, or a worker finishing the job meanwhile, never conflict.
    """
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from kameng.core.models import WorkerLease

    now = clock.real_now()
    cutoff = now - timedelta(seconds=lease_seconds())
    running = list(DBTaskResult.objects.running().values_list("id", "worker_ids", "started_at"))
    owners = {ids[-1] for _, ids, _ in running if ids}
    alive = set(WorkerLease.objects.filter(worker_id__in=owners, beat_at__gte=cutoff).values_list("worker_id", flat=True))
    requeued = failed = 0
    for job_id, worker_ids, started_at in running:
        if worker_ids and worker_ids[-1] in alive:
            continue
        if started_at is not None and started_at > cutoff:
            continue  # claimed moments ago: its worker's lease row may not be visible yet
        same_claim = DBTaskResult.objects.filter(id=job_id, status=TaskResultStatus.RUNNING, started_at=started_at)
        if len(worker_ids) >= MAX_CLAIMS:
            changed = same_claim.update(
                status=TaskResultStatus.FAILED, finished_at=now,
                exception_class_path="kameng.core.worker.JobAbandoned",
                traceback=f"claimed {len(worker_ids)} times by workers that stopped beating; not retried again",
            )
            failed += changed
            if changed:
                logger.error("job %s abandoned by %d dead workers: failed", job_id, len(worker_ids))
        else:
            changed = same_claim.update(status=TaskResultStatus.READY, started_at=None)
            requeued += changed
            if changed:
                logger.warning("job %s of dead worker %s returned to the queue", job_id, worker_ids[-1] if worker_ids else "?")
    # Leases long expired own nothing any more (their jobs went back above): forget them.
    WorkerLease.objects.filter(beat_at__lt=cutoff - timedelta(seconds=10 * lease_seconds())).delete()
    return {"requeued": requeued, "failed": failed}


def run_queued_tasks(*, max_tasks: int | None = None, worker_id: str | None = None) -> int:
    """Run ready jobs now, claiming each like django-tasks-db's worker does; returns how many ran.

    Unlike that worker's loop this never closes the database connection, so the test clock and
    tests can call it inside a request or a test transaction. The lease is renewed before each claim,
    so a job is never claimed under a lease another worker already considers dead.
    """
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult
    from django_tasks_db.utils import exclusive_transaction

    runner = Worker(
        queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id=worker_id or _worker_id(), excluded_queue_names=[],
    )
    ran = 0
    while max_tasks is None or ran < max_tasks:
        if not DBTaskResult.objects.ready().filter(backend_name="default").exists():
            break
        lease_renew(runner.worker_id, unless_fresh=True)
        with exclusive_transaction(DBTaskResult.objects.db):
            job = DBTaskResult.objects.ready().filter(backend_name="default").get_locked()
            if job is None:
                break
            job.claim(runner.worker_id)
        runner.run_task(job)
        ran += 1
    return ran


def _beat_forever(worker_id: str, stop: threading.Event) -> None:
    """Renew the lease while the worker lives, even while one long job keeps its loop busy."""
    every = max(0.5, lease_seconds() / 4)
    while not stop.wait(every):
        try:
            lease_renew(worker_id)
        except Exception:  # a busy database: the next beat retries, well within the lease
            logger.warning("worker heartbeat failed", exc_info=True)
        finally:
            close_old_connections()
    connection.close()


def run_forever(stop: threading.Event, *, interval: float = 1.0) -> None:
    from kameng.core.deadlines import process_due

    worker_id = _worker_id()
    logger.info("worker %s started (interval %.1fs, lease %ss)", worker_id, interval, lease_seconds())
    beating = threading.Event()
    threading.Thread(target=_beat_forever, args=(worker_id, beating), name="kameng-worker-heartbeat",
                     daemon=True).start()
    reaped_at = 0.0
    lease_renew(worker_id)
    checked_on = _check_the_calendar(None)
    try:
        while not stop.is_set():
            try:
                close_old_connections()
                # Looking for dead workers' jobs scans the running jobs: often enough to meet the lease, no more.
                if time.monotonic() - reaped_at >= lease_seconds() / 2:
                    jobs_requeue_abandoned()
                    reaped_at = time.monotonic()
                with clock.pinned():
                    checked_on = _check_the_calendar(checked_on)
                    process_due()
                run_queued_tasks(max_tasks=100, worker_id=worker_id)
            except Exception:  # keep the loop alive; the next round retries
                logger.exception("worker round failed")
            finally:
                close_old_connections()
            stop.wait(interval)
    finally:
        beating.set()
        try:
            lease_end(worker_id)  # stopped cleanly between jobs: nothing of ours is running
        except Exception:
            logger.warning("could not end the worker lease", exc_info=True)
    logger.info("worker stopped")


def _check_the_calendar(checked_on):
    """At start and once a day: warn loudly while the holiday calendar is running out."""
    today = clock.now().date()
    if today != checked_on:
        try:
            from kameng.core.workdays import warn_if_running_out

            warn_if_running_out()
        except Exception:
            logger.exception("could not check the holiday calendar")
    return today


def start_in_thread(*, interval: float = 1.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(stop,), kwargs={"interval": interval}, name="kameng-worker", daemon=True).start()
    return stop
