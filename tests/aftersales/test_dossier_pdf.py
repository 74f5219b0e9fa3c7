"""The dossier's printable summary: a PDF a person can read, in Chinese with the font embedded, Beijing
times, the rules at purchase, the platform's records, the timeline, the evidence with thumbnails and how
to verify — and one more file in the signed manifest."""

import io
import json
import re
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream

from kameng.aftersales.dossier import dossier_verify
from kameng.aftersales.models import Refund
from kameng.core.times import for_person

from .conftest import ask


def _to_unicode(font) -> dict[int, str]:
    data = font["/ToUnicode"].get_object().get_data().decode("latin1")
    mapping = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(src, 16)] = bytes.fromhex(dst).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", data, re.S):
        for low, high, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = ord(bytes.fromhex(dst).decode("utf-16-be"))
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(start + offset)
    return mapping


def pdf_text(data: bytes) -> str:
    """The text a reader copies out of the PDF: each shown string's two-byte codes through the font's
    ToUnicode map (pypdf's own extraction reads fpdf2's embedded CID encoding one byte at a time)."""
    reader = PdfReader(io.BytesIO(data))
    out = []
    for page in reader.pages:
        maps = {name: _to_unicode(font.get_object()) for name, font in page["/Resources"]["/Font"].items()}
        current = {}
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"Tf":
                current = maps[operands[0]]
                continue
            if operator == b"Tj":
                strings = [operands[0]]
            elif operator == b"TJ":
                strings = [item for item in operands[0] if not isinstance(item, (int, float))]
            else:
                continue
            for string in strings:
                raw = getattr(string, "original_bytes", None) or bytes(string)
                out.append("".join(current.get(int.from_bytes(raw[i:i + 2], "big"), "")
                                   for i in range(0, len(raw) - 1, 2)))
        out.append("\n")
    return "".join(out)


def jpeg():
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 90, 200)).save(out, format="JPEG")
    return out.getvalue()


def test_the_dossier_has_a_signed_printable_summary_in_chinese(bought):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    api.client.post(f"/api/v1/refunds/{refund['id']}/evidence",
                    {"file": SimpleUploadedFile("兑换失败截图.jpg", jpeg())}, headers=api.headers)
    answer = api.get(f"/refunds/{refund['id']}/dossier")
    content = b"".join(answer.streaming_content)
    assert dossier_verify(content)
    archive = zipfile.ZipFile(io.BytesIO(content))
    manifest = json.loads(archive.read("manifest.json"))
    assert "summary.pdf" in {f["name"] for f in manifest["files"]}  # signed like every other file
    data = archive.read("summary.pdf")
    assert len(data) < 400_000  # the font is subset, not the whole 20 MB collection

    reader = PdfReader(io.BytesIO(data))
    text = "".join(pdf_text(data).split())
    row = Refund.objects.get(id=refund["id"])
    for expected in ("退款证据包摘要", row.refund_no, order["order_no"], "当事人", "购买时的规则", "售后期限",
                     "平台自己的记录", "处理时间线", "提交申请", "证据清单", "兑换失败截图.jpg", "如何验证", "manifest.sig",
                     "卡密无效", "北京时间"):
        assert expected in text, expected
    # Times are Beijing time, as on the pages (submitted 08:00 later than its UTC clock reading).
    assert for_person(row.submitted_at).replace(" ", "") in text
    utc = row.submitted_at.strftime("%Y-%m-%d%H:%M")
    assert utc == for_person(row.submitted_at).replace(" ", "") or utc not in text
    # Both hashes of the picture and a thumbnail of it.
    buyer_file = row.evidence.get(source="buyer")
    assert buyer_file.sha256 in text and buyer_file.received_sha256 in text
    images = [image for page in reader.pages for image in page.images]
    assert images, "the evidence list shows a thumbnail"

    # The Chinese font is embedded (a subset), not referenced.
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", []):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                fonts.append((str(font["/BaseFont"]), any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
    assert fonts and all(embedded for _name, embedded in fonts)
    assert all(re.match(r"/[A-Z]{6}\+", name) for name, _embedded in fonts)  # subset tag
