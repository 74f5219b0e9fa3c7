"""Evidence on the case pages: several files at once, thumbnails and an inline viewer served as data,
removal before review, 待补充证据 with its deadline, and hashes said truthfully."""

import io
import re

import pytest
from PIL import Image

from kameng.aftersales.models import Evidence, EvidenceRemoval, Refund

from .test_aftersales_pages import GOOD, order, png_bytes, upload  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 120, 200)).save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def case(order, client_as, buyer):  # noqa: F811
    """An invalid_key request made on the apply page without a file."""
    placed = order(reveal=True)
    client = client_as(buyer)
    response = client.post(f"/orders/{placed.order_no}/refund/", {
        "items": [i.id for i in placed.items.all()], "reason": "invalid_key", "description": GOOD,
        "destination": "original",
    }, follow=True)
    assert "此原因需要证据" in text(response)
    return client, Refund.objects.get()


def test_a_case_without_evidence_is_marked_waiting_with_its_deadline_for_buyer_and_reviewer(case, client_as, reviewer):
    client, refund = case
    page = text(client.get(f"/refunds/{refund.id}/"))
    box = re.search(r'id="evidence-needed".*?</section>', page, re.S).group(0)
    assert "待补充证据" in box and refund.evidence_due_at.astimezone().strftime("%Y-%m-%d %H:%M") in box
    staff = text(client_as(reviewer).get(f"/staff/refunds/{refund.id}/"))
    assert 'id="awaiting-evidence"' in staff
    client.post(f"/refunds/{refund.id}/evidence/", {"file": upload()})
    assert 'id="evidence-needed"' not in text(client.get(f"/refunds/{refund.id}/"))


def test_several_files_from_one_form_and_a_duplicate_named_in_the_message(case):
    client, refund = case
    response = client.post(f"/refunds/{refund.id}/evidence/",
                           {"file": [upload("a.png"), upload("b.jpg", jpeg_with_exif(), "image/jpeg")]}, follow=True)
    assert response.status_code == 200
    assert sorted(Evidence.objects.filter(source="buyer").values_list("original_name", flat=True)) == ["a.png", "b.jpg"]
    again = text(client.post(f"/refunds/{refund.id}/evidence/", {"file": upload("a-again.png")}, follow=True))
    assert "a-again.png" in again and "已经上传过" in again
    assert Evidence.objects.filter(source="buyer").count() == 2


def test_thumbnails_and_the_viewer_are_served_as_data_never_as_a_page(case, client_as, reviewer):
    client, refund = case
    client.post(f"/refunds/{refund.id}/evidence/", {"file": [upload("shot.jpg", jpeg_with_exif(), "image/jpeg"),
                                                             upload("note.txt", "提示：卡密不存在".encode(), "text/plain")]})
    photo = Evidence.objects.get(original_name="shot.jpg")
    note = Evidence.objects.get(original_name="note.txt")
    page = text(client.get(f"/refunds/{refund.id}/"))
    assert f'src="/refunds/{refund.id}/evidence/{photo.id}/thumb/"' in page
    assert f'id="view-{photo.id}"' in page and f'src="/refunds/{refund.id}/evidence/{photo.id}/view/"' in page
    for who, base in ((client, f"/refunds/{refund.id}"), (client_as(reviewer), f"/staff/refunds/{refund.id}")):
        thumb = who.get(f"{base}/evidence/{photo.id}/thumb/")
        assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
        shown = who.get(f"{base}/evidence/{photo.id}/view/")
        assert shown["Content-Type"] == "image/jpeg" and shown["Content-Disposition"].startswith("inline")
        for response in (thumb, shown):
            assert response["X-Content-Type-Options"] == "nosniff"
            assert "script-src" not in response["Content-Security-Policy"] or "'none'" in response["Content-Security-Policy"]
            assert "default-src 'none'" in response["Content-Security-Policy"]
        # Text is never shown inline, even when asked: it downloads.
        as_text = who.get(f"{base}/evidence/{note.id}/view/")
        assert as_text["Content-Disposition"].startswith("attachment")
        assert who.get(f"{base}/evidence/{note.id}/thumb/").status_code == 404


def test_the_page_says_which_hash_is_the_original_and_which_the_stored_copy(case):
    client, refund = case
    client.post(f"/refunds/{refund.id}/evidence/", {"file": [upload("shot.jpg", jpeg_with_exif(), "image/jpeg"),
                                                             upload("note.txt", "提示：卡密不存在".encode(), "text/plain")]})
    photo = Evidence.objects.get(original_name="shot.jpg")
    note = Evidence.objects.get(original_name="note.txt")
    page = text(client.get(f"/refunds/{refund.id}/"))
    card = re.search(rf'id="evidence-{photo.id}".*?</li>', page, re.S).group(0)
    assert "上传的原始文件 SHA-256" in card and photo.received_sha256 in card
    assert "平台保存的副本 SHA-256" in card and photo.sha256 in card and "EXIF" in card
    same = re.search(rf'id="evidence-{note.id}".*?</li>', page, re.S).group(0)
    assert "保存的文件与上传的原始文件相同" in same and note.sha256 in same


def test_the_buyer_removes_a_wrong_upload_until_the_reviewer_opens_the_case(case, client_as, reviewer):
    client, refund = case
    client.post(f"/refunds/{refund.id}/evidence/", {"file": [upload("wrong.png"),
                                                             upload("right.jpg", jpeg_with_exif(), "image/jpeg")]})
    wrong = Evidence.objects.get(original_name="wrong.png")
    right = Evidence.objects.get(original_name="right.jpg")
    page = text(client.post(f"/refunds/{refund.id}/evidence/{wrong.id}/remove/", follow=True))
    card = re.search(rf'id="evidence-{wrong.id}".*?</li>', page, re.S).group(0)
    assert "买家已撤下" in card and "remove-evidence" not in card
    assert "撤下证据" in page  # the timeline says so
    client_as(reviewer).get(f"/staff/refunds/{refund.id}/")  # the reviewer opens the case
    page = text(client.get(f"/refunds/{refund.id}/"))
    assert "remove-evidence" not in page
    client.post(f"/refunds/{refund.id}/evidence/{right.id}/remove/")
    assert list(EvidenceRemoval.objects.values_list("evidence_id", flat=True)) == [wrong.id]
