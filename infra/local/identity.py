"""Restate's request identity for the local stack: one ed25519 key pair per base directory.

restate-server signs every request to the service with the private key; the service accepts
only requests signed by a key it was given. The public key goes to the service in Restate's
compact form, `publickeyv1_` and the base58 (Bitcoin alphabet) of the raw 32-byte key.
"""

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from infra.local.processes import StackError

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
RAW_KEY_BYTES = 32


@dataclass(frozen=True)
class RequestIdentity:
    private_key_pem: Path  # for restate-server
    public_key: str  # for the service: publickeyv1_...


def base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(BASE58_ALPHABET[digit])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def public_key_id(raw_public_key: bytes) -> str:
    if len(raw_public_key) != RAW_KEY_BYTES:
        raise ValueError(f"an ed25519 public key has 32 bytes, not {len(raw_public_key)}")
    return f"publickeyv1_{base58(raw_public_key)}"


def request_identity(base_dir: Path) -> RequestIdentity:
    """The key pair kept in `base_dir`, made on first use and reused after that."""
    pem = base_dir / "request-identity" / "private.pem"
    if not pem.exists():
        pem.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        pem.chmod(0o600)
    private_key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise StackError(f"{pem} is not an ed25519 key; remove it and start again.")
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return RequestIdentity(pem, public_key_id(raw))
