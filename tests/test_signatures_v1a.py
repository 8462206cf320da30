"""v1a signatures (ed25519, `whsk_` secret keys, `whpk_` public keys), checked against the
specification's published vector and an ed25519 verifier written here from the spec's text,
not only by the project's own verify; and the keys' rotation, migration and refusals."""

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.settings import SettingsError, from_environment
from webhooks.__main__ import main as webhooks_command
from webhooks.keys import (
    DEV_WEBHOOK_SECRET,
    InvalidSecret,
    SigningKeys,
    decode_signing_key,
    new_signing_key,
)
from webhooks.signature import SignatureError, sign, verify

# The asymmetric vector of the specification's reference libraries
# (standard-webhooks/standard-webhooks, libraries/go/webhook_asymmetric_test.go,
# TestAsymmetricWebhookSign): ed25519 is deterministic, so the signature is fixed.
VECTOR_KEY = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = (
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)
(VECTOR_PUBLIC_KEY,) = SigningKeys.parse(VECTOR_KEY).public_key_texts


def headers(signature: str = VECTOR_SIGNATURE) -> dict[str, str]:
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": signature,
    }


def spec_verifies(
    public_key: str, webhook_id: str, timestamp: str, header: str, body: bytes
) -> bool:
    """From the spec's text alone: `whpk_` + base64 of the ed25519 public key; entries
    `v1a,<base64 signature>`, space separated; signed content `{id}.{timestamp}.{payload}`."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    content = f"{webhook_id}.{timestamp}.".encode() + body
    for entry in header.split(" "):
        version, _, signature = entry.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature), content)
        except InvalidSignature:
            continue
        return True
    return False


def test_sign_reproduces_the_published_v1a_vector() -> None:
    assert sign(VECTOR_KEY, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_public_key_alone_verifies_the_published_vector() -> None:
    assert VECTOR_PUBLIC_KEY.startswith("whpk_")
    verified = verify(VECTOR_PUBLIC_KEY, headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP)
    assert verified.webhook_id == VECTOR_ID
    assert spec_verifies(
        VECTOR_PUBLIC_KEY, VECTOR_ID, str(VECTOR_TIMESTAMP), VECTOR_SIGNATURE, VECTOR_BODY
    )


def test_an_independent_verifier_accepts_what_we_sign_and_refuses_changes() -> None:
    key = new_signing_key()
    (public_key,) = SigningKeys.parse(key).public_key_texts
    body = '{"state":"SUCCEEDED","rows":[["naïve ✓"]]}'.encode()
    header = sign(f"{DEV_WEBHOOK_SECRET} {key}", "msg_abc", 1_700_000_000, body)
    assert spec_verifies(public_key, "msg_abc", "1700000000", header, body)
    assert not spec_verifies(public_key, "msg_abc", "1700000001", header, body)
    assert not spec_verifies(public_key, "msg_abd", "1700000000", header, body)
    assert not spec_verifies(public_key, "msg_abc", "1700000000", header, body + b" ")
    (other,) = SigningKeys.parse(new_signing_key()).public_key_texts
    assert not spec_verifies(other, "msg_abc", "1700000000", header, body)


def test_a_receiver_with_only_the_public_key_refuses_other_keys_and_the_shared_secret() -> None:
    with pytest.raises(SignatureError, match="no matching signature"):
        other = sign(new_signing_key(), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
        verify(VECTOR_PUBLIC_KEY, headers(other), VECTOR_BODY, now=VECTOR_TIMESTAMP)
    shared = sign(DEV_WEBHOOK_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    with pytest.raises(SignatureError, match="no v1a signature in webhook-signature header"):
        verify(VECTOR_PUBLIC_KEY, headers(shared), VECTOR_BODY, now=VECTOR_TIMESTAMP)
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(VECTOR_PUBLIC_KEY, headers(), VECTOR_BODY + b" ", now=VECTOR_TIMESTAMP)
    with pytest.raises(SignatureError, match="timestamp too old"):
        verify(VECTOR_PUBLIC_KEY, headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP + 301)


@pytest.mark.parametrize("entry", ["v1a,dGVzdA==", "v1a,@@@@", VECTOR_SIGNATURE[:-4]])
def test_a_malformed_v1a_entry_is_refused(entry: str) -> None:
    with pytest.raises(SignatureError, match=r"malformed v1a signature \(expected base64 of 64"):
        verify(VECTOR_PUBLIC_KEY, headers(entry), VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_every_key_signs_so_receivers_rotate_and_migrate_at_their_own_pace() -> None:
    old, new = new_signing_key(), new_signing_key()
    header = sign(f"{new} {old} {DEV_WEBHOOK_SECRET}", VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert [entry.split(",")[0] for entry in header.split()] == ["v1", "v1a", "v1a"]
    receivers = [
        SigningKeys.parse(old).public_key_texts,
        SigningKeys.parse(new).public_key_texts,
        [DEV_WEBHOOK_SECRET],
        [*SigningKeys.parse(f"{old} {new}").public_key_texts, DEV_WEBHOOK_SECRET],
    ]
    for keys in receivers:
        verify(keys, headers(header), VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_a_secret_key_is_read_as_a_seed_or_as_seed_and_public_key() -> None:
    seed_key = decode_signing_key(VECTOR_KEY)
    seed = base64.b64decode(VECTOR_KEY.removeprefix("whsk_"))
    public = base64.b64decode(VECTOR_PUBLIC_KEY.removeprefix("whpk_"))
    long_form = "whsk_" + base64.b64encode(seed + public).decode()
    assert sign(long_form, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    assert isinstance(seed_key, Ed25519PrivateKey)
    mismatched = "whsk_" + base64.b64encode(seed + bytes(32)).decode()
    with pytest.raises(InvalidSecret, match="webhook secret #1 holds an ed25519 seed and a public"):
        SigningKeys.parse(mismatched)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            f"{DEV_WEBHOOK_SECRET} whsk_dGVzdA==",
            "webhook secret #2 is not whsk_ followed by base64",
        ),
        ("whpk_not*base64", "webhook public key #1 is not whpk_ followed by base64 of 32 bytes"),
    ],
)
def test_unusable_keys_are_refused_by_position(keys: str, message: str) -> None:
    with pytest.raises(InvalidSecret, match=message) as refused:
        SigningKeys.parse(keys)
    assert "dGVzdA" not in str(refused.value) and "not*base64" not in str(refused.value)


def test_the_service_refuses_a_public_key_it_cannot_sign_with() -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET") as refused:
        from_environment({"WEBHOOK_SECRET": f"{DEV_WEBHOOK_SECRET} {VECTOR_PUBLIC_KEY}"})
    assert "#2 is a public key (whpk_), which cannot sign" in str(refused.value)
    assert VECTOR_PUBLIC_KEY.removeprefix("whpk_") not in str(refused.value)
    from_environment({"WEBHOOK_SECRET": VECTOR_KEY})  # v1a only is a valid choice


def test_the_command_prints_the_public_keys_of_the_service_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rotated = new_signing_key()
    monkeypatch.setenv("WEBHOOK_SECRET", f"{DEV_WEBHOOK_SECRET} {VECTOR_KEY} {rotated}")
    assert webhooks_command(["public-key"]) == 0
    assert capsys.readouterr().out.split() == [
        VECTOR_PUBLIC_KEY,
        *SigningKeys.parse(rotated).public_key_texts,
    ]
    monkeypatch.setenv("WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
    assert webhooks_command(["public-key"]) == 2
    assert "holds no whsk_ key" in capsys.readouterr().err
    assert webhooks_command(["new-key"]) == 0
    made = capsys.readouterr().out.strip()
    assert made.startswith("whsk_") and SigningKeys.parse(made).signing_keys
