"""The page import of a key file, run by the background worker."""

import logging
import os

from django.tasks import task

logger = logging.getLogger(__name__)


def _lines(path: str):
    # Same reading as `kameng import-keys`: bytes that are not UTF-8 become surrogates the rules reject.
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        for line in handle:
            yield line.rstrip("\r\n")


@task()
def import_key_file(batch_id: int, path: str) -> dict:
    from kameng.inventory.models import ImportBatch
    from kameng.inventory.services import batch_finish, keys_import_stream

    batch = ImportBatch.objects.select_related("imported_by").get(id=batch_id)
    try:
        if batch.status != ImportBatch.Status.RUNNING:
            return {}  # already ran (a retried job): never import the file twice
        _, result = keys_import_stream(
            actor=batch.imported_by, product_id=batch.product_id, lines=_lines(path), source="page", batch=batch
        )
        return result.as_dict()
    except Exception as exc:
        batch.refresh_from_db()
        if batch.status == ImportBatch.Status.RUNNING:  # refused before the import began
            batch_finish(batch=batch, result=None, error=getattr(exc, "code", type(exc).__name__))
        logger.warning("page import %s failed: %s", batch_id, type(exc).__name__)
        raise
    finally:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
