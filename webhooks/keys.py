"""Webhook keys, per Standard Webhooks: `whsec_` shared secrets (v1, HMAC-SHA256), `whsk_`
secret keys and `whpk_` public keys (v1a, ed25519). The prefix says the scheme, so one list
can hold both while a sender migrates, and several of each while a key is rotated."""

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SECRET_PREFIX = "whsec_"
SIGNING_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"
# The spec asks for random secrets of at least 24 bytes; shorter ones are refused outright.
MIN_KEY_BYTES = 24
ED25519_KEY_BYTES = 32

# Only for running locally: anyone reading this file knows it. The service, the listener and
# the local stack all default to it, so `python -m service` and `python -m listener` agree.
DEV_WEBHOOK_SECRET = (
    SECRET_PREFIX + base64.b64encode(b"local-development-secret-not-for-production").decode()
)


class InvalidSecret(ValueError):
    """A configured secret that cannot be used; the message says which one and why."""


def _strict_base64(encoded: str) -> bytes | None:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except binascii.Error:
        return None


def decode_secret(secret: str) -> bytes:
    """The HMAC key inside `whsec_<base64>` (the prefix is optional, as in the library).

    Decoded strictly here: `standardwebhooks.Webhook` silently drops characters outside
    the base64 alphabet, so a mistyped secret would become a different key and every
    delivery would fail with "no matching signature" instead of failing at startup.
    """
    key = _strict_base64(secret.strip().removeprefix(SECRET_PREFIX))
    if key is None:
        raise InvalidSecret(f"webhook secret is not {SECRET_PREFIX} followed by base64")
    if len(key) < MIN_KEY_BYTES:
        raise InvalidSecret(
            f"webhook secret holds {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes"
        )
    return key


def decode_signing_key(text: str) -> Ed25519PrivateKey:
    """`whsk_` + base64 of the 32-byte ed25519 seed (what the spec's reference libraries
    read), or of the 64 bytes seed + public key that libsodium calls a secret key."""
    raw = _strict_base64(text.strip().removeprefix(SIGNING_KEY_PREFIX))
    if raw is None or len(raw) not in (ED25519_KEY_BYTES, 2 * ED25519_KEY_BYTES):
        raise InvalidSecret(
            f"webhook secret is not {SIGNING_KEY_PREFIX} followed by base64 of a 32-byte "
            "ed25519 seed (make one with: python -m webhooks new-key)"
        )
    key = Ed25519PrivateKey.from_private_bytes(raw[:ED25519_KEY_BYTES])
    if len(raw) > ED25519_KEY_BYTES and raw[ED25519_KEY_BYTES:] != public_bytes(key.public_key()):
        raise InvalidSecret("webhook secret holds an ed25519 seed and a public key that differ")
    return key


def decode_public_key(text: str) -> Ed25519PublicKey:
    raw = _strict_base64(text.strip().removeprefix(PUBLIC_KEY_PREFIX))
    if raw is None or len(raw) != ED25519_KEY_BYTES:
        raise InvalidSecret(
            f"webhook public key is not {PUBLIC_KEY_PREFIX} followed by base64 of 32 bytes"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The `whpk_...` form a receiver is given."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(public_bytes(key)).decode()


def new_signing_key() -> str:
    """A fresh `whsk_...` secret key (its 32-byte seed, from the OS's random source)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return SIGNING_KEY_PREFIX + base64.b64encode(seed).decode()


@dataclass(frozen=True)
class SigningKeys:
    """Every key a delivery may be signed or verified with; several while one is rotated.

    `keys` are the shared `whsec_` secrets (v1); `signing_keys` the `whsk_` keys (v1a), which
    a receiver holds only as `public_keys` (`whpk_`)."""

    keys: tuple[bytes, ...] = field(repr=False)
    signing_keys: tuple[Ed25519PrivateKey, ...] = field(default=(), repr=False)
    public_keys: tuple[Ed25519PublicKey, ...] = field(default=(), repr=False)

    @classmethod
    def parse(cls, secrets: str | Iterable[str], *, signing: bool = False) -> "SigningKeys":
        """Accept one key, a space or comma separated list, or an iterable of them. With
        `signing`, for a sender: a public key is refused, since it cannot sign."""
        listed = [secrets] if isinstance(secrets, str) else list(secrets)
        parts = [part for item in listed for part in re.split(r"[\s,]+", item) if part]
        if not parts:
            raise InvalidSecret("no webhook secret configured")
        keys, signing_keys, public_keys = [], [], []
        for number, part in enumerate(parts, 1):
            try:
                if part.startswith(SIGNING_KEY_PREFIX):
                    signing_keys.append(decode_signing_key(part))
                elif part.startswith(PUBLIC_KEY_PREFIX):
                    if signing:
                        raise InvalidSecret(
                            f"webhook secret is a public key ({PUBLIC_KEY_PREFIX}), which cannot "
                            f"sign: give the sender the {SIGNING_KEY_PREFIX} key, and the "
                            "receivers its public key"
                        )
                    public_keys.append(decode_public_key(part))
                else:
                    keys.append(decode_secret(part))
            except InvalidSecret as error:
                # Named by position: never echo a secret, not even part of it.
                numbered = re.sub(r"(secret|public key)", rf"\1 #{number}", str(error), count=1)
                raise InvalidSecret(numbered) from None
        return cls(tuple(keys), tuple(signing_keys), tuple(public_keys))

    @property
    def verifying_keys(self) -> tuple[Ed25519PublicKey, ...]:
        """The public keys a v1a signature is checked against (a `whsk_` key implies its own)."""
        return self.public_keys + tuple(key.public_key() for key in self.signing_keys)

    @property
    def public_key_texts(self) -> list[str]:
        """The `whpk_...` keys to hand to receivers, in the order configured."""
        return [public_key_text(key) for key in self.verifying_keys]

    @property
    def schemes(self) -> list[str]:
        """The signature schemes these keys make or check: `v1`, `v1a`, or both."""
        return [name for name, held in (("v1", self.keys), ("v1a", self.verifying_keys)) if held]
