"""What a well-formed key is. Pure rules, shared by the API, the CLI and the page."""

import unicodedata

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
