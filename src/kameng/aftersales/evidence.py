"""Evidence files: what a buyer (or the platform itself) puts on record for a refund.

A file's type is decided by its bytes, never by its name or the client's content type, so an
executable or a web page renamed `.jpg` can never be stored and later served as something it
is not. Images are re-encoded, which drops EXIF (GPS position, camera serial) and anything
hidden after the picture. Files are content-addressed (`<sha256>.<ext>`), written once,
made read-only, and never overwritten or deleted: a dispute may be looked at years later
(电子商务法 第31条), and `evidence_open` proves the bytes are still the ones received.
"""

import hashlib
import io
import json
import os
import secrets
import tempfile
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.db import models
from PIL import Image, ImageOps

from kameng.core import body_limits, clock, config
from kameng.core.errors import Conflict, DomainError, Invalid

from .models import Evidence, Refund

MB = 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
# Pillow warns above this and refuses above twice this; `_reencode` turns both into a refusal.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

NAME_MAX = 200
SOURCES = ("buyer", "staff", "platform")
# Text that a browser would sniff as markup is refused: evidence is shown back to staff.
_MARKUP = ("<!doctype", "<html", "<head", "<body", "<script", "<iframe", "<svg", "<?xml", "<object", "<embed")


@dataclass(frozen=True)
class FileType:
    kind: str
    content_type: str
    ext: str
    max_size: int
    pil_format: str = ""


PNG = FileType("image", "image/png", "png", 10 * MB, "PNG")
JPEG = FileType("image", "image/jpeg", "jpg", 10 * MB, "JPEG")
WEBP = FileType("image", "image/webp", "webp", 10 * MB, "WEBP")
MP4 = FileType("video", "video/mp4", "mp4", 50 * MB)
PDF = FileType("pdf", "application/pdf", "pdf", 20 * MB)
TEXT = FileType("text", "text/plain; charset=utf-8", "txt", 1 * MB)
RECORD = FileType("record", "application/json", "json", 20 * MB)
READ_LIMIT = max(t.max_size for t in (PNG, JPEG, WEBP, MP4, PDF, TEXT))


def _unsupported() -> Invalid:
    return Invalid("this file type is not accepted: use PNG, JPEG, WebP, MP4, PDF or plain text",
                   code="UNSUPPORTED_FILE_TYPE")


def _too_large(limit: int) -> DomainError:
    return DomainError(f"the file is larger than {limit // MB} MB", code="FILE_TOO_LARGE", status=413)


def _is_plain_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text):
        return False
    head = text.lstrip("\ufeff \t\r\n").lower()
    return not head.startswith("<") and not any(tag in head for tag in _MARKUP)


def _sniff_binary(data: bytes) -> FileType | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp":
        return MP4
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def sniff(data: bytes) -> FileType:
    """The type of `data` judged by its leading bytes (magic numbers) alone."""
    found = _sniff_binary(data)
    if found is not None:
        return found
    if _is_plain_text(data):
        return TEXT
    raise _unsupported()


HEAD = 16  # enough leading bytes for every magic number above


def _streaming_limit(head: bytes) -> int:
    """The most of a file starting with `head` worth receiving; refuses at once what can never pass."""
    found = _sniff_binary(head)
    if found is not None:
        return found.max_size
    try:
        head.decode("utf-8")
        text_start = head
    except UnicodeDecodeError as exc:  # a character cut at the end of the chunk is not an error
        text_start = head[:exc.start] if exc.start >= len(head) - 3 else b"\xff"
    if not _is_plain_text(text_start):
        raise _unsupported()
    return TEXT.max_size


class EvidenceUploadHandler(FileUploadHandler):
    """Takes an evidence file while it streams in and drops it as soon as it passes its type's limit.

    The type is known from the first bytes, so an image stops being received at 10 MB and a file
    that is no accepted type at all at its first chunk: nothing beyond a limit is held in memory or
    written to disk. The refusal travels with the file to `evidence_store`, which raises it, so the
    API and the pages answer 413 / 422 as for any other refusal. Other uploads pass through.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.active = request is not None and body_limits.upload_kind(request.path_info) == "evidence"

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if not self.active:
            return
        self.buffer = tempfile.SpooledTemporaryFile(max_size=MB)
        self.head, self.limit, self.size, self.refusal = b"", None, 0, None
        raise StopFutureHandlers  # this handler alone takes the file

    def receive_data_chunk(self, raw_data, start):
        if not self.active:
            return raw_data
        if self.refusal is not None:
            return None  # the rest of the file is read past, never kept
        self.size += len(raw_data)
        try:
            if self.limit is None:
                self.head = (self.head + raw_data)[:HEAD]
                if len(self.head) >= HEAD or self.size > TEXT.max_size:
                    self.limit = _streaming_limit(self.head)
            if self.size > (self.limit or TEXT.max_size):
                raise _too_large(self.limit or TEXT.max_size)
        except DomainError as exc:
            self.refusal = exc
            self.buffer.close()
            return None
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size):
        if not self.active:
            return None
        if self.refusal is None:
            self.buffer.seek(0)
        upload = UploadedFile(file=self.buffer, name=self.file_name, content_type=self.content_type,
                              size=self.size, charset=self.charset)
        upload.refusal = self.refusal
        return upload


def _reencode(data: bytes, ftype: FileType) -> bytes:
    """Decode the picture fully and save its pixels again, upright and without metadata."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != ftype.pil_format or probe.width * probe.height > MAX_IMAGE_PIXELS:
                    raise _unsupported()
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except Invalid:
        raise
    except Exception as exc:  # corrupt data and decompression bombs alike; Pillow uses many types
        raise _unsupported() from exc
    # Only what the pixels need survives: EXIF, XMP, ICC, text chunks and comments are dropped.
    upright.info = {k: v for k, v in upright.info.items() if k == "transparency"}
    options = {"quality": 95} if ftype.pil_format in ("JPEG", "WEBP") else {}
    out = io.BytesIO()
    upright.save(out, format=ftype.pil_format, **options)
    return out.getvalue()


def _read_upload(uploaded_file) -> bytes:
    """Read at most READ_LIMIT + 1 bytes: nothing larger than the largest limit is ever held."""
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > READ_LIMIT:
        raise _too_large(READ_LIMIT)
    buffer = bytearray()
    chunks = uploaded_file.chunks() if hasattr(uploaded_file, "chunks") else [uploaded_file.read()]
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > READ_LIMIT:
            raise _too_large(READ_LIMIT)
    return bytes(buffer)


def clean_name(name: str | None) -> str:
    """The file's own name without any directory part or control characters, at most 200 chars."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return "" if base in (".", "..") else base[:NAME_MAX]


def _store_bytes(*, refund_id: int, data: bytes, ext: str) -> tuple[str, str]:
    """Write `data` once as evidence/<refund>/<sha256>.<ext>; returns (relative path, sha256).

    The bytes go to a private temporary file first and are hard-linked into place, so a crash
    never leaves a half-written file under the final name, and an existing file is never replaced.
    """
    digest = hashlib.sha256(data).hexdigest()
    relative = PurePosixPath("evidence", str(refund_id), f"{digest}.{ext}")
    final = config.data_dir() / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        temporary = final.with_name(f".{digest}.{secrets.token_hex(8)}.tmp")
        try:
            with open(temporary, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o400)  # read-only, and the owner's alone
            try:
                os.link(temporary, final)
            except FileExistsError:
                pass  # another request stored the same bytes first
        finally:
            temporary.unlink(missing_ok=True)
    if _sha256_file(final) != digest:
        raise RuntimeError(f"stored evidence {relative} does not match its SHA-256")
    return str(relative), digest


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MB), b""):
            digest.update(block)
    return digest.hexdigest()


def _save(*, refund: Refund, uploader, source: str, ftype: FileType, data: bytes, name: str,
          received: bytes | None = None) -> Evidence:
    path, digest = _store_bytes(refund_id=refund.id, data=data, ext=ftype.ext)
    received = data if received is None else received
    return Evidence.objects.create(
        refund=refund, uploaded_by=uploader, source=source, kind=ftype.kind, content_type=ftype.content_type,
        original_name=clean_name(name), size=len(data), sha256=digest, storage_path=path,
        received_at=clock.now(), received_sha256=hashlib.sha256(received).hexdigest(), received_size=len(received),
    )


def _refuse_duplicate(refund: Refund, *digests: str, name: str) -> None:
    """The same bytes twice in one refund add nothing but noise for the reviewer: 409 DUPLICATE_EVIDENCE.

    Compared with what was sent and with what was stored, so a photo sent again with other EXIF (the same
    picture once re-encoded) is a duplicate too. A file the buyer removed may be sent again.
    """
    live = refund.evidence.filter(removal__isnull=True)
    for digest in digests:
        first = live.filter(models.Q(sha256=digest) | models.Q(received_sha256=digest)).order_by("id").first()
        if first is not None:
            raise Conflict(f"this file is already on record for this refund (evidence {first.id})",
                           code="DUPLICATE_EVIDENCE", details={"evidence_id": first.id, "file": clean_name(name)})


def evidence_store(*, refund: Refund, uploader, uploaded_file, source: str = "buyer") -> Evidence:
    """Accept an uploaded file as evidence for `refund`, or refuse it (422 / 413)."""
    if source not in SOURCES:
        raise ValueError(f"unknown evidence source {source!r}")
    refusal = getattr(uploaded_file, "refusal", None)  # decided while it streamed in
    if refusal is not None:
        raise refusal
    data = _read_upload(uploaded_file)
    if not data:
        raise Invalid("the file is empty", code="EMPTY_FILE")
    ftype = sniff(data)
    if len(data) > ftype.max_size:
        raise _too_large(ftype.max_size)
    name = getattr(uploaded_file, "name", "")
    received = data
    _refuse_duplicate(refund, hashlib.sha256(received).hexdigest(), name=name)
    if ftype.kind == "image":
        data = _reencode(data, ftype)
        _refuse_duplicate(refund, hashlib.sha256(data).hexdigest(), name=name)
    return _save(refund=refund, uploader=uploader, source=source, ftype=ftype, data=data, name=name,
                 received=received)


def canonical_json(payload) -> bytes:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def evidence_record(*, refund: Refund, name: str, payload: dict) -> Evidence:
    """Put one of the platform's own records (a delivery log, a key's reveal history) on file."""
    data = canonical_json(payload)
    base = clean_name(name) or "record"
    filename = base if base.endswith(".json") else f"{base}.json"
    return _save(refund=refund, uploader=None, source="platform", ftype=RECORD, data=data, name=filename)


def evidence_path(evidence: Evidence) -> Path:
    root = config.data_dir()
    path = (root / evidence.storage_path).resolve()
    if not path.is_relative_to(root):
        raise RuntimeError(f"evidence {evidence.id} points outside the data directory")
    return path


def evidence_file(evidence: Evidence):
    """The stored file, open at its start, once a pass over it in 1 MB blocks has shown it still has
    the SHA-256 recorded when it was received: a large file is checked and then sent, never held."""
    try:
        handle = open(evidence_path(evidence), "rb")  # noqa: SIM115  (the caller closes it)
    except FileNotFoundError as exc:
        raise RuntimeError(f"evidence {evidence.id} is missing from storage") from exc
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(MB), b""):
        digest.update(block)
    if digest.hexdigest() != evidence.sha256:
        handle.close()
        raise RuntimeError(f"evidence {evidence.id} was altered: its SHA-256 no longer matches")
    handle.seek(0)
    return handle


def evidence_open(evidence: Evidence) -> bytes:
    """The stored bytes, after checking they still have the SHA-256 recorded when received."""
    with evidence_file(evidence) as handle:
        return handle.read()


# Shown in the browser only when the browser cannot run anything in it: pictures and PDF. Everything else
# (text, video, the platform's JSON records) is a download. HTML and SVG are never accepted at all.
INLINE_TYPES = frozenset({PNG.content_type, JPEG.content_type, WEBP.content_type, PDF.content_type})
THUMBNAIL_EDGE = 320


def shown_inline(evidence: Evidence) -> bool:
    return evidence.content_type in INLINE_TYPES


def evidence_thumbnail(evidence: Evidence) -> tuple[bytes, str]:
    """A small picture of an image's stored copy (its hash checked first) for the case pages: (bytes, type)."""
    if evidence.kind != "image":
        raise Invalid("only pictures have a thumbnail", code="NO_THUMBNAIL")
    data = evidence_open(evidence)
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
        out = io.BytesIO()
        if image.mode in ("RGBA", "LA", "P"):
            image.save(out, format="PNG", optimize=True)
            return out.getvalue(), PNG.content_type
        image.convert("RGB").save(out, format="JPEG", quality=80)
        return out.getvalue(), JPEG.content_type
