"""The local stack gives the service and the listener one webhook secret: WEBHOOK_SECRET when
it is set, the published development secret otherwise; a bad one stops the stack at once."""

from pathlib import Path

import pytest

from envconfig import SettingsError
from infra.local.components import define_components
from infra.local.config import StackConfig
from infra.local.stack import Ports
from webhooks.keys import DEV_WEBHOOK_SECRET

OWN_SECRET = "whsec_" + "b3duLXNlY3JldC1vZi10aGlzLXRlYW0tMzItYnl0ZXMh"


def secrets_given(tmp_path: Path) -> dict[str, str]:
    config = StackConfig(base_dir=tmp_path, ports=Ports.free())
    processes = define_components(config, tmp_path)
    return {
        process.name: process.env["WEBHOOK_SECRET"]
        for process in processes
        if process.name in ("service", "listener")
    }


def test_a_secret_in_the_environment_reaches_service_and_listener(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", OWN_SECRET)
    assert secrets_given(tmp_path) == {"service": OWN_SECRET, "listener": OWN_SECRET}


def test_without_one_both_get_the_development_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    given = secrets_given(tmp_path)
    assert given == {"service": DEV_WEBHOOK_SECRET, "listener": DEV_WEBHOOK_SECRET}


def test_a_bad_secret_stops_the_stack_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", "hunter2-is-not-a-key")
    with pytest.raises(SettingsError) as stopped:
        StackConfig()
    assert "WEBHOOK_SECRET" in str(stopped.value) and "hunter2" not in str(stopped.value)
