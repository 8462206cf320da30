"""On Lambda the webhook secret comes from Secrets Manager, read once at start by its ARN."""

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import service.settings as service_settings
from service.settings import SettingsError, from_environment
from webhooks.keys import DEV_WEBHOOK_SECRET

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:athena-promise/webhook"
SECRET = "whsec_" + "c2VjcmV0LWZyb20tc2VjcmV0cy1tYW5hZ2VyLTMyYnl0ZXM="


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """A real botocore client whose answers the test states; no network."""
    client = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    stubber = Stubber(client)
    monkeypatch.setattr(service_settings.boto3, "client", lambda *_a, **_k: client)
    return stubber


def test_the_secret_named_by_its_arn_becomes_the_webhook_secret(secrets: Stubber) -> None:
    answer: dict[str, Any] = {"SecretString": SECRET + "\n", "ARN": ARN, "Name": "webhook"}
    secrets.add_response("get_secret_value", answer, {"SecretId": ARN})
    with secrets:
        current = from_environment({"WEBHOOK_SECRET_ARN": ARN})
    assert current.webhook_secret == SECRET and current.webhook_secret_arn == ARN


def test_a_secret_in_the_environment_wins_and_nothing_is_read(secrets: Stubber) -> None:
    with secrets:  # no response queued: any call would fail the test
        current = from_environment({"WEBHOOK_SECRET_ARN": ARN, "WEBHOOK_SECRET": SECRET})
    assert current.webhook_secret == SECRET


def test_an_unreadable_secret_stops_the_start_with_a_sentence(secrets: Stubber) -> None:
    secrets.add_client_error("get_secret_value", "AccessDeniedException", "not allowed")
    with secrets, pytest.raises(SettingsError) as stopped:
        from_environment({"WEBHOOK_SECRET_ARN": ARN})
    assert "WEBHOOK_SECRET_ARN" in str(stopped.value) and "AccessDeniedException" in str(
        stopped.value
    )


def test_a_secret_that_is_not_a_whsec_key_is_refused_without_echoing_it(secrets: Stubber) -> None:
    secrets.add_response("get_secret_value", {"SecretString": "hunter2"}, {"SecretId": ARN})
    with secrets, pytest.raises(SettingsError) as stopped:
        from_environment({"WEBHOOK_SECRET_ARN": ARN})
    assert "WEBHOOK_SECRET" in str(stopped.value) and "hunter2" not in str(stopped.value)


def test_without_an_arn_the_local_default_stays() -> None:
    assert from_environment({}).webhook_secret == DEV_WEBHOOK_SECRET
