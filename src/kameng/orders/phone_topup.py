"""Phone top-ups (话费/流量直充): which numbers a product can recharge. Pure rules, no I/O.

A top-up product is a phone top-up when its name says 话费 or 流量 or names a carrier; a product naming a
carrier (中国移动, 联通, 电信, 广电) recharges only that carrier's numbers. A number is judged by
Google's libphonenumber data (`phonenumbers`), which follows the carriers' number blocks as the
Ministry assigns them: a mainland mobile number is 11 digits starting with 1, and its first digits
say its carrier (a number ported to another carrier keeps its old prefix, so the check can only be
a strong hint — the buyer confirms the number and carrier before paying).
"""

from dataclasses import dataclass

import phonenumbers
from phonenumbers import carrier as carrier_data

# Names a product may use, and the carrier each means (libphonenumber's Chinese carrier names).
CARRIER_WORDS = (("移动", "中国移动"), ("联通", "中国联通"), ("电信", "中国电信"), ("广电", "中国广电"))
PHONE_WORDS = ("话费", "流量", "手机充值", "phone top-up", "mobile top-up")
CARRIER_EN = {"中国移动": "China Mobile", "中国联通": "China Unicom", "中国电信": "China Telecom",
              "中国广电": "China Broadnet"}


@dataclass(frozen=True)
class PhoneCheck:
    number: str  # digits only, as it will be sent
    carrier: str  # the number's carrier ("" when the data does not say)
    problem: str | None = None  # "not_mobile" | "wrong_carrier"
    expected: str = ""  # the product's carrier, when it names one

    def spaced(self) -> str:
        """138 0013 8000: how a person reads a number back."""
        n = self.number
        return f"{n[:3]} {n[3:7]} {n[7:]}" if len(n) == 11 else n


def product_carrier(product_name: str) -> str | None:
    """The carrier a top-up product recharges: a carrier's name, "" (any carrier), or None (not a phone top-up)."""
    name = (product_name or "").lower()
    for word, carrier in CARRIER_WORDS:
        if word in name:
            return carrier
    return "" if any(word in name for word in PHONE_WORDS) else None


def check_number(raw: str, expected: str = "") -> PhoneCheck:
    """Judge `raw` as the number to recharge for a product of carrier `expected` ("" for any carrier)."""
    digits = "".join(ch for ch in (raw or "") if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) != 11 or not digits.startswith("1"):
        return PhoneCheck(digits, "", "not_mobile", expected)
    parsed = phonenumbers.parse(digits, "CN")
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
    ):
        return PhoneCheck(digits, "", "not_mobile", expected)
    carrier = carrier_data.name_for_number(parsed, "zh")
    if expected and carrier != expected:
        return PhoneCheck(digits, carrier, "wrong_carrier", expected)
    return PhoneCheck(digits, carrier, None, expected)


def carrier_label(carrier: str) -> str:
    """A carrier's name in the page's language."""
    from django.utils.translation import get_language

    return CARRIER_EN.get(carrier, carrier) if (get_language() or "").startswith("en") else carrier
