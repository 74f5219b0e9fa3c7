"""Two exports for one buyer at once: one build, both answered with the same signed archive."""

import threading

import pytest
from django.db import connections

from kameng.aftersales.dossier import dossier_verify
from kameng.records.models import BuyerExport
from tests.aftersales.conftest import bought  # noqa: F401, F811  (the purchase fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _served():
    return BuyerExport.objects.values_list("served", flat=True).first()


def test_a_second_export_while_one_is_built_gets_the_same_one(bought):  # noqa: F811
    api, _ = bought(quantity=3)
    first = api.get("/me/export")
    blocks = iter(first.streaming_content)
    head = next(blocks)  # the first build is under way: its row says "building"
    assert BuyerExport.objects.get().status == "building"

    second = {}

    def ask_again():
        try:
            answer = api.get("/me/export")
            second["content"] = b"".join(answer.streaming_content)
            second["id"] = answer["X-Export-Id"]
        finally:
            connections.close_all()

    thread = threading.Thread(target=ask_again)
    thread.start()
    # The second request finds the build under the buyer's lock and joins it (it waits for it to finish).
    for _ in range(2000):
        if _served() == 2:
            break
        thread.join(timeout=0.01)
    assert _served() == 2
    content = head + b"".join(blocks)
    thread.join(timeout=60)

    assert BuyerExport.objects.count() == 1  # one build, not two
    record = BuyerExport.objects.get()
    assert record.status == "done" and second["id"] == str(record.id)
    assert second["content"] == content and dossier_verify(content)
