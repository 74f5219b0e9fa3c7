"""Reading gateway keys from the environment: PEM text, or a path to a PEM file (contract variables).

Alipay's key tool also hands out keys as one bare base64 line; those are wrapped into PEM so the
operator can paste what the open platform shows.
"""

import re
from pathlib import Path

from .base import NotConfigured

_BARE_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]{100,}$")


def pem(value: str, *, kind: str, variable: str) -> str:
    """`kind` is "PRIVATE KEY" or "PUBLIC KEY" (used only to wrap a bare base64 key)."""
    text = (value or "").strip()
    if not text:
        raise NotConfigured(f"{variable} is not set")
    if "-----BEGIN" in text:
        return text.replace("\\n", "\n")  # a one-line .env value with literal \n
    if _BARE_BASE64.match(text):
        body = "".join(text.split())
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n"
    path = Path(text).expanduser()
    try:
        content = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        # Name the variable, never the value: it may be a key pasted into the wrong place.
        raise NotConfigured(f"{variable} is neither PEM text nor a readable PEM file") from exc
    if "-----BEGIN" not in content:
        raise NotConfigured(f"{variable} names a file that holds no PEM key")
    return content
