"""The platform's Ed25519 signing key, for documents that leave the platform (refund dossiers).

An HMAC (see `crypto.sign`) can only be checked by someone holding the secret; a buyer's bank,
a payment platform or a 12315 officer must be able to check a dossier with nothing but the
public key, so these signatures are Ed25519.

The private key is a PEM in `KAMENG_SIGNING_KEY_PEM` or, by default, generated once into the
data directory (mode 0600) so that every process sharing that directory signs with one key.
"""

import base64
import binascii
import os
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kameng.core import config

ALGORITHM = "Ed25519"
KEY_FILE = "signing_key_ed25519.pem"


def _new_private_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _private_pem() -> str:
    # A PEM put in a one-line `.env` value usually carries literal "\n" sequences.
    pem = os.environ.get("KAMENG_SIGNING_KEY_PEM", "").replace("\\n", "\n").strip()
    return pem or config._generated(KEY_FILE, _new_private_pem)


@lru_cache(maxsize=4)
def _load_private(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii") + b"\n", password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError("the signing key is not an Ed25519 private key")
    return key


def _private_key() -> Ed25519PrivateKey:
    return _load_private(_private_pem())


def sign(data: bytes) -> str:
    """The base64 Ed25519 signature of `data` under the platform's key."""
    return base64.b64encode(_private_key().sign(data)).decode("ascii")


def public_key_pem() -> str:
    return _private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def verify(data: bytes, signature_b64: str, public_pem: str) -> bool:
    """Whether `signature_b64` is a valid signature of `data` by the key in `public_pem`.

    Any malformed input (not base64, not an Ed25519 key) is simply a failed verification.
    """
    try:
        key = serialization.load_pem_public_key(public_pem.encode("ascii"))
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        return False
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
