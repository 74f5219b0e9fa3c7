"""Evidence: typed by content, images re-encoded without EXIF, stored once and checked by SHA-256."""

import hashlib
import io
import os
import stat
import zipfile

import pytest
from PIL import ExifTags, Image

from kameng.aftersales.evidence import (
    clean_name,
    evidence_open,
    evidence_path,
    evidence_record,
    evidence_store,
)
from kameng.core import config
from kameng.core.errors import DomainError

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def store(refund, upload, name, data):
    return evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=upload(name, data))


def refused(refund, upload, name, data) -> DomainError:
    with pytest.raises(DomainError) as caught:
        store(refund, upload, name, data)
    return caught.value


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (116.0, 23.0, 29.0)
    return exif


def test_png_with_gps_exif_is_stored_without_it(refund, upload, make_image):
    original = make_image("PNG", exif=gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test image has GPS

    evidence = store(refund, upload, "screenshot.png", original)

    stored = evidence_open(evidence)
    assert (evidence.kind, evidence.content_type) == ("image", "image/png")
    assert evidence.storage_path.endswith(".png")
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG" and image.size == (32, 24)
    assert not image.getexif() and "exif" not in image.info
    assert b"SpyCam" not in stored and b"eXIf" not in stored
    assert image.getpixel((0, 0)) == (200, 30, 30)


def test_jpeg_is_turned_upright_and_loses_exif(refund, upload, make_image):
    exif = gps_exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: shown rotated by 90°
    evidence = store(refund, upload, "photo.jpg", make_image("JPEG", size=(40, 20), exif=exif))

    image = Image.open(io.BytesIO(evidence_open(evidence)))
    assert image.format == "JPEG" and image.size == (20, 40)
    assert not image.getexif()


def test_webp_is_accepted_and_reencoded(refund, upload, make_image):
    evidence = store(refund, upload, "x.webp", make_image("WEBP"))
    assert evidence.content_type == "image/webp"
    assert Image.open(io.BytesIO(evidence_open(evidence))).format == "WEBP"


def test_type_comes_from_content_not_name(refund, upload):
    evidence = store(refund, upload, "photo.png", PDF)
    assert (evidence.kind, evidence.content_type) == ("pdf", "application/pdf")
    assert evidence.storage_path.endswith(".pdf")
    assert evidence.original_name == "photo.png"


def test_video_and_text_are_recognised(refund, upload):
    video = store(refund, upload, "clip.bin", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64)
    assert (video.kind, video.content_type) == ("video", "video/mp4")
    text = store(refund, upload, "chat.jpg", "卖家说卡密已用过\r\n\tok".encode())
    assert (text.kind, text.storage_path[-4:]) == ("text", ".txt")


def _zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "hello")
    return out.getvalue()


@pytest.mark.parametrize("data", [
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64,  # Windows EXE
    _zip_bytes(),
    b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    b"  \n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    b"hello <script>alert(1)</script>",
    b"\x7fELF\x02\x01\x01" + b"\x00" * 32,
    b"text with a NUL\x00 inside",
    b"\xff\xfe not utf-8 \x80\x81",
    b"\x89PNG\r\n\x1a\n" + b"this is not really a png",  # right magic, corrupt body
    b"\xff\xd8\xff\xe0" + b"garbage",
])
def test_disguised_or_unknown_files_are_refused(refund, upload, data):
    error = refused(refund, upload, "photo.jpg", data)
    assert (error.code, error.status) == ("UNSUPPORTED_FILE_TYPE", 422)


def test_decompression_bomb_is_refused(refund, upload):
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")  # 81 M pixels, a few KB compressed
    error = refused(refund, upload, "bomb.png", out.getvalue())
    assert error.code == "UNSUPPORTED_FILE_TYPE"


@pytest.mark.parametrize(("data", "limit_mb"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024), 10),
    (b"a" * (1024 * 1024 + 1), 1),
    (b"%PDF-" + b"\x00" * (20 * 1024 * 1024), 20),
])
def test_too_large_files_are_refused_with_413(refund, upload, data, limit_mb):
    error = refused(refund, upload, "big", data)
    assert (error.code, error.status) == ("FILE_TOO_LARGE", 413)
    assert f"{limit_mb} MB" in error.message


def test_a_huge_upload_is_refused_before_it_is_read(refund):
    class Huge:
        name, size = "huge.mp4", 60 * 1024 * 1024

        def chunks(self):
            raise AssertionError("must not be read")

    with pytest.raises(DomainError) as caught:
        evidence_store(refund=refund, uploader=refund.buyer, uploaded_file=Huge())
    assert (caught.value.code, caught.value.status) == ("FILE_TOO_LARGE", 413)


def test_empty_file_is_refused(refund, upload):
    error = refused(refund, upload, "empty.png", b"")
    assert error.status == 422


def test_sha256_and_storage(refund, upload):
    evidence = store(refund, upload, "bill.pdf", PDF)

    path = evidence_path(evidence)
    assert evidence.sha256 == hashlib.sha256(PDF).hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert evidence.size == len(PDF)
    assert evidence.storage_path == f"evidence/{refund.id}/{evidence.sha256}.pdf"
    assert path.is_relative_to(config.data_dir())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o400  # read-only, the owner's alone
    assert evidence.received_at is not None and evidence.source == "buyer"
    assert evidence_open(evidence) == PDF


def test_the_same_file_twice_is_refused_and_once_removed_reuses_the_stored_copy(refund, upload):
    from kameng.aftersales.models import EvidenceRemoval
    from kameng.core import clock
    from kameng.core.errors import Conflict

    first = store(refund, upload, "a.pdf", PDF)
    with pytest.raises(Conflict) as refused:
        store(refund, upload, "b.pdf", PDF)
    assert refused.value.code == "DUPLICATE_EVIDENCE"
    EvidenceRemoval.objects.create(evidence=first, removed_by=refund.buyer, removed_at=clock.now())
    second = store(refund, upload, "b.pdf", PDF)
    assert first.id != second.id and first.storage_path == second.storage_path
    assert sorted(p.name for p in evidence_path(first).parent.iterdir()) == [f"{first.sha256}.pdf"]


def test_tampered_file_is_detected(refund, upload):
    evidence = store(refund, upload, "bill.pdf", PDF)
    path = evidence_path(evidence)
    os.chmod(path, 0o640)
    path.write_bytes(PDF.replace(b"Catalog", b"Katalog"))
    with pytest.raises(RuntimeError):
        evidence_open(evidence)


def test_names_are_reduced_to_a_safe_basename():
    assert clean_name("../../etc/pass\x00wd.txt") == "passwd.txt"
    assert clean_name("C:\\Users\\me\\截图.png") == "截图.png"
    assert clean_name("..") == ""
    assert len(clean_name("a" * 500 + ".png")) == 200


def test_platform_record_is_canonical_json(refund):
    evidence = evidence_record(refund=refund, name="delivery_log", payload={"b": 1, "a": "卡密已发放"})
    assert (evidence.source, evidence.kind, evidence.content_type) == ("platform", "record", "application/json")
    assert evidence.uploaded_by is None and evidence.original_name == "delivery_log.json"
    assert evidence_open(evidence) == '{\n  "a": "卡密已发放",\n  "b": 1\n}'.encode()
