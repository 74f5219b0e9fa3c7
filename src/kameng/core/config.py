"""Configuration read from the environment (and an optional `.env` file).

Generated secrets (the sandbox signing secret, the card-secret keyring, the
fingerprint key) live in files under the data directory so that every process
sharing a data directory agrees on them without any process memory.
"""

import base64
import os
import secrets
from pathlib import Path


def _load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from `.env` without overriding the real environment."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


_load_dotenv(Path.cwd() / ".env")


PRIVATE_UMASK = 0o077


def restrict_umask() -> None:
    """Files this process creates are its user's alone (0600, directories 0700).

    The data directory holds the database (session keys, password hashes), card-key import files,
    evidence and generated keys: none of it is any other local user's to read. SQLite creates its
    database, WAL and SHM files with the process umask, so the umask is the one place that covers them
    all, and every upload or file a library writes for us.
    """
    os.umask(PRIVATE_UMASK)


def data_dir() -> Path:
    path = Path(os.environ.get("KAMENG_DATA_DIR", "./var")).resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A directory made earlier (or by hand) with looser bits is closed too: that also shields the
    # files an older version left readable inside it.
    try:
        if path.stat().st_mode & PRIVATE_UMASK:
            path.chmod(0o700)
    except PermissionError:  # not ours to change (a shared mount): the umask still covers new files
        pass
    return path


def private_dir(name: str) -> Path:
    """A folder under the data directory that only this user can enter (0700, tightened if it existed)."""
    path = data_dir() / name
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)
    return path


def flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _generated(filename: str, make) -> str:
    """A secret stored in the data directory, created once with mode 0600."""
    path = data_dir() / filename
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its value
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value)
    return value


def _new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def sandbox_secret() -> str:
    return os.environ.get("KAMENG_SANDBOX_SECRET") or _generated("sandbox_secret", lambda: secrets.token_hex(32))


def keyring() -> list[str]:
    """Encryption keys for card secrets, newest first."""
    raw = os.environ.get("KAMENG_KEYRING") or _generated("keyring", _new_key)
    return [part.strip() for part in raw.split(",") if part.strip()]


def fingerprint_key() -> str:
    """The HMAC key for duplicate detection; separate from the keyring so rotation keeps it."""
    return os.environ.get("KAMENG_FINGERPRINT_KEY") or _generated("fingerprint_key", _new_key)
