"""The background worker: due deadlines, then queued `django.tasks` jobs, in a loop.

`kameng worker` runs it alone; `kameng serve` runs it in a thread of each server process.
"""

import logging
import os
import socket
import threading

from django.db import close_old_connections

logger = logging.getLogger(__name__)


def run_queued_tasks(*, max_tasks: int | None = None) -> None:
    """Run every ready job once (batch mode) with django-tasks-db's own worker."""
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64],
        excluded_queue_names=[],
    ).run()


def run_forever(stop: threading.Event, *, interval: float = 1.0) -> None:
    from kameng.core.deadlines import process_due

    logger.info("worker started (interval %.1fs)", interval)
    while not stop.is_set():
        try:
            close_old_connections()
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
