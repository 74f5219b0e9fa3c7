"""Evidence done right: asked for when the rule needs it, several files at once, duplicates refused,
removal before review kept on record, both hashes kept, files served as data."""

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from kameng.aftersales.models import Evidence, EvidenceRemoval, RefundEvent

from .conftest import ask


def photo(colour=(200, 30, 30), exif=False):
    image = Image.new("RGB", (64, 48), colour)
    buffer = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "CameraMaker"  # Make
        data[0x0131] = "GPS-tagging phone"  # Software
        image.save(buffer, format="JPEG", exif=data.tobytes())
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def post_files(api, refund_id, parts):
    return api.client.post(f"/api/v1/refunds/{refund_id}/evidence", parts, headers=api.headers)


def test_an_evidence_reason_without_a_file_is_marked_waiting_for_evidence_with_a_deadline(bought):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    assert refund["needs_evidence"] and refund["awaiting_evidence"]
    assert refund["evidence_due_at"].endswith("+08:00")  # 24 h (the info-reply time) after submitting
    uploaded = post_files(api, refund["id"], {"file": SimpleUploadedFile("shot.png", photo())})
    assert uploaded.status_code == 201, uploaded.content
    assert not api.get(f"/refunds/{refund['id']}").json()["awaiting_evidence"]


def test_several_files_in_one_upload_and_one_file_as_before(bought):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    one = post_files(api, refund["id"], {"file": SimpleUploadedFile("a.png", photo((1, 2, 3)))})
    assert one.status_code == 201 and set(one.json()) >= {"id", "sha256", "received_at"}
    many = post_files(api, refund["id"], {"files": [SimpleUploadedFile("b.png", photo((4, 5, 6))),
                                                    SimpleUploadedFile("c.txt", "兑换页面提示：卡密不存在".encode())]})
    assert many.status_code == 201, many.content
    assert [f["name"] for f in many.json()["files"]] == ["b.png", "c.txt"]
    names = [e["name"] for e in api.get(f"/refunds/{refund['id']}").json()["evidence"] if e["source"] == "buyer"]
    assert names == ["a.png", "b.png", "c.txt"]


def test_a_duplicate_file_is_refused_with_409_and_nothing_is_stored(bought):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    first = post_files(api, refund["id"], {"file": SimpleUploadedFile("shot.png", photo())})
    again = post_files(api, refund["id"], {"file": SimpleUploadedFile("same-again.png", photo())})
    assert again.status_code == 409 and again.json()["error"]["code"] == "DUPLICATE_EVIDENCE"
    # All or none: a set holding a duplicate stores nothing, not even its new file.
    mixed = post_files(api, refund["id"], {"files": [SimpleUploadedFile("new.png", photo((9, 9, 9))),
                                                     SimpleUploadedFile("shot.png", photo())]})
    assert mixed.status_code == 409
    assert Evidence.objects.filter(source="buyer").count() == 1
    assert first.json()["id"] == Evidence.objects.get(source="buyer").id


def test_both_hashes_are_kept_when_a_photo_is_re_encoded_without_exif(bought):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    sent = photo(exif=True)
    answer = post_files(api, refund["id"], {"file": SimpleUploadedFile("IMG_0001.jpg", sent)}).json()
    assert answer["received_sha256"] == hashlib.sha256(sent).hexdigest()
    assert answer["sha256"] != answer["received_sha256"]  # the stored copy lost its EXIF
    row = [e for e in api.get(f"/refunds/{refund['id']}").json()["evidence"] if e["source"] == "buyer"][0]
    assert row["received_sha256"] == hashlib.sha256(sent).hexdigest() and row["received_size"] == len(sent)
    # The same photo with its EXIF sent again is the same picture: refused.
    again = post_files(api, refund["id"], {"file": SimpleUploadedFile("copy.jpg", sent)})
    assert again.status_code == 409


def test_a_buyer_removes_an_upload_until_a_reviewer_opens_the_case(bought, api_as, reviewer):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    wrong = post_files(api, refund["id"], {"file": SimpleUploadedFile("wrong.png", photo())}).json()
    removed = api.post(f"/refunds/{refund['id']}/evidence/{wrong['id']}/remove")
    assert removed.status_code == 200, removed.content
    row = [e for e in removed.json()["evidence"] if e["id"] == wrong["id"]][0]
    assert row["removed"] and row["removed_at"]  # kept on record, marked removed
    assert Evidence.objects.filter(id=wrong["id"]).exists() and EvidenceRemoval.objects.count() == 1
    assert [e["event"] for e in removed.json()["timeline"]][-1] == "evidence_removed"
    assert removed.json()["awaiting_evidence"]  # nothing live on file any more
    twice = api.post(f"/refunds/{refund['id']}/evidence/{wrong['id']}/remove")
    assert twice.status_code == 409
    # The same file may be sent again once removed.
    right = post_files(api, refund["id"], {"file": SimpleUploadedFile("right.png", photo())})
    assert right.status_code == 201
    # A reviewer opens the case: from now on the uploads stay as they are.
    assert api_as(reviewer).get(f"/staff/refunds/{refund['id']}").status_code == 200
    locked = api.post(f"/refunds/{refund['id']}/evidence/{right.json()['id']}/remove")
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "EVIDENCE_LOCKED"
    assert RefundEvent.objects.filter(event="opened").count() == 1
    api_as(reviewer).get(f"/staff/refunds/{refund['id']}")
    assert RefundEvent.objects.filter(event="opened").count() == 1  # recorded once


def test_the_database_still_refuses_to_change_or_delete_a_removal(bought):
    from django.db import DatabaseError, transaction
    from django.db.models import F

    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    wrong = post_files(api, refund["id"], {"file": SimpleUploadedFile("wrong.png", photo())}).json()
    api.post(f"/refunds/{refund['id']}/evidence/{wrong['id']}/remove")
    for attempt in (lambda: EvidenceRemoval.objects.all().delete(), lambda: Evidence.objects.all().delete(),
                    lambda: EvidenceRemoval.objects.update(removed_by=F("removed_by"))):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert EvidenceRemoval.objects.count() == 1


def test_someone_elses_evidence_cannot_be_removed(bought, api_as, make_user):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    mine = post_files(api, refund["id"], {"file": SimpleUploadedFile("a.png", photo())}).json()
    stranger = api_as(make_user("buyer"))
    assert stranger.post(f"/refunds/{refund['id']}/evidence/{mine['id']}/remove").status_code == 404
    platform_file = Evidence.objects.get(source="platform")
    assert api.post(f"/refunds/{refund['id']}/evidence/{platform_file.id}/remove").status_code == 404
    assert not EvidenceRemoval.objects.exists()
