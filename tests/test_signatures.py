"""Standard Webhooks verification: the published vector, and every way a delivery is refused."""

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from webhooks.keys import InvalidSecret, SigningKeys, decode_secret
from webhooks.signature import SignatureError, VerifiedWebhook, sign, verify

# The specification's test vector, from standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py (test_sign_function); the other libraries share it.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

OTHER_SECRET = "whsec_" + base64.b64encode(b"a different key, 32 bytes long!!").decode()


def vector_headers(**overrides: str) -> dict[str, str]:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    return {**headers, **overrides}


def refusal(
    headers: dict[str, str],
    body: bytes = VECTOR_BODY,
    now: float = VECTOR_TIMESTAMP,
    tolerance_s: float = 300,
) -> str:
    with pytest.raises(SignatureError) as refused:
        verify(VECTOR_SECRET, headers, body, now=now, tolerance_s=tolerance_s)
    return refused.value.reason


def test_sign_reproduces_the_published_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_accepts_the_published_vector() -> None:
    verified = verify(VECTOR_SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP)
    assert verified == VerifiedWebhook(VECTOR_ID, VECTOR_TIMESTAMP)


def test_sign_agrees_with_the_library_for_other_inputs() -> None:
    body = '{"state":"SUCCEEDED","query":"SELECT \'é\'"}'.encode()
    ours = sign(OTHER_SECRET, "msg_1", 1_700_000_000, body)
    moment = datetime.fromtimestamp(1_700_000_000, tz=UTC)
    library = Webhook(OTHER_SECRET).sign("msg_1", moment, body.decode())
    assert ours == library


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in vector_headers().items()}
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP).webhook_id == VECTOR_ID


def test_tampered_body_is_refused() -> None:
    assert refusal(vector_headers(), b'{"test": 2432232315}') == "no matching signature"


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(OTHER_SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_changed_id_or_timestamp_is_refused() -> None:
    assert refusal(vector_headers(**{"webhook-id": "msg_other"})) == "no matching signature"
    later = str(VECTOR_TIMESTAMP + 1)
    assert refusal(vector_headers(**{"webhook-timestamp": later})) == "no matching signature"


def test_tolerance_is_five_minutes_in_both_directions() -> None:
    for now in (VECTOR_TIMESTAMP - 300, VECTOR_TIMESTAMP + 300):
        verify(VECTOR_SECRET, vector_headers(), VECTOR_BODY, now=now)
    assert refusal(vector_headers(), now=VECTOR_TIMESTAMP + 301) == "timestamp too old"
    assert refusal(vector_headers(), now=VECTOR_TIMESTAMP - 301) == "timestamp too new"


def test_tolerance_can_be_narrowed() -> None:
    assert refusal(vector_headers(), now=VECTOR_TIMESTAMP + 31, tolerance_s=30) == (
        "timestamp too old"
    )


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_or_empty_headers_are_named(name: str) -> None:
    headers = vector_headers()
    del headers[name]
    assert refusal(headers) == f"missing {name} header"
    assert refusal(vector_headers(**{name: "  "})) == f"missing {name} header"


@pytest.mark.parametrize("webhook_id", ["msg.1", "msg/1", "msg 1", "é", "x" * 257])
def test_malformed_webhook_id_is_refused(webhook_id: str) -> None:
    assert refusal(vector_headers(**{"webhook-id": webhook_id})) == "malformed webhook-id header"


# The library parses these with float(); the spec says an integer of unix seconds.
@pytest.mark.parametrize("timestamp", ["abc", "1614265330.0", "1.61426533e9", "-1", "01614265330"])
def test_malformed_timestamp_is_refused(timestamp: str) -> None:
    reason = refusal(vector_headers(**{"webhook-timestamp": timestamp}))
    assert reason == "malformed webhook-timestamp header (expected unix seconds)"


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("v1", "malformed webhook-signature entry (expected version,signature)"),
        ("v1,", "malformed webhook-signature entry (expected version,signature)"),
        (",abc", "malformed webhook-signature entry (expected version,signature)"),
        ("v1,a,b", "malformed webhook-signature entry (expected version,signature)"),
        ("v1,@@@@", "malformed v1 signature (expected base64 of 32 bytes)"),
        ("v1,g0hM9SsE+OTPJTGt", "malformed v1 signature (expected base64 of 32 bytes)"),
        ("v1,dGVzdA==", "malformed v1 signature (expected base64 of 32 bytes)"),
        ("v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw", "no v1 signature in webhook-signature header"),
    ],
)
def test_malformed_signature_header_is_refused(signature: str, reason: str) -> None:
    assert refusal(vector_headers(**{"webhook-signature": signature})) == reason


def test_body_that_is_not_utf8_is_refused() -> None:
    assert refusal(vector_headers(), b'{"test": "\xff"}') == "body is not UTF-8 text"


def test_any_one_of_several_v1_signatures_may_match() -> None:
    # The sender rotates: it signs with the old and the new secret, and adds other schemes.
    stale = sign(OTHER_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    header = f"v1a,c2lnbmF0dXJl {stale}  v2,xyz {VECTOR_SIGNATURE}"
    headers = vector_headers(**{"webhook-signature": header})
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP).webhook_id == VECTOR_ID


@pytest.mark.parametrize(
    "secrets",
    [
        f"{OTHER_SECRET} {VECTOR_SECRET}",
        f"{OTHER_SECRET},{VECTOR_SECRET}",
        [OTHER_SECRET, VECTOR_SECRET],
        SigningKeys.parse([VECTOR_SECRET, OTHER_SECRET]),
    ],
)
def test_receiver_may_hold_several_secrets(secrets: str | list[str] | SigningKeys) -> None:
    verify(secrets, vector_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_secret_prefix_is_optional() -> None:
    assert decode_secret(VECTOR_SECRET) == decode_secret(VECTOR_SECRET.removeprefix("whsec_"))


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ("whsec_not*base64*at*all*here*ok", "webhook secret #1 is not whsec_ followed by base64"),
        (f"{VECTOR_SECRET} whsec_dGVzdA", "webhook secret #2 holds 4 bytes"),
        (" , ", "no webhook secret configured"),
    ],
)
def test_unusable_secrets_are_refused_without_echoing_them(secrets: str, message: str) -> None:
    with pytest.raises(InvalidSecret, match=message) as refused:
        SigningKeys.parse(secrets)
    assert "not*base64" not in str(refused.value)


def test_keys_are_not_shown_in_repr() -> None:
    assert "\\x" not in repr(SigningKeys.parse(VECTOR_SECRET))
