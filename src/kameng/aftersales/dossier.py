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
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder

from kameng.core import clock, signing

from .evidence import evidence_open
from .models import Refund

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
EVIDENCE_INDEX = "evidence.json"
README = "README.txt"
_RESERVED = {"evidence", "manifest", "public_key", "readme"}
_SECTION_NAME = re.compile(r"^[a-z0-9_]{1,50}$")

README_TEXT = """\
退款证据包 / Refund dossier
================================

退款单号 / Refund: {refund_no}
订单号 / Order: {order_no}
生成时间 / Generated: {generated_at}

【内容】
  *.json（evidence.json 除外）  平台记录：订单快照（下单时的商品页与售后规则）、支付、发货、
                               卡密查看记录、处理时间线、双方留言与退款单本身
  evidence/                     买家上传的证据与平台自动附上的记录，保持收到时的原始字节
  evidence.json                 证据清单：来源、类型、原文件名、大小、SHA-256、接收时间
  manifest.json                 包内每个文件的 SHA-256 与大小，以及退款单号、订单号、生成时间
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
                                 numbers and the time this dossier was generated
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


def _evidence_entries(refund: Refund) -> tuple[list[dict], dict[str, bytes]]:
    index, files = [], {}
    for item in refund.evidence.order_by("id"):
        ext = item.storage_path.rsplit(".", 1)[-1]
        name = f"evidence/{item.id}_{item.sha256[:16]}.{ext}"
        files[name] = evidence_open(item)  # refuses to package a file that was altered
        index.append({
            "id": item.id, "file": name, "source": item.source, "kind": item.kind,
            "content_type": item.content_type, "original_name": item.original_name, "size": item.size,
            "sha256": item.sha256, "received_at": item.received_at.isoformat(),
        })
    return index, files


def _section_files(sections: dict) -> dict[str, bytes]:
    files = {}
    for name, payload in sections.items():
        if not _SECTION_NAME.match(name) or name in _RESERVED:
            raise ValueError(f"invalid dossier section name {name!r}")
        files[f"{name}.json"] = _json_bytes(payload)
    return files


def dossier_build(*, refund: Refund, sections: dict) -> bytes:
    """The signed ZIP for `refund`; `sections` are the caller's JSON-ready records by name."""
    generated_at = clock.now()
    index, evidence_files = _evidence_entries(refund)
    files = _section_files(sections)
    files[EVIDENCE_INDEX] = _json_bytes(index)
    files.update(evidence_files)
    files[README] = README_TEXT.format(
        refund_no=refund.refund_no, order_no=refund.order.order_no, generated_at=generated_at.isoformat()
    ).encode("utf-8")
    files[PUBLIC_KEY] = signing.public_key_pem().encode("ascii")
    manifest = _json_bytes({
        "refund_no": refund.refund_no,
        "order_no": refund.order.order_no,
        "generated_at": generated_at.isoformat(),
        "algorithm": signing.ALGORITHM,
        "signature_file": SIGNATURE,
        "public_key_file": PUBLIC_KEY,
        "files": [{"name": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in files.items()],
    })
    files[MANIFEST] = manifest
    files[SIGNATURE] = signing.sign(manifest).encode("ascii")

    stamp = generated_at.astimezone(UTC).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


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
