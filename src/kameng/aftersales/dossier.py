"""The refund dossier: everything about one refund in a single signed ZIP.

A buyer takes it to a payment platform's dispute desk or to a 12315 complaint; the platform uses
it when a supplier contests a decision. Whoever receives it must be able to trust it without
trusting us: `manifest.json` lists the SHA-256 of every file, `manifest.sig` is the platform's
Ed25519 signature of those exact bytes, and `public_key.pem` is the key to check it with
(compare it with the key the platform publishes). `dossier_verify` does that check.
"""

import hashlib
import io
import json
import re
import zipfile
import zlib

from django.core.serializers.json import DjangoJSONEncoder
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from kameng.core import clock, signing
from kameng.core.times import iso_beijing

from .dossier_pdf import summary_pdf
from .evidence import evidence_path
from .models import Refund

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
EVIDENCE_INDEX = "evidence.json"
README = "README.txt"
SUMMARY = "summary.pdf"  # the printable summary for a person; listed and signed like every other file
CHUNK = 1024 * 1024  # evidence is read and sent in blocks of this size
_RESERVED = {"evidence", "manifest", "public_key", "readme"}
_SECTION_NAME = re.compile(r"^[a-z0-9_]{1,50}$")

README_TEXT = """\
退款证据包 / Refund dossier
================================

先看 summary.pdf：可打印的中文摘要（当事人、订单、北京时间、购买时的规则、平台记录、时间线、证据清单与缩略图、
如何验证）。它和其他文件一样列在 manifest.json 中并被签名。
Start with summary.pdf: a printable summary, signed like every other file here.

退款单号 / Refund: {refund_no}
订单号 / Order: {order_no}
生成时间 / Generated: {generated_at}

【内容】
  *.json（evidence.json 除外）  平台记录：订单快照（下单时的商品页与售后规则）、支付、发货、
                               卡密查看记录、处理时间线、双方留言与退款单本身
  evidence/                     买家上传的证据与平台自动附上的记录，保持收到时的原始字节
  summary.pdf                   可打印的摘要（中文，北京时间）
  evidence.json                 证据清单：来源、类型、原文件名、大小、SHA-256（保存的副本与上传的原始文件）、
                               接收时间、买家撤下的时间
  manifest.json                 包内每个文件的 SHA-256 与大小，以及退款单号、订单号、生成时间；
                               evidence_integrity 逐一列出证据文件接收时记录的 SHA-256 与打包时的
                               SHA-256，两者不一致（intact 为 false）说明该文件在平台存储中被改动过
  manifest.sig                  平台对 manifest.json 原始字节的 Ed25519 签名（base64）
  public_key.pem                平台的签名公钥（请与平台公布的公钥核对）

【如何校验】
  1. 核对 public_key.pem 与平台公布的公钥一致。
  2. 验证签名（OpenSSL 3）：
       base64 -d manifest.sig > manifest.sig.bin
       openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.sig.bin
     输出 "Signature Verified Successfully" 即 manifest.json 未被改动。
  3. 逐一计算文件的 SHA-256（sha256sum <文件>），与 manifest.json 中的值比对。
     任何一个字节被改动，哈希都会不同。

[Contents]
  *.json (except evidence.json)  the platform's records: the order snapshot (the product page and
                                 refund rules the buyer agreed to), payments, deliveries, key
                                 reveals, the timeline, the messages and the refund itself
  evidence/                      files the buyer uploaded and records the platform attached,
                                 byte for byte as received
  evidence.json                  the evidence index: source, kind, original name, size, SHA-256,
                                 time received
  manifest.json                  SHA-256 and size of every file here, the refund and order
                                 numbers and the time this dossier was generated;
                                 evidence_integrity lists each evidence file's SHA-256 recorded
                                 when it was received beside its SHA-256 when packaged: a
                                 difference (intact false) means it changed in the platform's storage
  manifest.sig                   the platform's Ed25519 signature of the exact bytes of
                                 manifest.json (base64)
  public_key.pem                 the platform's public signing key (compare it with the key the
                                 platform publishes)

[How to verify]
  1. Check that public_key.pem is the key the platform publishes.
  2. Check the signature (OpenSSL 3):
       base64 -d manifest.sig > manifest.sig.bin
       openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.sig.bin
     "Signature Verified Successfully" means manifest.json is unchanged.
  3. Compute each file's SHA-256 (sha256sum <file>) and compare it with manifest.json.
     Changing a single byte of any file changes its hash.
"""


def _json_bytes(payload) -> bytes:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder).encode("utf-8")


def _section_files(sections: dict) -> dict[str, bytes]:
    files = {}
    for name, payload in sections.items():
        if not _SECTION_NAME.match(name) or name in _RESERVED:
            raise ValueError(f"invalid dossier section name {name!r}")
        files[f"{name}.json"] = _json_bytes(payload)
    return files


class _Packer:
    """Builds the archive while it is sent: small records first, then each evidence file read in
    1 MB blocks and hashed on the way, then the manifest, made only once every byte before it is
    known, and its signature. Nothing is held whole, so a 400 MB dossier costs a few megabytes."""

    def __init__(self, *, refund: Refund, sections: dict):
        # Everything from the database is read now, before the first byte leaves.
        self.generated_at = clock.now()
        self.refund_no, self.order_no = refund.refund_no, refund.order.order_no
        self.evidence = list(refund.evidence.select_related("removal").order_by("id"))
        for item in self.evidence:
            removal = getattr(item, "removal", None)  # the reverse one-to-one raises AttributeError when absent
            item.removed_at = removal.removed_at if removal else None
        self.packaged: list[dict] = []  # what is in the archive: name, sha256, size
        self.integrity: list[dict] = []  # each evidence file: hash at receipt against hash now
        self.small = _section_files(sections)
        self.small[EVIDENCE_INDEX] = _json_bytes([self._index_entry(item) for item in self.evidence])
        self.small[README] = README_TEXT.format(
            refund_no=self.refund_no, order_no=self.order_no, generated_at=iso_beijing(self.generated_at)
        ).encode("utf-8")
        self.small[PUBLIC_KEY] = signing.public_key_pem().encode("ascii")
        self.small[SUMMARY] = summary_pdf(refund=refund, evidence=self.evidence, generated_at=self.generated_at)
        self.manifest = b""

    @staticmethod
    def _archive_name(item) -> str:
        ext = item.storage_path.rsplit(".", 1)[-1]
        return f"evidence/{item.id}_{item.sha256[:16]}.{ext}"

    def _index_entry(self, item) -> dict:
        return {
            "id": item.id, "file": self._archive_name(item), "source": item.source, "kind": item.kind,
            "content_type": item.content_type, "original_name": item.original_name, "size": item.size,
            "sha256": item.sha256, "received_at": iso_beijing(item.received_at),
            # The bytes as the buyer sent them (a picture is re-encoded without EXIF; `sha256` is the copy here).
            "received_sha256": item.received_sha256, "received_size": item.received_size,
            "removed_at": iso_beijing(item.removed_at),
        }

    def _evidence_blocks(self, item, path):
        """The file's bytes as it is now, hashed on the way; runs when the archive reaches it."""
        record = self._record(item)
        digest, size = hashlib.sha256(), 0
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(block)
                    size += len(block)
                    yield block
        except FileNotFoundError:  # gone since the stream started: an empty entry, said to be missing
            record["missing"] = True
        now = digest.hexdigest()
        self.packaged.append({"name": self._archive_name(item), "sha256": now, "size": size})
        record.update(sha256_now=now, size_now=size, intact=now == item.sha256 and size == item.size)

    def _record(self, item) -> dict:
        record = {"id": item.id, "file": self._archive_name(item), "sha256_at_receipt": item.sha256,
                  "size_at_receipt": item.size}
        self.integrity.append(record)
        return record

    def _late(self, make):
        yield make()

    def _make_manifest(self) -> bytes:
        self.manifest = _json_bytes({
            "refund_no": self.refund_no,
            "order_no": self.order_no,
            "generated_at": iso_beijing(self.generated_at),
            "algorithm": signing.ALGORITHM,
            "signature_file": SIGNATURE,
            "public_key_file": PUBLIC_KEY,
            "files": self.packaged,
            # Stated, never hidden: a file changed in storage since it was received is packaged as it
            # is now, and this says so with both hashes.
            "evidence_intact": all(entry.get("intact") for entry in self.integrity),
            "evidence_integrity": sorted(self.integrity, key=lambda entry: entry["id"]),
        })
        return self.manifest

    def stream(self):
        archive = ZipStream(compress_type=ZIP_DEFLATED)
        for name, data in self.small.items():
            self.packaged.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
            archive.add(data, name)
        for item in self.evidence:
            try:
                path = evidence_path(item)
                readable = path.is_file()
            except RuntimeError:  # a stored path pointing outside the data directory
                readable = False
            if not readable:
                self._record(item).update(sha256_now=None, size_now=None, intact=False, missing=True)
                continue
            # Stored, not deflated: pictures, video and PDF are compressed already.
            archive.add(self._evidence_blocks(item, path), self._archive_name(item), compress_type=ZIP_STORED)
        archive.add(self._late(self._make_manifest), MANIFEST)
        archive.add(self._late(lambda: signing.sign(self.manifest).encode("ascii")), SIGNATURE)
        yield from archive


def dossier_stream(*, refund: Refund, sections: dict):
    """The signed ZIP for `refund`, as an iterator of bytes; `sections` are JSON-ready records by name.

    An evidence file whose bytes no longer match the hash recorded at receipt (or that is missing)
    never breaks the dossier: it is packaged as found and `manifest.json` says so
    (`evidence_intact`, and per file `sha256_at_receipt` against `sha256_now`).
    """
    return _Packer(refund=refund, sections=sections).stream()


def dossier_build(*, refund: Refund, sections: dict) -> bytes:
    """The whole dossier in memory: for tests and small callers; HTTP answers stream `dossier_stream`."""
    return b"".join(dossier_stream(refund=refund, sections=sections))


def _hash_member(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def dossier_verify(zip_bytes: bytes, *, public_key_pem: str | None = None) -> bool:
    """Whether the dossier is intact: a valid signature and every listed file unchanged.

    Without `public_key_pem` the key inside the ZIP is used, which proves the files were not
    changed after signing; pass the platform's published key to also prove who signed them.
    Extra or missing files fail the check as well.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            names = archive.namelist()
            if len(names) != len(set(names)):
                return False
            manifest = archive.read(MANIFEST)
            signature = archive.read(SIGNATURE).decode("ascii")
            embedded_key = archive.read(PUBLIC_KEY).decode("ascii")
            if public_key_pem is not None and public_key_pem.strip() != embedded_key.strip():
                return False
            if not signing.verify(manifest, signature, embedded_key):
                return False
            listed = json.loads(manifest)["files"]
            if {f["name"] for f in listed} != set(names) - {MANIFEST, SIGNATURE}:
                return False
            for entry in listed:
                if _hash_member(archive, entry["name"]) != (entry["sha256"], entry["size"]):
                    return False
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, UnicodeError, OSError, EOFError, zlib.error):
        return False
    return True
