"""Starting a page import: store the upload, count its lines, open the batch, queue the job.

The stored file is plaintext keys: readable by this process's user only (0600, in a 0700 folder), and
never kept longer than its import (see web.tasks and `imports_clean_abandoned`).
"""

import logging
import os
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction

from kameng.catalog.selectors import product_for_manager
from kameng.core.errors import Conflict
from kameng.inventory.models import ImportBatch
from kameng.inventory.services import batch_finish, batch_start

from .tasks import import_key_file, remove_upload

logger = logging.getLogger(__name__)

# An upload no queued or running job refers to is removed after this long (the gap between storing a
# file and committing its job is a moment; a crash in it leaves a file no one will read).
ORPHAN_AFTER_SECONDS = 15 * 60


def imports_folder() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def _store(upload) -> tuple[Path, int]:
    """Write the upload under MEDIA_ROOT/imports and count lines as the reader will see them."""
    path = imports_folder() / f"{uuid.uuid4().hex}.txt"
    lines = 0
    last = b""
    # Created 0600 from the first byte: no moment in which another local user may open it.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:] or last
    if last and last != b"\n":
        lines += 1  # a last line without its newline
    return path, lines


def import_start(*, actor, product_id: int, upload) -> ImportBatch:
    product = product_for_manager(actor=actor, product_id=product_id)
    if not product.uses_stock:
        raise Conflict("keys are stocked only for card and link products sold from stock", code="PRODUCT_NOT_STOCKED")
    path, lines = _store(upload)
    try:
        with transaction.atomic():  # the job row commits with its batch, or neither exists
            batch = batch_start(actor=actor, product=product, source="page", total_lines=lines)
            import_key_file.enqueue(batch.id, str(path))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return batch


def _import_jobs(statuses) -> dict[int, str]:
    """batch id → uploaded file, for the page import jobs in these states."""
    from django_tasks_db.models import DBTaskResult

    jobs = DBTaskResult.objects.filter(task_path=import_key_file.module_path, status__in=statuses)
    return {int(job["args"][0]): str(job["args"][1])
            for job in jobs.values_list("args_kwargs", flat=True) if len(job.get("args", [])) == 2}


def imports_clean_abandoned() -> int:
    """Page imports no job will finish (given up after repeated crashes) fail and their files are removed;
    so are stray uploads no job refers to. Returns how many files were removed."""
    from django_tasks_db.compat import TaskResultStatus

    # Batches first, then jobs: a batch commits with its job, so a batch seen here has its job seen below.
    running = list(ImportBatch.objects.filter(source="page", status=ImportBatch.Status.RUNNING).values_list("id", flat=True))
    folder = Path(settings.MEDIA_ROOT) / "imports"
    stored = [path for path in folder.iterdir() if path.is_file()] if folder.is_dir() else []
    if not running and not stored:
        return 0  # the usual case, every worker round: nothing to look at, and no query of the job table
    live = _import_jobs([TaskResultStatus.READY, TaskResultStatus.RUNNING])
    removed = 0
    abandoned = [batch_id for batch_id in running if batch_id not in live]
    files = _import_jobs([TaskResultStatus.FAILED]) if abandoned else {}
    for batch_id in abandoned:
        with transaction.atomic():
            batch = ImportBatch.objects.select_for_update().filter(id=batch_id, status=ImportBatch.Status.RUNNING).first()
            if batch is None:
                continue  # finished meanwhile by its own job
            batch_finish(batch=batch, result=None, error="ABANDONED")
        logger.error("page import %s abandoned: no worker will finish it", batch_id)
        if batch_id in files and os.path.exists(files[batch_id]):
            remove_upload(files[batch_id])
            removed += 1
    wanted = set(live.values())
    for path in stored:
        if str(path) not in wanted and path.exists() and time.time() - path.stat().st_mtime >= ORPHAN_AFTER_SECONDS:
            remove_upload(str(path))
            removed += 1
    return removed
