"""Starting a page import: store the upload, count its lines, open the batch, queue the job."""

import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction

from kameng.catalog.selectors import product_for_manager
from kameng.core.errors import Conflict
from kameng.inventory.models import ImportBatch
from kameng.inventory.services import batch_start

from .tasks import import_key_file


def _store(upload) -> tuple[Path, int]:
    """Write the upload under MEDIA_ROOT/imports and count lines as the reader will see them."""
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.txt"
    lines = 0
    last = b""
    with open(path, "wb") as out:
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
