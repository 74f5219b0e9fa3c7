"""The one place where text from outside is judged: refused when it cannot be stored, cleaned when it hides.

Two kinds of trouble, handled differently:

- **Unstorable**: a NUL byte (PostgreSQL text cannot hold one; the driver raises) and a lone UTF-16
  surrogate such as "\\ud800" (it cannot be encoded as UTF-8, so neither database nor a response can
  carry it). Such text is refused with the code INVALID_TEXT and nothing is changed.
- **Invisible**: bidi overrides and isolates (U+202A–202E, U+2066–2069) flip how a name reads ("‮gnp.exe"),
  zero-width characters (U+200B–200D, U+2060) and the BOM (U+FEFF) pad text with nothing. They are
  stripped, so a name shows what it is and "‍‍‍‍‍‍" does not count as a description.

The middleware (paths, query strings, form fields), the API schema types and the page form fields all
call these functions; services that store names call them too.
"""

import re

from kameng.core.errors import Invalid

INVALID_TEXT = "INVALID_TEXT"

# A lone surrogate or a NUL anywhere refuses the text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Bidi embeddings/overrides, bidi isolates, zero-width space/non-joiner/joiner, word joiner, BOM.
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff]")
# One-line text (names, codes) also refuses the other C0/C1 controls: a name never holds an escape or a newline.
_LINE_CONTROLS = re.compile("[\x01-\x1f\x7f-\x9f]")


class InvalidText(Invalid):
    code = INVALID_TEXT


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored at all ("nul", "surrogate"), or None."""
    match = _UNSTORABLE.search(value)
    if match is None:
        return None
    return "nul" if match.group() == "\x00" else "surrogate"


def body_field_problem(value: str) -> str | None:
    """Why a form field sent in a request body cannot be taken: `text_problem`, or "not_utf8".

    Django decodes form bodies (url-encoded and multipart) with errors="replace": bytes that are not UTF-8
    arrive as U+FFFD, the replacement character, and would be stored as text nobody wrote. Its presence is
    all that is left to tell; a person does not type it.
    """
    return text_problem(value) or ("not_utf8" if "\ufffd" in value else None)


def refuse_unstorable(value: str, *, field: str = "text") -> str:
    """`value` unchanged when it can be stored; InvalidText otherwise. For passwords, codes and identifiers."""
    problem = text_problem(value)
    if problem:
        raise InvalidText(f"{field} contains a character that cannot be stored ({problem})",
                          details={"field": field, "problem": problem})
    return value


def strip_invisible(value: str) -> str:
    """`value` without bidi controls and zero-width characters (nothing else changes)."""
    return _INVISIBLE.sub("", value)


def clean_text(value: str, *, field: str = "text", one_line: bool = False) -> str:
    """Free text or a name as it may be stored and shown: unstorable text refused, invisible characters stripped.

    `one_line` (names) also refuses control characters such as newlines and terminal escapes.
    """
    value = strip_invisible(refuse_unstorable(value, field=field))
    if one_line and _LINE_CONTROLS.search(value):
        raise InvalidText(f"{field} is one line without control characters",
                          details={"field": field, "problem": "control_character"})
    return value


def clause(value: str) -> str:
    """A person's note set inside a sentence of ours: its own closing 。/./！ dropped, so "理由：…。。" cannot happen."""
    return (value or "").strip().rstrip("。.！!；;，, ")
