"""GET /me/export: everything about the buyer, signed like the dossier, streamed, recorded."""

import hashlib
import io
import json
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

from kameng.aftersales.dossier import dossier_verify
from kameng.core.signing import public_key_pem
from kameng.inventory.models import RevealRecord
from kameng.records.models import BuyerExport

from .conftest import ask


def _jsonl(archive, name):
    return [json.loads(line) for line in archive.read(name).decode("utf-8").splitlines()]


def _export(api):
    answer = api.get("/me/export")
    assert answer.status_code == 200, getattr(answer, "content", b"")[:300]
    assert answer.streaming and answer["Content-Type"] == "application/zip"
    return answer, b"".join(answer.streaming_content)


def test_export_holds_everything_and_verifies(bought, buyer, api_as, make_user):
    api, first = bought(quantity=2)
    _, second = bought(quantity=1)
    refund = ask(api, second, "invalid_key").json()
    api.post(f"/refunds/{refund['id']}/messages", {"body": "换了设备也不行，提示卡密错误。"})
    evidence = api.client.post(f"/api/v1/refunds/{refund['id']}/evidence",
                               {"file": SimpleUploadedFile("note.txt", "兑换失败的提示文字".encode())},
                               headers=api.headers)
    assert evidence.status_code == 201, evidence.content
    reveals_before = RevealRecord.objects.count()

    answer, content = _export(api)

    assert dossier_verify(content, public_key_pem=public_key_pem())
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = set(archive.namelist())
    assert {"README.txt", "profile.json", "orders.jsonl", "secrets.jsonl", "refunds.jsonl", "inbox.jsonl",
            "wallet.jsonl", "wallet.csv", "manifest.json", "manifest.sig", "public_key.pem"} <= names
    orders = {o["order_no"]: o for o in _jsonl(archive, "orders.jsonl")}
    assert set(orders) == {first["order_no"], second["order_no"]}
    assert orders[first["order_no"]]["snapshot"]["refund_policy"]  # the rules agreed to
    assert orders[first["order_no"]]["paid_at"].endswith("+08:00")
    # Delivered keys in clear for the owner, and each read recorded like a reveal; the item under a refund
    # request is held back, so its "never revealed" stays true while the request is decided.
    secrets = _jsonl(archive, "secrets.jsonl")
    assert len(secrets) == 2 and all(s["secret"].startswith("KEY-") for s in secrets)
    assert {s["order_no"] for s in secrets} == {first["order_no"]}
    assert RevealRecord.objects.count() == reveals_before + 2
    (refund_row,) = _jsonl(archive, "refunds.jsonl")
    assert refund_row["reason_label"] == "卡密无效"
    assert [e["event"] for e in refund_row["timeline"]][0] == "submitted"
    assert any("换了设备" in m["body"] for m in refund_row["messages"])
    buyer_file = [e for e in refund_row["evidence"] if e["source"] == "buyer"][0]
    assert archive.read(buyer_file["file"]).decode() == "兑换失败的提示文字"
    assert any(m["refund_no"] == refund["refund_no"] for m in _jsonl(archive, "inbox.jsonl"))
    wallet = _jsonl(archive, "wallet.jsonl")
    assert [w["label"] for w in wallet][:3] == ["平台赠送", "购买商品", "平台赠送"]
    csv_text = archive.read("wallet.csv").decode("utf-8-sig")
    assert "购买商品" in csv_text and "-¥20.00" in csv_text and "+08:00" not in csv_text
    manifest = archive.read("manifest.json")
    assert json.loads(manifest)["counts"]["orders"] == 2
    # Recorded: who, when, how big, which manifest.
    (record,) = BuyerExport.objects.all()
    assert (record.buyer_id, record.status, record.size) == (buyer.id, "done", len(content))
    assert record.manifest_sha256 == hashlib.sha256(manifest).hexdigest()
    assert answer["X-Export-Id"] == str(record.id)


def test_a_changed_byte_fails_the_check(bought):
    api, _ = bought()
    _, content = _export(api)
    archive = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as forged:
        for name in archive.namelist():
            data = archive.read(name)
            forged.writestr(name, data.replace(b"KEY-", b"KEY_") if name == "secrets.jsonl" else data)
    assert not dossier_verify(out.getvalue())


def test_only_the_buyer_and_only_their_own(bought, api_as, make_user):
    api, order = bought()
    other = api_as(make_user("buyer"))
    _, content = _export(other)
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.read("orders.jsonl") == b"" and archive.read("secrets.jsonl") == b""
    assert order["order_no"].encode() not in content
    refused = api_as(make_user("supplier")).get("/me/export")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ROLE_FORBIDDEN"
    assert api_as().get("/me/export").status_code == 401


def test_a_broken_off_download_is_recorded_and_the_next_one_builds_afresh(bought, buyer):
    from kameng.records.services import export_open

    api, _ = bought()
    _, stream = export_open(user=buyer, ip_address="127.0.0.1", user_agent="test")
    next(stream)
    stream.close()  # the buyer went away: the server closes the response's iterator
    assert BuyerExport.objects.get().status == "failed"
    _, content = _export(api)
    assert dossier_verify(content)
    assert list(BuyerExport.objects.order_by("id").values_list("status", flat=True)) == ["failed", "done"]


def test_the_kept_copy_is_removed_by_the_sweep_after_ten_minutes(bought, advance):
    from kameng.core import config

    api, _ = bought()
    _export(api)
    record = BuyerExport.objects.get()
    kept = config.data_dir() / "exports" / f"{record.id}.zip.sealed"
    assert kept.is_file() and b"KEY-" not in kept.read_bytes()  # sealed: no key in clear on disk
    advance(1)  # the sweep runs
    record.refresh_from_db()
    assert not kept.exists() and record.file_key is None and record.status == "done"


def test_the_exported_messages_read_in_the_buyers_language(bought, api_as):
    api, order = bought()
    assert api._call("patch", "/me", {"language": "en"}).status_code == 200
    refund = ask(api, order, "invalid_key").json()
    _, content = _export(api)
    told = [m for m in _jsonl(zipfile.ZipFile(io.BytesIO(content)), "inbox.jsonl") if m["refund_no"] == refund["refund_no"]]
    assert told and all(m["code"] and m["title"].endswith(f"({refund['refund_no']})") for m in told)
    assert not any("退款" in m["title"] + m["body"] for m in told)
