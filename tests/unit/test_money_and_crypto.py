from decimal import Decimal

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from kameng.core import crypto
from kameng.core.money import InvalidAmount, Money


@given(st.integers(min_value=0, max_value=10**12))
def test_money_round_trips_through_its_string(fen):
    assert Money.parse(str(Money(fen))).fen == fen


@pytest.mark.parametrize("bad", ["1.001", "abc", "NaN", "Infinity", 1.5, ""])
def test_money_refuses_what_is_not_an_exact_amount(bad):
    with pytest.raises(InvalidAmount):
        Money.parse(bad)


@pytest.mark.parametrize("huge", ["1e999999", "-9e999999", "1e30", "9" * 30, "92233720368547758.08"])
def test_money_refuses_what_no_amount_column_could_hold(huge):
    # Decimal alone would raise its own Overflow on the first ones: a server error, not a refusal.
    with pytest.raises(InvalidAmount):
        Money.parse(huge)
    assert Money.parse("92233720368547758.07").fen == 2**63 - 1  # the largest a column holds still reads


def test_rates_round_half_up_to_the_fen():
    assert Money(1050).rate(Decimal("0.05")).fen == 53  # 52.5 → 53
    assert Money(1000).rate(Decimal("0.05")).fen == 50


def test_an_old_key_still_decrypts_after_a_new_one_is_put_first():
    old = crypto.Keyring([crypto.base64.urlsafe_b64encode(b"o" * 32).decode()])
    blob = old.encrypt("CARD-123")
    rotated = crypto.Keyring([crypto.base64.urlsafe_b64encode(b"n" * 32).decode(),
                              crypto.base64.urlsafe_b64encode(b"o" * 32).decode()])
    assert rotated.decrypt(blob) == "CARD-123"
    assert not rotated.is_current(blob) and rotated.is_current(rotated.encrypt("x"))
    stranger = crypto.Keyring([crypto.base64.urlsafe_b64encode(b"s" * 32).decode()])
    with pytest.raises(crypto.KeyringError):
        stranger.decrypt(blob)
    # A flipped byte is detected, never decrypted into something else.
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(InvalidTag):
        rotated.decrypt(tampered)


def test_encryption_is_randomized_but_the_fingerprint_is_stable():
    assert crypto.encrypt("SAME") != crypto.encrypt("SAME")
    assert crypto.fingerprint_of("SAME") == crypto.fingerprint_of("SAME") != crypto.fingerprint_of("SAME ")
