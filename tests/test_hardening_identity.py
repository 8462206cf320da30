"""The service's own endpoint (issue 11): only Restate may call it, and bad keys stop the start.

The end-to-end tests start their own restate-server (with a request identity private key) and
`python -m service` (with the matching public key), as real processes on free ports.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.local.config import RESTATE_SERVER
from infra.local.identity import request_identity
from infra.local.processes import ManagedProcess, free_port
from service.__main__ import bind_address, identity_warning
from service.settings import from_environment

# A well-formed key nobody holds the private half of.
STRANGER_KEY = "publickeyv1_w7YHemBctH5Ck2nQRQ47iBBqhNHy4FV7t2Usbye2A6f"


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class SignedPair:
    """A restate-server that signs its requests and a service that checks them."""

    ingress: str
    admin: str
    service: str


def start_service(
    tmp_path: Path, identity_keys: str, name: str = "service"
) -> tuple[ManagedProcess, str]:
    port = free_port()
    service = ManagedProcess(
        name,
        [sys.executable, "-m", "service"],
        {
            **os.environ,
            "SERVICE_PORT": str(port),
            "RESTATE_IDENTITY_KEYS": identity_keys,
            "PYTHONUNBUFFERED": "1",
        },
        tmp_path,
        f"http://127.0.0.1:{port}/health",
    )
    service.start()
    return service, f"http://127.0.0.1:{port}"


@pytest.fixture
def signed_pair(tmp_path: Path) -> Iterator[SignedPair]:
    identity = request_identity(tmp_path)
    ingress, admin, fabric = free_port(), free_port(), free_port()
    restate = ManagedProcess(
        "restate",
        [
            str(RESTATE_SERVER),
            "--base-dir",
            str(tmp_path / "restate"),
            "--node-name",
            "identity-test",
            "--no-logo",
            "--listen-mode",
            "tcp",
        ],
        {
            **os.environ,
            "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{ingress}",
            "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{admin}",
            "RESTATE_BIND_ADDRESS": f"127.0.0.1:{fabric}",
            "RESTATE_ADVERTISED_ADDRESS": f"http://127.0.0.1:{fabric}/",
            "RESTATE_DISABLE_TELEMETRY": "true",
            "RESTATE_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE": str(identity.private_key_pem),
        },
        tmp_path,
        f"http://127.0.0.1:{admin}/health",
    )
    service: ManagedProcess | None = None
    try:
        restate.start()
        service, service_url = start_service(tmp_path, identity.public_key)
        yield SignedPair(f"http://127.0.0.1:{ingress}", f"http://127.0.0.1:{admin}", service_url)
    finally:
        if service is not None:
            service.stop()
        restate.stop()


def register(admin: str, service_url: str) -> tuple[int, bytes]:
    body = json.dumps({"uri": service_url, "force": True}).encode()
    return http("POST", f"{admin}/deployments", body, {"content-type": "application/json"})


@pytest.mark.e2e
def test_signed_requests_from_restate_reach_the_handlers(signed_pair: SignedPair) -> None:
    status, detail = register(signed_pair.admin, signed_pair.service)
    assert status in (200, 201), detail
    # A shared handler that needs no Athena: Restate's signed call reaches it and answers.
    status, body = http("POST", f"{signed_pair.ingress}/webhookDelivery/msg_identity_test/status")
    assert status == 200 and body in (b"", b"null"), body  # no delivery yet: no status


@pytest.mark.e2e
def test_unsigned_calls_to_the_service_are_refused(signed_pair: SignedPair) -> None:
    # What an attacker who reaches port 9080 would try: a signed webhook to any URL.
    delivery = json.dumps({"callback_url": "http://127.0.0.1:9/", "body": "{}"}).encode()
    for path in ("/invoke/webhookDelivery/deliver", "/invoke/query/query", "/discover"):
        status, _ = http(
            "POST" if path.startswith("/invoke") else "GET",
            f"{signed_pair.service}{path}",
            delivery if path.startswith("/invoke") else None,
            {"content-type": "application/json", "x-restate-signature-scheme": "v1"},
        )
        assert status == 401, f"{path} answered {status} without a signature"
    # A made-up token is no signature either.
    status, _ = http(
        "GET",
        f"{signed_pair.service}/discover",
        None,
        {"x-restate-signature-scheme": "v1", "x-restate-jwt-v1": "e30.e30.AAAA"},
    )
    assert status == 401
    # Health stays open, for load balancers and the local stack's wait.
    assert http("GET", f"{signed_pair.service}/health")[0] == 200


@pytest.mark.e2e
def test_a_restate_with_another_key_cannot_register_the_service(
    signed_pair: SignedPair, tmp_path: Path
) -> None:
    stranger, stranger_url = start_service(tmp_path, STRANGER_KEY, name="stranger")
    try:
        status, detail = register(signed_pair.admin, stranger_url)
        assert status >= 400, "discovery succeeded against a service expecting another key"
        assert b"401" in detail or b"Unauthorized" in detail.title(), detail
    finally:
        stranger.stop()


def run_service(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m service` with `env` added; one that starts is stopped after its first line."""
    return subprocess.run(
        [sys.executable, "-m", "service"],
        env={**os.environ, "SERVICE_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("WEBHOOK_SECRET", "whsec_not*base64*at*all", "is not whsec_ followed by base64"),
        ("WEBHOOK_SECRET", "whsec_c2hvcnQ=", "use at least 24 random bytes"),
        ("WEBHOOK_SECRET", "plain-text-password-123", "is not whsec_ followed by base64"),
        ("RESTATE_IDENTITY_KEYS", "publickeyv1_tooShort", "is not a Restate request identity"),
        ("RESTATE_IDENTITY_KEYS", f"{STRANGER_KEY},ssh-ed25519", "key #2 is not"),
        ("SERVICE_BIND_HOST", "everywhere", "not a valid IPv4 or IPv6 address"),
    ],
)
def test_a_bad_key_stops_the_start_with_a_sentence(
    variable: str, value: str, expected: str
) -> None:
    run = run_service({variable: value})
    assert run.returncode != 0
    assert run.stderr.startswith(f"error: Invalid setting. {variable}=")
    assert expected in run.stderr
    assert "Traceback" not in run.stderr
    if variable == "WEBHOOK_SECRET":
        assert value not in run.stderr + run.stdout
        assert value.removeprefix("whsec_") not in run.stderr + run.stdout


def test_the_service_binds_to_loopback_unless_told_otherwise() -> None:
    assert bind_address(from_environment({"SERVICE_PORT": "9081"})) == "127.0.0.1:9081"
    assert bind_address(from_environment({"SERVICE_BIND_HOST": "0.0.0.0"})) == "0.0.0.0:9080"
    assert bind_address(from_environment({"SERVICE_BIND_HOST": "::"})) == "[::]:9080"


def test_an_open_endpoint_off_loopback_is_warned_about() -> None:
    assert identity_warning(from_environment({})) is None
    exposed = from_environment({"SERVICE_BIND_HOST": "0.0.0.0"})
    warning = identity_warning(exposed)
    assert warning is not None and "RESTATE_IDENTITY_KEYS is not set" in warning
    signed = from_environment(
        {"SERVICE_BIND_HOST": "0.0.0.0", "RESTATE_IDENTITY_KEYS": STRANGER_KEY}
    )
    assert identity_warning(signed) is None
    assert signed.identity_keys == [STRANGER_KEY]
