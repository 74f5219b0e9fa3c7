"""Batch quarantine: a product's keys in import batches, buyers who claim some of them bad."""

import pytest

from kameng.aftersales.services import refund_create
from kameng.aftersales.supplier_claims import claim_accept
from kameng.inventory.models import ImportBatch
from kameng.inventory.services import keys_import_list
from kameng.orders.services import order_create, order_reveal

BAD = "在兑换页面输入卡密后提示“卡密无效”，时间 11 月 20 日 21:05，截图已上传。"


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.KAMENG_QUARANTINE_MIN_DEFECTS = 2
    settings.KAMENG_QUARANTINE_DEFECT_SHARE = "0.5"


@pytest.fixture
def product(make_product):
    """A card product whose first import is one batch of 10 keys."""
    return make_product(keys=10, price="10.00")


def batch_of(product, index=0) -> ImportBatch:
    return ImportBatch.objects.filter(product=product).order_by("id")[index]


def restock(supplier, product, count, tag="B"):
    """A second import: another batch of the same product."""
    keys_import_list(actor=supplier, product_id=product.id, keys=[f"KEY-{product.id}-{tag}-{i:04d}" for i in range(count)])
    return ImportBatch.objects.filter(product=product).order_by("-id").first()


@pytest.fixture
def buy(make_user, fund_wallet):
    """A new buyer buys `quantity` keys with the wallet (delivered at once) and reveals them."""

    def purchase(product, quantity=1, reveal=True):
        buyer = make_user("buyer")
        fund_wallet(buyer, 100_000)
        order = order_create(buyer=buyer, product_id=product.id, quantity=quantity, channel="wallet", accept_terms=True)
        if reveal:
            order_reveal(user=buyer, order_no=order.order_no)
        return buyer, order

    return purchase


@pytest.fixture
def claim_bad(buy, supplier):
    """Sell one key and have its claim approved (`invalid_key`, the supplier accepts): one proven defect."""

    def sell_and_prove(product, reason="invalid_key"):
        buyer, order = buy(product)
        refund = refund_create(buyer=buyer, order_no=order.order_no, reason=reason, description=BAD,
                               destination="wallet")
        return claim_accept(supplier=supplier, refund_id=refund.id, note="同意")

    return sell_and_prove
