"""Standard Webhooks signatures: sign a delivery (the service) or verify one (the listener).

The HMAC itself is `standardwebhooks.Webhook.sign`, so sender and receiver share one
definition of the signed content. Its `verify` is not used, because on hostile input it
falls short of what the listener promises (checked against standardwebhooks 1.1.0):
- an entry without exactly one comma raises ValueError, and bad base64 padding in a `v1`
  entry binascii.Error, instead of WebhookVerificationError (a 500 in a server); other
  non-base64 characters are silently dropped;
- a body that is not UTF-8 raises UnicodeDecodeError;
- the clock is `datetime.now()` and the 5-minute tolerance is fixed, so neither can be tested;
- the timestamp is parsed with `float()` ("1e9", "1_700_000_000", " 17e8 " pass) and then
  re-formatted before signing, so the signed text is not the header that was sent;
- one secret per `Webhook`, and every failure reads "Missing required headers" or similar.

v1a (ed25519, `whsk_`/`whpk_` keys) is not in the library: it is `cryptography`'s Ed25519 over
the same signed content, `id.timestamp.body` as bytes, checked against the spec's published
vector in the tests.
"""

import base64
import binascii
import hmac
import re
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from standardwebhooks import Webhook

from webhooks.keys import SigningKeys

TOLERANCE_S = 5 * 60
SIGNATURE_BYTES = {"v1": 32, "v1a": 64}  # HMAC-SHA256, ed25519
# The spec wants ids without "." (the signed text is "id.timestamp.body"); printable ASCII
# without "/" also keeps them usable as a database key and in /deliveries/{webhook_id}.
_WEBHOOK_ID = re.compile(r"[!-\-0-~]{1,256}")
# Unix seconds as written by every sender: digits only, no sign, no leading zero.
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,11}")


class SignatureError(Exception):
    """A delivery that failed verification; `reason` is a short sentence for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedWebhook:
    webhook_id: str
    timestamp: int


def verify(
    secrets: SigningKeys | str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> VerifiedWebhook:
    """Check the Standard Webhooks headers against the exact body bytes, or raise SignatureError.

    Any one `v1` signature made with any one `whsec_` secret, or any one `v1a` signature
    made by any one `whpk_` key's pair (or a `whsk_` key's), is enough: rotation and
    migration on either side.
    """
    keys = secrets if isinstance(secrets, SigningKeys) else SigningKeys.parse(secrets)
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = _required(lowered, "webhook-id")
    timestamp_text = _required(lowered, "webhook-timestamp")
    signature_header = _required(lowered, "webhook-signature")

    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise SignatureError("malformed webhook-id header")
    if not _TIMESTAMP.fullmatch(timestamp_text):
        raise SignatureError("malformed webhook-timestamp header (expected unix seconds)")
    timestamp = int(timestamp_text)
    # Both directions: an old timestamp is a replay, a future one would stay valid for long.
    age = (time.time() if now is None else now) - timestamp
    if age > tolerance_s:
        raise SignatureError("timestamp too old")
    if age < -tolerance_s:
        raise SignatureError("timestamp too new")

    offered = _signatures(signature_header, keys.schemes)
    if offered["v1a"] and _ed25519_matches(keys, offered["v1a"], webhook_id, timestamp, body):
        return VerifiedWebhook(webhook_id, timestamp)
    if not offered["v1"]:
        raise SignatureError("no matching signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # The Python library signs text; a sender using it cannot have signed these bytes.
        raise SignatureError("body is not UTF-8 text") from None
    for key in keys.keys:
        expected = _signature_bytes(_sign_text(key, webhook_id, timestamp, text))
        # Compare against every entry so the time taken does not depend on which one matched.
        matches = [hmac.compare_digest(expected, candidate) for candidate in offered["v1"]]
        if any(matches):
            return VerifiedWebhook(webhook_id, timestamp)
    raise SignatureError("no matching signature")


def _ed25519_matches(
    keys: SigningKeys, offered: list[bytes], webhook_id: str, timestamp: int, body: bytes
) -> bool:
    signed = signed_content(webhook_id, timestamp, body)
    for public_key in keys.verifying_keys:
        for signature in offered:
            try:
                public_key.verify(signature, signed)
            except InvalidSignature:
                continue
            return True
    return False


def signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    """What both schemes sign: `{msg_id}.{timestamp}.{payload}`."""
    return f"{webhook_id}.{timestamp}.".encode() + body


def sign(
    secrets: SigningKeys | str | Sequence[str], webhook_id: str, timestamp: int, body: bytes
) -> str:
    """The `webhook-signature` header for these exact body bytes: one entry per key, `v1,...`
    for each `whsec_` secret and `v1a,...` for each `whsk_` key, space separated (the spec's
    way to rotate and migrate: a receiver holding any one of the keys accepts it).

    The v1 entries are a thin layer over `Webhook.sign` that removes its two traps: it takes
    the body as `str` (bytes would be signed as the text "b'...'"), and it replaces the
    timezone of the datetime it is given instead of converting it.
    """
    keys = secrets if isinstance(secrets, SigningKeys) else SigningKeys.parse(secrets, signing=True)
    text = body.decode("utf-8") if keys.keys else ""
    entries = [_sign_text(key, webhook_id, timestamp, text) for key in keys.keys]
    signed = signed_content(webhook_id, timestamp, body)
    for private_key in keys.signing_keys:
        entries.append("v1a," + base64.b64encode(private_key.sign(signed)).decode())
    return " ".join(entries)


def _sign_text(key: bytes, webhook_id: str, timestamp: int, text: str) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(key).sign(msg_id=webhook_id, timestamp=moment, data=text)


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def _signatures(header: str, schemes: Sequence[str]) -> dict[str, list[bytes]]:
    """The decoded entries of the schemes the receiver holds keys for; other schemes (and
    later ones) are skipped, as the spec allows."""
    signatures: dict[str, list[bytes]] = defaultdict(list)
    for entry in header.split():
        version, comma, encoded = entry.partition(",")
        if not (version and comma and encoded) or "," in encoded:
            raise SignatureError("malformed webhook-signature entry (expected version,signature)")
        if version in schemes:
            signatures[version].append(_decoded(version, encoded))
    if not signatures:
        wanted = " or ".join(schemes)
        raise SignatureError(f"no {wanted} signature in webhook-signature header")
    return signatures


def _decoded(version: str, encoded: str) -> bytes:
    try:
        signature = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        signature = b""
    expected = SIGNATURE_BYTES[version]
    if len(signature) != expected:
        raise SignatureError(f"malformed {version} signature (expected base64 of {expected} bytes)")
    return signature


def _signature_bytes(entry: str) -> bytes:
    return base64.b64decode(entry.removeprefix("v1,"))
