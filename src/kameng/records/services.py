"""`GET /me/export`: one export per buyer at a time, and every export recorded.

The first request creates the build row under the buyer's lock and streams the archive to the buyer
while writing it, encrypted, to a file. A second request while that build runs finds the row under
the same lock, waits for the build to finish and gets the same export — the same bytes, the same
signed manifest — read back from that file; it never starts a second one. The file holds card
secrets, so it is sealed with AES-GCM under a key kept in the row, and removed a few minutes later.
"""

import hashlib
import os
import struct
import time
from datetime import timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import transaction
from django.db.models import F, Q

from kameng.accounts.models import User
from kameng.core import clock, config, locks
from kameng.core.errors import Forbidden

from .archive import ExportPacker
from .models import BuyerExport

JOIN_WAIT_SECONDS = int(os.environ.get("KAMENG_EXPORT_JOIN_WAIT_SECONDS", "600"))
HEARTBEAT_SECONDS = 5  # the builder marks the row this often while it streams
STALE_SECONDS = 120  # a build silent this long died with its process: the next request starts afresh
KEEP_FILE = timedelta(minutes=10)  # how long a finished export's file stays for late joiners
POLL_SECONDS = 0.25
S = BuyerExport.Status


class ExportBusy(locks.Busy):
    code = "EXPORT_IN_PROGRESS"
    retry_after = 30


def _path(export_id: int):
    folder = config.data_dir() / "exports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{export_id}.zip.sealed"


def _frames_in(path, key: bytes):
    """The plaintext of a sealed file, frame by frame: [4-byte length][12-byte nonce][ciphertext]."""
    aead = AESGCM(key)
    with open(path, "rb") as handle:
        while header := handle.read(4):
            (length,) = struct.unpack(">I", header)
            nonce = handle.read(12)
            yield aead.decrypt(nonce, handle.read(length), None)


def export_files_forget(buyer_id: int | None = None) -> int:
    """Remove the sealed copies kept for joiners once KEEP_FILE has passed (one buyer's, or everyone's:
    the deadline sweep); a build silent past STALE_SECONDS died with its process and is marked failed."""
    now = clock.now()
    stale = BuyerExport.objects.filter(status=S.BUILDING, touched_at__lt=now - timedelta(seconds=STALE_SECONDS))
    old = BuyerExport.objects.filter(file_key__isnull=False).filter(
        Q(started_at__lt=now - KEEP_FILE) & ~Q(status=S.BUILDING) | Q(id__in=stale.values("id")))
    if buyer_id is not None:
        old = old.filter(buyer_id=buyer_id)
    ids = list(old.values_list("id", flat=True))
    for export_id in ids:
        _path(export_id).unlink(missing_ok=True)
    BuyerExport.objects.filter(id__in=ids, status=S.BUILDING).update(status=S.FAILED, finished_at=now)
    BuyerExport.objects.filter(id__in=ids).update(file_key=None)
    return len(ids)


def export_open(*, user: User, ip_address: str | None, user_agent: str):
    """(the export, its bytes as an iterator). Starts a build, or joins the one running for this buyer."""
    if not user.is_buyer:
        raise Forbidden("only a buyer has records to export", code="ROLE_FORBIDDEN")
    deadline = time.monotonic() + JOIN_WAIT_SECONDS
    joined = None
    while True:
        with transaction.atomic():
            locks.lock_one(User.objects.filter(id=user.id))  # one decision per buyer at a time
            if joined is None:
                now = clock.now()
                running = BuyerExport.objects.filter(buyer=user, status=S.BUILDING).first()
                if running is not None and running.touched_at < now - timedelta(seconds=STALE_SECONDS):
                    BuyerExport.objects.filter(id=running.id).update(status=S.FAILED, finished_at=now)
                    running = None
                if running is None:
                    export_files_forget(user.id)
                    export = BuyerExport.objects.create(buyer=user, started_at=now, touched_at=now,
                                                        file_key=AESGCM.generate_key(bit_length=256))
                    return export, _build(export, user=user, ip_address=ip_address, user_agent=user_agent)
                BuyerExport.objects.filter(id=running.id).update(served=F("served") + 1)
                joined = running.id
        export = BuyerExport.objects.get(id=joined)
        if export.status == S.DONE and export.file_key:
            return export, _frames_in(_path(export.id), bytes(export.file_key))
        if export.status == S.FAILED:  # the build we waited for broke off: build it ourselves
            joined = None
            continue
        if time.monotonic() > deadline:
            raise ExportBusy("your export is still being built; try again shortly")
        time.sleep(POLL_SECONDS)  # waiting for another request's build: a poll of one indexed row


def _build(export: BuyerExport, *, user, ip_address, user_agent):
    """Stream the archive while sealing a copy for joiners; record size and manifest hash at the end."""
    packer = ExportPacker(user=user, generated_at=export.started_at, ip_address=ip_address, user_agent=user_agent)
    aead = AESGCM(bytes(export.file_key))
    path = _path(export.id)
    size, beat = 0, time.monotonic()
    finished = False
    try:
        with open(path, "wb") as sealed:
            for block in packer.stream():
                nonce = os.urandom(12)
                ciphertext = aead.encrypt(nonce, block, None)
                sealed.write(struct.pack(">I", len(ciphertext)) + nonce + ciphertext)
                size += len(block)
                if time.monotonic() - beat > HEARTBEAT_SECONDS:
                    sealed.flush()
                    BuyerExport.objects.filter(id=export.id).update(touched_at=clock.now())
                    beat = time.monotonic()
                yield block
        BuyerExport.objects.filter(id=export.id).update(
            status=S.DONE, finished_at=clock.now(), touched_at=clock.now(), size=size,
            manifest_sha256=hashlib.sha256(packer.manifest).hexdigest(), orders=packer.counts["orders"])
        finished = True
    finally:
        if not finished:  # the buyer went away or something broke: recorded, and nobody waits for it
            BuyerExport.objects.filter(id=export.id).update(status=S.FAILED, finished_at=clock.now(), size=size,
                                                            file_key=None)
            path.unlink(missing_ok=True)
