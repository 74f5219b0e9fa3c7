import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from kameng.aftersales.dossier import dossier_verify

from .conftest import ask


def png_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(api, refund_id, name, data):
    return api.client.post(f"/api/v1/refunds/{refund_id}/evidence", {"file": SimpleUploadedFile(name, data)},
                           headers=api.headers)


def test_buyer_uploads_evidence_and_downloads_a_verifiable_dossier(bought):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    uploaded = upload(api, refund["id"], "screenshot.png", png_bytes())
    assert uploaded.status_code == 201, uploaded.content
    assert len(uploaded.json()["sha256"]) == 64 and uploaded.json()["received_at"]
    refused = upload(api, refund["id"], "virus.jpg", b"MZ\x90\x00 not an image at all")
    assert refused.status_code in (400, 415, 422) and refused.json()["error"]["code"] == "UNSUPPORTED_FILE_TYPE"
    detail = api.get(f"/refunds/{refund['id']}").json()
    assert [e["source"] for e in detail["evidence"]] == ["platform", "buyer"]

    dossier = api.get(f"/refunds/{refund['id']}/dossier")
    assert dossier.status_code == 200 and dossier["Content-Type"] == "application/zip"
    content = b"".join(dossier.streaming_content)  # streamed, never built whole
    assert dossier_verify(content)
    names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert {"manifest.json", "manifest.sig", "public_key.pem"} <= set(names)
    assert any(n.startswith("evidence/") for n in names)
    # No card secret ever travels in a dossier: deliveries carry references, not keys.
    secret = api.post(f"/orders/{order['order_no']}/reveal").status_code  # refund_pending: nothing to reveal
    assert secret == 409
    key_prefix = f"KEY-{order['product_id']}-".encode()
    for name in names:
        assert key_prefix not in zipfile.ZipFile(io.BytesIO(content)).read(name)


def test_evidence_on_a_finished_refund_is_refused(bought, api_as, reviewer):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key", destination="wallet").json()
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "ok"})
    response = upload(api, refund["id"], "late.png", png_bytes())
    assert response.status_code == 409


def test_evidence_files_per_refund_are_bounded(bought, monkeypatch):
    from kameng.aftersales import services

    monkeypatch.setattr(services, "MAX_EVIDENCE_FILES", 1)
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    assert upload(api, refund["id"], "one.png", png_bytes()).status_code == 201
    second = upload(api, refund["id"], "two.png", png_bytes())
    assert second.status_code == 409 and second.json()["error"]["code"] == "TOO_MANY_FILES"
