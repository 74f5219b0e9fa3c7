import pytest

from kameng.inventory.models import CardSecret


def test_import_counts_duplicates_across_the_whole_platform(api_as, supplier, make_user, make_product):
    first = make_product()
    api = api_as(supplier)
    answer = api.post(f"/admin/products/{first.id}/keys", {"keys": ["AAA-1", "AAA-2", "AAA-2"]}).json()
    assert answer == {**answer, "imported": 2, "duplicates": 1, "rejected": 0}
    assert "rejections" not in answer and answer["report_id"]  # the contract's counts, and the report's link
    other_supplier = make_user("supplier")
    second = make_product(owner=other_supplier)
    # The same key under another supplier's product is still a duplicate: one key, one sale, platform-wide.
    answer = api_as(other_supplier).post(f"/admin/products/{second.id}/keys", {"keys": ["AAA-1", " BBB-1 "]}).json()
    assert answer == {**answer, "imported": 1, "duplicates": 1, "rejected": 0}
    assert api_as().get(f"/products/{second.id}").json()["stock"] == 1


@pytest.mark.parametrize("keys, problem", [
    (["GOOD-1", ""], "empty"),
    (["GOOD-1", "BAD\x00KEY"], "control_character"),
    (["GOOD-1", "BAD\ud800KEY"], "control_character"),
    (["GOOD-1", "X" * 513], "too_long"),
    (["GOOD-1", 12345], "not_a_string"),
])
def test_good_keys_are_imported_and_bad_ones_reported_by_position_without_echo(api_as, supplier, make_product,
                                                                                keys, problem):
    product = make_product()
    response = api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": keys})
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer == {**answer, "imported": 1, "duplicates": 0, "rejected": 1,
                      "rejections": [{"index": 1, "problem": problem}]}
    assert "GOOD-1" not in response.content.decode() and "BAD" not in response.content.decode()
    assert CardSecret.objects.filter(product=product).count() == 1
    assert api_as().get(f"/products/{product.id}").json()["stock"] == 1


def test_every_bad_key_is_counted_with_its_position(api_as, supplier, make_product):
    product = make_product()
    keys = ["A-1", "", "A-2", None, "A-1", "  ", "A-3\u202e"]
    answer = api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": keys}).json()
    assert answer["imported"] == 2 and answer["duplicates"] == 1 and answer["rejected"] == 4
    assert [r["index"] for r in answer["rejections"]] == [1, 3, 5, 6]


def test_empty_and_oversized_lists_are_refused(api_as, supplier, make_product, settings):
    settings.KAMENG_MAX_KEYS_PER_REQUEST = 3
    product = make_product()
    api = api_as(supplier)
    assert api.post(f"/admin/products/{product.id}/keys", {"keys": []}).json()["error"]["code"] == "INVALID_KEYS"
    too_many = api.post(f"/admin/products/{product.id}/keys", {"keys": ["a1", "a2", "a3", "a4"]})
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "TOO_MANY_KEYS"
    assert api.post(f"/admin/products/{product.id}/keys", {"nokeys": 1}).status_code == 422


def test_keys_are_encrypted_at_rest(api_as, supplier, make_product):
    product = make_product()
    api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["PLAINTEXT-SECRET-42"]})
    row = CardSecret.objects.get(product=product)
    assert b"PLAINTEXT-SECRET-42" not in bytes(row.ciphertext)
    assert "PLAINTEXT-SECRET-42" not in row.fingerprint and "PLAINTEXT" not in repr(row)


def test_topup_products_take_no_keys(api_as, supplier, make_product):
    product = make_product(kind="topup")
    response = api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["A"]})
    assert response.status_code == 409 and response.json()["error"]["code"] == "PRODUCT_NOT_STOCKED"
