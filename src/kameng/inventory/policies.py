"""What a well-formed key is. Pure rules, shared by the API, the CLI and the page."""

import unicodedata
from decimal import Decimal

MAX_KEY_LENGTH = 512


def normalize_key(line: str) -> str:
    """Surrounding whitespace (including a CR from Windows files) is not part of a key."""
    return line.strip()


def key_problem(key: str) -> str | None:
    """Why a (normalized) key is refused, or None when it is acceptable."""
    if not key:
        return "empty"
    if len(key) > MAX_KEY_LENGTH:
        return "too_long"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in key):
        return "control_character"
    return None


def quarantine_due(*, defects: int, forgiven: int, sold: int, min_defects: int, share) -> bool:
    """Whether a batch's proven key defects call for holding back its unsold keys.

    Both thresholds must be reached: a count (one unlucky key is no pattern) and a share of the keys
    the batch has sold (forty bad keys out of a million sold are not a bad batch). Defects an admin
    already judged when releasing the batch (`forgiven`) do not count again.
    """
    counted = defects - forgiven
    if counted <= 0 or counted < min_defects or sold <= 0:
        return False
    return counted >= Decimal(str(share)) * sold
