"""The dossier's PDF embeds from a cut-down copy of the Chinese face kept in the data directory
(aftersales/pdf_font.py): same text, correct Chinese, and a character outside the copy still printed (from
the full face). The working set is made small here so the copy is built in a moment."""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kameng.aftersales import pdf_font
from kameng.aftersales.dossier_pdf import summary_pdf
from kameng.aftersales.models import Refund
from kameng.core import clock

from .conftest import ask
from .test_dossier_pdf import jpeg, pdf_text


@pytest.fixture
def cache_on(settings, tmp_path, monkeypatch):
    settings.KAMENG_PDF_FONT_CACHE = True
    settings.DATA_DIR = tmp_path
    return tmp_path


def _summary(refund_id) -> bytes:
    refund = Refund.objects.select_related("order", "buyer").get(id=refund_id)
    return summary_pdf(refund=refund, evidence=list(refund.evidence.order_by("id")))


@pytest.fixture
def claim(bought):
    api, order = bought(reveal=True)
    refund = ask(api, order, "invalid_key").json()
    api.client.post(f"/api/v1/refunds/{refund['id']}/evidence",
                    {"file": SimpleUploadedFile("兑换失败截图.jpg", jpeg())}, headers=api.headers)
    return refund["id"]


def test_a_summary_from_the_cut_down_font_reads_the_same(claim, cache_on, monkeypatch, settings):
    # Both summaries print the moment they are made: the same moment, so a minute turning between the
    # two renders cannot tell them apart (CI once saw 13:02 against 13:03).
    moment = clock.real_now()
    monkeypatch.setattr(clock, "real_now", lambda: moment)
    settings.KAMENG_PDF_FONT_CACHE = False
    full = _summary(claim)
    text = pdf_text(full)
    settings.KAMENG_PDF_FONT_CACHE = True
    # A working set of exactly what this summary says (the real one is GB 2312 and more).
    monkeypatch.setattr(pdf_font, "working_set", lambda: frozenset(ord(c) for c in text if c != "\n"))
    target = pdf_font.cache_path()
    assert pdf_font.build(target)
    assert target.is_file() and target.parent == cache_on / "fonts"
    assert pdf_font.font_for_summary() == (str(target), 0, True)

    fast = _summary(claim)
    assert pdf_text(fast) == text  # every character there, the same
    assert "退款证据包摘要" in text and "兑换失败截图.jpg" in text


def test_a_character_outside_the_cut_down_font_comes_from_the_full_face(claim, cache_on, monkeypatch):
    monkeypatch.setattr(pdf_font, "working_set", lambda: frozenset(map(ord, "0123456789")))
    assert pdf_font.build(pdf_font.cache_path())
    text = "".join(pdf_text(_summary(claim)).split())
    assert "退款证据包摘要" in text and "卡密无效" in text and "北京时间" in text


def test_the_first_summary_starts_the_copy_in_another_process_and_is_not_held_up(claim, cache_on):
    target = pdf_font.cache_path()
    assert not target.exists()
    path, _index, cut_down = pdf_font.font_for_summary()
    assert not cut_down and path == pdf_font.cjk_font()[0]  # the full face meanwhile
    builder = pdf_font._builder
    assert builder is not None and builder.pid != os.getpid()
    pdf_font.font_for_summary()  # asked again while it builds: no second builder
    assert pdf_font._builder is builder
    assert builder.wait(timeout=300) == 0
    assert target.is_file() and not list(target.parent.glob("*.building")) and not list(target.parent.glob("*.part"))
    assert pdf_font.font_for_summary()[2] is True


def test_another_builder_at_work_is_left_alone(cache_on):
    target = pdf_font.cache_path()
    target.parent.mkdir(parents=True)
    target.with_suffix(".building").touch()
    assert pdf_font.build(target, chars={ord("a")}) is False and not target.exists()
