"""The pages: the public figures (Chinese and English), the wallet history, the export button."""

import io
import zipfile

from django.core.cache import cache

from kameng.aftersales.dossier import dossier_verify


def test_transparency_page_is_public_and_speaks_both_languages(client, db):
    cache.clear()
    page = client.get("/transparency/")
    assert page.status_code == 200 and "售后透明度" in page.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/transparency/"})
    english = client.get("/transparency/").content.decode()
    assert "Refund transparency" in english and "How these are counted" in english


def test_wallet_history_page_and_export_button(client, buyer, fund_wallet, make_user):
    fund_wallet(buyer, 250)
    client.force_login(buyer)
    page = client.get("/wallet/history/").content.decode()
    assert "平台赠送" in page and "+¥2.50" in page and 'id="export-button"' in page
    assert client.get("/me/export/").status_code == 405  # a button (POST): reading keys is recorded
    answer = client.post("/me/export/")
    content = b"".join(answer.streaming_content)
    assert answer["Content-Disposition"].startswith("attachment;") and dossier_verify(content)
    assert "wallet.csv" in zipfile.ZipFile(io.BytesIO(content)).namelist()
    client.force_login(make_user("supplier"))
    assert client.get("/wallet/history/").status_code == 403
    assert client.post("/me/export/").status_code == 403
