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
"""

import base64
import binascii
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

from webhooks.keys import SigningKeys

TOLERANCE_S = 5 * 60
SIGNATURE_BYTES = 32  # HMAC-SHA256
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

    Any one `v1` signature made with any one of `secrets` is enough (rotation on either side).
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

    offered = _v1_signatures(signature_header)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # The Python library signs text; a sender using it cannot have signed these bytes.
        raise SignatureError("body is not UTF-8 text") from None
    for key in keys.keys:
        expected = _signature_bytes(_sign_text(key, webhook_id, timestamp, text))
        # Compare against every entry so the time taken does not depend on which one matched.
        matches = [hmac.compare_digest(expected, candidate) for candidate in offered]
        if any(matches):
            return VerifiedWebhook(webhook_id, timestamp)
    raise SignatureError("no matching signature")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` entry (`v1,<base64>`) for these exact body bytes.

    A thin layer over `Webhook.sign` that removes its two traps: it takes the body as
    `str` (bytes would be signed as the text "b'...'"), and it replaces the timezone of
    the datetime it is given instead of converting it.
    """
    key = SigningKeys.parse(secret).keys[0]
    return _sign_text(key, webhook_id, timestamp, body.decode("utf-8"))


def _sign_text(key: bytes, webhook_id: str, timestamp: int, text: str) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(key).sign(msg_id=webhook_id, timestamp=moment, data=text)


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded `v1` entries; other schemes (`v1a`, later ones) are skipped, as allowed."""
    signatures = []
    for entry in header.split():
        version, comma, encoded = entry.partition(",")
        if not (version and comma and encoded) or "," in encoded:
            raise SignatureError("malformed webhook-signature entry (expected version,signature)")
        if version == "v1":
            signatures.append(_decoded_v1(encoded))
    if not signatures:
        raise SignatureError("no v1 signature in webhook-signature header")
    return signatures


def _decoded_v1(encoded: str) -> bytes:
    try:
        signature = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        signature = b""
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureError("malformed v1 signature (expected base64 of 32 bytes)")
    return signature


def _signature_bytes(entry: str) -> bytes:
    return base64.b64decode(entry.removeprefix("v1,"))
