"""A catalogued message in a person's language: parameters kept as data, words chosen when read.

`stored_params` turns what a caller passes (datetimes, Money, dates) into JSON for the row; `render` turns
the row back into a title and body in one language. Amounts read "¥11.40", times Beijing wall clock
(kameng.core.times), codes their words in the label catalogue (web/labels.py) — the same rules as pages.
"""

import logging
import re
from datetime import date, datetime
from decimal import Decimal

from django.utils import translation

from kameng.core.money import Money
from kameng.core.times import for_person

from .texts import COMMON, MESSAGES, PHRASES

logger = logging.getLogger(__name__)

LANGUAGES = ("zh-hans", "en")
DEFAULT_LANGUAGE = "zh-hans"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def language_of(user) -> str:
    language = getattr(user, "language", "") or DEFAULT_LANGUAGE
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def stored_params(code: str, params: dict) -> dict:
    """The parameters as the row keeps them; a code or parameter the catalogue does not know is a bug here."""
    text = MESSAGES[code]
    missing = set(text.params) - set(params)
    unknown = set(params) - set(text.params)
    if missing or unknown:
        raise ValueError(f"message {code}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    return {name: _to_json(value) for name, value in params.items()}


def _to_json(value):
    if isinstance(value, Money):
        return value.fen
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _moment(value) -> datetime | date:
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def _word(kind: str, value) -> str:
    """One non-phrase parameter as a person reads it, in the active language."""
    if value is None or value == "":
        return ""
    if kind == "money":
        return f"¥{Money(int(value))}"
    if kind == "time":
        return for_person(_moment(value))
    if kind == "date":
        return for_person(_moment(value), with_time=False)
    if kind.startswith("label:"):
        # The one label catalogue; imported here because web imports this module, not the reverse.
        from kameng.web.labels import label

        return label(kind.partition(":")[2], value)
    return str(value)


def _render_in_language(code: str, params: dict) -> tuple[str, str]:
    text = MESSAGES[code]
    words = {name: str(value) for name, value in COMMON.items()}
    words |= {name: _word(kind, params.get(name)) for name, kind in text.params.items()
              if not kind.startswith("phrase:")}
    for name, kind in text.params.items():
        if kind.startswith("phrase:"):
            phrase = PHRASES[kind.partition(":")[2]][params.get(name) or ""]
            words[name] = str(phrase) % words if phrase else ""
    return (str(text.title) % words).strip(), (str(text.body) % words).strip()


def render(code: str, params: dict, language: str) -> tuple[str, str] | None:
    """(title, body) in `language`; None when the row cannot be rendered (unknown code, damaged params)."""
    if code not in MESSAGES:
        return None
    try:
        with translation.override(language if language in LANGUAGES else DEFAULT_LANGUAGE):
            return _render_in_language(code, params or {})
    except (KeyError, TypeError, ValueError):
        logger.warning("message %s could not be rendered from its parameters", code)
        return None


def message_text(message, language: str) -> tuple[str, str, bool]:
    """What an inbox row says in `language`: (title, body, rendered). Rows from before the catalogue, or
    whose code is gone, show the Chinese text they were written with (rendered is False)."""
    if message.code:
        done = render(message.code, message.params, language)
        if done is not None:
            return done[0], done[1], True
    return message.title, message.body, False


def sms_text(title: str, body: str, language: str) -> str:
    """An SMS signs with the platform's name first, as Chinese carriers require: 【卡盟】 or [Kameng]."""
    if language == "en":
        return f"[Kameng] {title}: {body}"
    return f"【卡盟】{title}：{body}"
