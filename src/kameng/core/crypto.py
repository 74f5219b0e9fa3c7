"""Card secrets at rest: AES-256-GCM under a keyring, plus a keyed HMAC fingerprint.

Ciphertext layout: key id (8 bytes) | nonce (12 bytes) | AES-GCM ciphertext+tag.
The key id names the keyring entry, so old ciphertexts stay readable after a new key
is put first, and `kameng rotate-keys` re-encrypts them under the newest one.
The fingerprint (HMAC-SHA256 with a separate key) finds duplicates without decrypting.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kameng.core import config

KEY_ID_BYTES = 8
NONCE_BYTES = 12


class KeyringError(RuntimeError):
    pass


def _decode_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise KeyringError("a KAMENG_KEYRING entry is not base64") from exc
    if len(raw) != 32:
        raise KeyringError("KAMENG_KEYRING entries must be 32-byte keys in base64")
    return raw


def key_id(raw: bytes) -> bytes:
    return hashlib.sha256(b"kameng-key-id" + raw).digest()[:KEY_ID_BYTES]


class Keyring:
    def __init__(self, keys: list[str]):
        if not keys:
            raise KeyringError("the keyring is empty")
        raws = [_decode_key(k) for k in keys]
        self.primary_id = key_id(raws[0])
        self._primary = AESGCM(raws[0])
        self._by_id = {key_id(raw): AESGCM(raw) for raw in raws}

    def encrypt(self, plaintext: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return self.primary_id + nonce + self._primary.encrypt(nonce, plaintext.encode("utf-8"), None)

    def decrypt(self, blob: bytes) -> str:
        blob = bytes(blob)
        cipher = self._by_id.get(blob[:KEY_ID_BYTES])
        if cipher is None:
            raise KeyringError("this secret was encrypted with a key that is not in the keyring")
        nonce = blob[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES]
        return cipher.decrypt(nonce, blob[KEY_ID_BYTES + NONCE_BYTES :], None).decode("utf-8")

    def is_current(self, blob: bytes) -> bool:
        return bytes(blob[:KEY_ID_BYTES]) == self.primary_id


class Fingerprinter:
    def __init__(self, key: str):
        self._key = key.encode("utf-8")

    def __call__(self, secret: str) -> str:
        # hmac.digest is one C call: it matters at a million keys per import.
        return hmac.digest(self._key, secret.encode("utf-8"), "sha256").hex()


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    return Keyring(config.keyring())


@lru_cache(maxsize=1)
def fingerprinter() -> Fingerprinter:
    return Fingerprinter(config.fingerprint_key())


def encrypt(secret: str) -> bytes:
    return keyring().encrypt(secret)


def decrypt(blob: bytes) -> str:
    return keyring().decrypt(blob)


def fingerprint_of(secret: str) -> str:
    return fingerprinter()(secret)


def sign(data: bytes, key: str) -> str:
    return hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest()
