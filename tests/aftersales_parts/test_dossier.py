"""The signed dossier: complete, verifiable with only the public key, and any change detected."""

import base64
import hashlib
import io
import json
import shutil
import subprocess
import tracemalloc
import zipfile
from datetime import datetime

import pytest

from kameng.aftersales.dossier import dossier_build, dossier_verify
from kameng.aftersales.evidence import evidence_open, evidence_path, evidence_record, evidence_store
from kameng.core import config, signing

PDF = b"%PDF-1.4\n%%EOF\n"
SECTIONS = {
    "order_snapshot": {"name": "点卡 10 元", "price": "10.00"},
    "payments": [{"payment_no": "P1", "amount": "10.00"}],
    "deliveries": [],
    "reveals": [{"at": "2025-01-01T00:00:00+08:00"}],
    "timeline": [{"event": "submitted"}],
    "messages": [{"body": "卡密无效"}],
    "refund": {"status": "submitted"},
}


@pytest.fixture
def dossier(refund, upload, make_image):
    evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload("shot.png", make_image("PNG")))
    evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload("bill.pdf", PDF))
    evidence_record(refund=refund, name="delivery_log", payload={"delivered": True})
    return dossier_build(refund=refund, sections=SECTIONS)


def rebuild(zip_bytes: bytes, change) -> bytes:
    """A copy of the ZIP with `change(name, data)` applied to every member's bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = change(name, source.read(name))
            if data is not None:
                target.writestr(name, data)
    return out.getvalue()


def test_dossier_contains_everything_and_verifies(refund, dossier):
    archive = zipfile.ZipFile(io.BytesIO(dossier))
    names = set(archive.namelist())
    assert {f"{section}.json" for section in SECTIONS} <= names
    assert {"evidence.json", "README.txt", "manifest.json", "manifest.sig", "public_key.pem"} <= names
    assert json.loads(archive.read("order_snapshot.json")) == SECTIONS["order_snapshot"]

    index = json.loads(archive.read("evidence.json"))
    assert len(index) == 3 == refund.evidence.count()
    for entry, evidence in zip(index, refund.evidence.order_by("id"), strict=True):
        assert archive.read(entry["file"]) == evidence_open(evidence)
        assert entry["sha256"] == evidence.sha256 and datetime.fromisoformat(entry["received_at"]) == evidence.received_at
        assert {"id", "source", "kind", "content_type", "original_name", "size"} <= entry.keys()

    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["refund_no"] == refund.refund_no and manifest["order_no"] == refund.order.order_no
    assert manifest["algorithm"] == "Ed25519" and manifest["generated_at"]
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == names - {"manifest.json", "manifest.sig"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(archive.read(name)).hexdigest()
    readme = archive.read("README.txt").decode()
    assert "如何校验" in readme and "How to verify" in readme and refund.refund_no in readme

    assert dossier_verify(dossier)
    assert dossier_verify(dossier, public_key_pem=signing.public_key_pem())


def test_one_flipped_byte_in_an_evidence_file_is_detected(dossier):
    def flip(name, data):
        if name.startswith("evidence/") and name.endswith(".pdf"):
            return data[:5] + bytes([data[5] ^ 0x01]) + data[6:]
        return data

    assert dossier_verify(rebuild(dossier, lambda n, d: d))  # rebuilding alone changes nothing
    assert not dossier_verify(rebuild(dossier, flip))


def test_other_changes_are_detected(dossier):
    def rehash_manifest(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["refund_no"] = "R-FORGED"
        return json.dumps(manifest).encode()

    assert not dossier_verify(rebuild(dossier, rehash_manifest))  # the signature no longer matches
    assert not dossier_verify(rebuild(dossier, lambda n, d: None if n == "evidence.json" else d))
    with_extra = io.BytesIO(dossier)
    with zipfile.ZipFile(with_extra, "a") as archive:
        archive.writestr("evidence/planted.txt", "not from the platform")
    assert not dossier_verify(with_extra.getvalue())
    assert not dossier_verify(b"not a zip")


def test_a_dossier_signed_with_another_key_is_refused_against_the_published_key(dossier, tmp_path, monkeypatch):
    published = signing.public_key_pem()
    monkeypatch.setenv("KAMENG_DATA_DIR", str(tmp_path / "other"))  # an impostor with a key of its own
    impostor_key = signing.public_key_pem().encode()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(dossier)).read("manifest.json"))
    for entry in manifest["files"]:
        if entry["name"] == "public_key.pem":
            entry.update(sha256=hashlib.sha256(impostor_key).hexdigest(), size=len(impostor_key))
    forged_manifest = json.dumps(manifest).encode()
    replacements = {"public_key.pem": impostor_key, "manifest.json": forged_manifest,
                    "manifest.sig": signing.sign(forged_manifest).encode()}
    forged = rebuild(dossier, lambda name, data: replacements.get(name, data))

    assert dossier_verify(forged)  # consistent in itself...
    assert not dossier_verify(forged, public_key_pem=published)  # ...but not signed by the platform


def manifest_of(zip_bytes: bytes) -> dict:
    return json.loads(zipfile.ZipFile(io.BytesIO(zip_bytes)).read("manifest.json"))


def test_an_altered_evidence_file_is_packaged_and_the_manifest_says_so(refund, upload):
    """Old code refused to build the dossier at all (a 500 for the buyer); it must state the change."""
    kept = evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload("a.pdf", PDF))
    altered = evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload("b.pdf", PDF + b"2"))
    path = evidence_path(altered)
    path.chmod(0o600)
    path.write_bytes(PDF + b"tampered")

    dossier = dossier_build(refund=refund, sections={})
    assert dossier_verify(dossier)  # the package itself is intact and signed: it is the record of now
    manifest = manifest_of(dossier)
    assert manifest["evidence_intact"] is False
    by_id = {entry["id"]: entry for entry in manifest["evidence_integrity"]}
    assert by_id[kept.id]["intact"] is True and by_id[kept.id]["sha256_now"] == kept.sha256
    changed = by_id[altered.id]
    assert changed["intact"] is False
    assert changed["sha256_at_receipt"] == altered.sha256 == hashlib.sha256(PDF + b"2").hexdigest()
    assert changed["sha256_now"] == hashlib.sha256(PDF + b"tampered").hexdigest()
    assert zipfile.ZipFile(io.BytesIO(dossier)).read(changed["file"]) == PDF + b"tampered"


def test_a_missing_evidence_file_is_stated_not_fatal(refund, upload):
    gone = evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload("c.pdf", PDF + b"3"))
    evidence_path(gone).unlink()
    dossier = dossier_build(refund=refund, sections={})
    assert dossier_verify(dossier)
    entry = manifest_of(dossier)["evidence_integrity"][0]
    assert entry["missing"] is True and entry["intact"] is False and entry["sha256_at_receipt"] == gone.sha256
    assert entry["file"] not in zipfile.ZipFile(io.BytesIO(dossier)).namelist()


def test_the_api_answers_an_altered_evidence_file_with_a_dossier_not_a_500(refund, upload, api_as):
    evidence = evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload("d.pdf", PDF + b"4"))
    evidence_path(evidence).chmod(0o600)
    evidence_path(evidence).write_bytes(b"%PDF-1.4 replaced")
    answer = api_as(refund.buyer).get(f"/refunds/{refund.id}/dossier")
    assert answer.status_code == 200
    dossier = b"".join(answer.streaming_content)
    assert dossier_verify(dossier) and manifest_of(dossier)["evidence_intact"] is False


def test_a_large_dossier_is_streamed_never_held_whole(refund, upload, api_as, tmp_path):
    video = b"\0\0\0\x18ftypmp42" + bytes(range(256)) * (30 * 4096)  # a 30 MB "MP4"
    evidence = evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload("clip.mp4", video))
    del video
    api = api_as(refund.buyer)
    out = tmp_path / "dossier.zip"
    # The printable summary is built before the first byte (a fixed cost: its font, whatever the evidence);
    # what must not grow with the evidence is the streaming that follows.
    answer = api.get(f"/refunds/{refund.id}/dossier")
    tracemalloc.start()
    try:
        assert answer.streaming
        with open(out, "wb") as handle:
            for chunk in answer.streaming_content:
                handle.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.stat().st_size > 30 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, f"{peak / 2**20:.0f} MB held to send a 30 MB dossier"
    dossier = out.read_bytes()
    assert dossier_verify(dossier) and manifest_of(dossier)["evidence_intact"] is True
    assert manifest_of(dossier)["evidence_integrity"][0]["sha256_now"] == evidence.sha256


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_readme_openssl_instructions_work(dossier, tmp_path):
    with zipfile.ZipFile(io.BytesIO(dossier)) as archive:
        archive.extractall(tmp_path)
    (tmp_path / "manifest.sig.bin").write_bytes(base64.b64decode((tmp_path / "manifest.sig").read_bytes()))
    result = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin",
         "-in", "manifest.json", "-sigfile", "manifest.sig.bin"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr


def test_signing_key_is_generated_once_and_verifiable():
    first = signing.public_key_pem()
    assert (config.data_dir() / signing.KEY_FILE).is_file()
    assert signing.public_key_pem() == first
    signature = signing.sign(b"data")
    assert signing.verify(b"data", signature, first)
    assert not signing.verify(b"datA", signature, first)
    assert not signing.verify(b"data", "not base64!", first)
    assert not signing.verify(b"data", signature, "not a key")


def test_signing_key_can_come_from_the_environment(monkeypatch):
    pem = signing._new_private_pem()
    monkeypatch.setenv("KAMENG_SIGNING_KEY_PEM", pem.replace("\n", "\\n"))
    assert signing.verify(b"x", signing.sign(b"x"), signing.public_key_pem())
    assert not (config.data_dir() / signing.KEY_FILE).exists()


def test_a_large_evidence_file_is_downloaded_as_a_stream(refund, upload):
    """Old code read the whole file into the answer; it is checked and sent in blocks now."""
    from django.test import Client

    video = b"\0\0\0\x18ftypmp42" + bytes(range(256)) * (30 * 4096)  # a 30 MB "MP4"
    evidence = evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload("clip.mp4", video))
    expected = hashlib.sha256(video).hexdigest()
    del video
    pages = Client()
    pages.force_login(refund.buyer)
    digest, size = hashlib.sha256(), 0
    tracemalloc.start()
    try:
        answer = pages.get(f"/refunds/{refund.id}/evidence/{evidence.id}/")
        assert answer.status_code == 200 and answer.streaming
        for chunk in answer.streaming_content:
            digest.update(chunk)
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == expected and size == evidence.size
    assert answer["Content-Type"] == "video/mp4" and "attachment" in answer["Content-Disposition"]
    assert peak < 8 * 1024 * 1024, f"{peak / 2**20:.0f} MB held to send a 30 MB file"
