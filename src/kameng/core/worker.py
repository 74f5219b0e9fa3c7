"""The background worker: due deadlines, then queued `django.tasks` jobs, in a loop.

`kameng worker` runs it alone; `kameng serve` runs it in a thread of each server process.
"""

import logging
import os
import socket
import threading

from django.db import close_old_connections

from kameng.core import clock

logger = logging.getLogger(__name__)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]


def run_queued_tasks(*, max_tasks: int | None = None) -> int:
    """Run ready jobs now, claiming each like django-tasks-db's worker does; returns how many ran.

    Unlike that worker's loop this never closes the database connection, so the test clock and
    tests can call it inside a request or a test transaction.
    """
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult
    from django_tasks_db.utils import exclusive_transaction

    runner = Worker(
        queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id=_worker_id(), excluded_queue_names=[],
    )
    ran = 0
    while max_tasks is None or ran < max_tasks:
        with exclusive_transaction(DBTaskResult.objects.db):
            job = DBTaskResult.objects.ready().filter(backend_name="default").get_locked()
            if job is None:
                break
            job.claim(runner.worker_id)
        runner.run_task(job)
        ran += 1
    return ran


def run_forever(stop: threading.Event, *, interval: float = 1.0) -> None:
    from kameng.core.deadlines import process_due

    logger.info("worker started (interval %.1fs)", interval)
    while not stop.is_set():
        try:
            close_old_connections()
            with clock.pinned():
                process_due()
            run_queued_tasks(max_tasks=100)
        except Exception:  # keep the loop alive; the next round retries
            logger.exception("worker round failed")
        finally:
            close_old_connections()
        stop.wait(interval)
    logger.info("worker stopped")


def start_in_thread(*, interval: float = 1.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(stop,), kwargs={"interval": interval}, name="kameng-worker", daemon=True).start()
    return stop
