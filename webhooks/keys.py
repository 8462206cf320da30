"""Webhook signing secrets: `whsec_` + base64, several at once while a secret is rotated."""

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

SECRET_PREFIX = "whsec_"
# The spec asks for random secrets of at least 24 bytes; shorter ones are refused outright.
MIN_KEY_BYTES = 24

# Only for running locally: anyone reading this file knows it. The service, the listener and
# the local stack all default to it, so `python -m service` and `python -m listener` agree.
DEV_WEBHOOK_SECRET = (
    SECRET_PREFIX + base64.b64encode(b"local-development-secret-not-for-production").decode()
)


class InvalidSecret(ValueError):
    """A configured secret that cannot be used; the message says which one and why."""


def decode_secret(secret: str) -> bytes:
    """The HMAC key inside `whsec_<base64>` (the prefix is optional, as in the library).

    Decoded strictly here: `standardwebhooks.Webhook` silently drops characters outside
    the base64 alphabet, so a mistyped secret would become a different key and every
    delivery would fail with "no matching signature" instead of failing at startup.
    """
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except binascii.Error:
        raise InvalidSecret(f"webhook secret is not {SECRET_PREFIX} followed by base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise InvalidSecret(
            f"webhook secret holds {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes"
        )
    return key


@dataclass(frozen=True)
class SigningKeys:
    """Every key a delivery may be signed with; more than one while a secret is rotated."""

    keys: tuple[bytes, ...] = field(repr=False)

    @classmethod
    def parse(cls, secrets: str | Iterable[str]) -> "SigningKeys":
        """Accept one secret, a space or comma separated list, or an iterable of them."""
        listed = [secrets] if isinstance(secrets, str) else list(secrets)
        parts = [part for item in listed for part in re.split(r"[\s,]+", item) if part]
        if not parts:
            raise InvalidSecret("no webhook secret configured")
        return cls(tuple(_decode_numbered(number, part) for number, part in enumerate(parts, 1)))


def _decode_numbered(number: int, secret: str) -> bytes:
    # Errors name the secret by position: never echo a secret, not even part of it.
    try:
        return decode_secret(secret)
    except InvalidSecret as error:
        raise InvalidSecret(str(error).replace("secret", f"secret #{number}", 1)) from None
