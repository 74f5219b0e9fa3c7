"""The page import of a key file, run by the background worker.

The uploaded file holds plaintext keys: it is removed as soon as the import ends or fails. A run cut
short by a crash leaves it for the re-run (the job returns to the queue when the worker's lease runs
out), which resumes where the last committed chunk ended; `imports_clean_abandoned` removes what no job
will ever read again.
"""

import logging
import os

from django.tasks import task

logger = logging.getLogger(__name__)


def _lines(path: str):
    # Same reading as `kameng import-keys`: bytes that are not UTF-8 become surrogates the rules reject.
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        for line in handle:
            yield line.rstrip("\r\n")


def remove_upload(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


@task()
def import_key_file(batch_id: int, path: str) -> dict:
    from kameng.inventory.importing import ImportSuperseded
    from kameng.inventory.models import ImportBatch
    from kameng.inventory.services import batch_finish, keys_import_stream

    batch = ImportBatch.objects.select_related("imported_by").get(id=batch_id)
    if batch.status != ImportBatch.Status.RUNNING:
        remove_upload(path)
        return {}  # already finished (a retried job): never import the file twice
    if batch.processed:
        logger.info("page import %s resumes after line %d", batch_id, batch.processed)
    try:
        _, result = keys_import_stream(
            actor=batch.imported_by, product_id=batch.product_id, lines=_lines(path), source="page", batch=batch
        )
    except ImportSuperseded:
        logger.warning("page import %s is being run by another worker; this run stops", batch_id)
        return {}  # that run finishes the batch and removes the file
    except Exception as exc:
        batch = ImportBatch.objects.get(id=batch_id)
        if batch.status == ImportBatch.Status.RUNNING:  # refused before the import began
            batch_finish(batch=batch, result=None, error=getattr(exc, "code", type(exc).__name__))
        remove_upload(path)
        logger.warning("page import %s failed: %s", batch_id, type(exc).__name__)
        raise
    remove_upload(path)
    return result.as_dict()
