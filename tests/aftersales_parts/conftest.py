import io
import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from kameng.aftersales.models import Refund
from kameng.core import clock
from kameng.orders.services import order_create

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path, monkeypatch):
    """Each test stores evidence and its signing key in a directory of its own."""
    monkeypatch.setenv("KAMENG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KAMENG_SIGNING_KEY_PEM", raising=False)


@pytest.fixture
def refund(buyer, make_product, fund_wallet):
    product = make_product(keys=2, price="10.00")
    fund_wallet(buyer, 10_000)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    return Refund.objects.create(
        refund_no=f"R{next(_numbers):010d}", order=order, buyer=buyer, reason="invalid_key",
        description="the key was refused", destination="wallet", amount_fen=1000, refund_amount_fen=1000,
        submitted_at=clock.now(),
    )


@pytest.fixture
def upload():
    def make(name, data, content_type="application/octet-stream"):
        return SimpleUploadedFile(name, data, content_type=content_type)

    return make


@pytest.fixture
def make_image():
    """Image bytes made in memory with Pillow, optionally carrying EXIF."""

    def make(fmt="PNG", size=(32, 24), exif=None, color=(200, 30, 30)) -> bytes:
        out = io.BytesIO()
        kwargs = {"exif": exif} if exif is not None else {}
        Image.new("RGB", size, color).save(out, format=fmt, **kwargs)
        return out.getvalue()

    return make
