"""Settings of the local Athena: CLI flags over LOCAL_ATHENA_* variables over defaults."""

import argparse
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings

from envconfig import ENV_CONFIG, SettingsError, load, variables

DAY_S = 24 * 3600


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _env(field: str, name: str) -> AliasChoices:
    # The field name too, so flags and `POST /_local/config` can use it.
    return AliasChoices(f"LOCAL_ATHENA_{name}", field)


class LocalAthenaConfig(BaseSettings):
    """One live instance is shared by the whole app, so runtime updates reach every part."""

    model_config = ENV_CONFIG | {"env_prefix": "LOCAL_ATHENA_", "validate_assignment": True}

    host: str = "127.0.0.1"
    # 0 asks the OS for a free port.
    port: int = Field(default=9200, ge=0, le=65535)
    data_dir: Path = Field(default=Path("data"), validation_alias=_env("data_dir", "DATA"))
    # Where `s3://bucket/key` result files land: `<results_dir>/bucket/key`.
    results_dir: Path = Path(tempfile.gettempdir()) / "local-athena-results"
    # Athena keeps a query QUEUED briefly and never finishes in under a second or so.
    queue_delay_s: float = Field(
        default=0.3, ge=0, le=3600, validation_alias=_env("queue_delay_s", "QUEUE_DELAY")
    )
    run_time_s: float = Field(
        default=1.5, ge=0, le=3600, validation_alias=_env("run_time_s", "RUN_TIME")
    )
    throttle_rate: float = Field(default=0.0, ge=0, le=1)
    # Athena's account quotas: StartQueryExecution and the Get* calls, per second (0: none).
    start_rate_limit: float = Field(default=0.0, ge=0, le=10_000)
    get_rate_limit: float = Field(default=0.0, ge=0, le=10_000)
    # `{queryExecutionId}` in the URL is replaced, like an API destination's path parameter.
    events_url: str | None = None
    # Like the rule's event pattern: only these states are sent (empty: all).
    events_states: str = Field(default="", max_length=200)
    drop_events_rate: float = Field(default=0.0, ge=0, le=1)
    # EventBridge retries an API destination for up to 24 hours with exponential backoff.
    events_retry_window_s: float = Field(
        default=DAY_S,
        ge=0,
        le=7 * DAY_S,
        validation_alias=_env("events_retry_window_s", "EVENTS_RETRY_WINDOW"),
    )
    events_max_backoff_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        validation_alias=_env("events_max_backoff_s", "EVENTS_MAX_BACKOFF"),
    )
    region: str = Field(default_factory=default_region)
    # The credentials a request for a result file must be signed with (SigV4, as S3 checks):
    # the local stack gives the service the same ones.
    s3_access_key_id: str = Field(default="local", min_length=1)
    s3_secret_access_key: str = Field(default="local", min_length=1, repr=False, exclude=True)
    # The workgroups (name, output location, enforce configuration, state); None: the
    # bundled infra/local/athena/workgroups.json.
    workgroups_file: Path | None = Field(
        default=None, validation_alias=_env("workgroups_file", "WORKGROUPS")
    )

    @field_validator("workgroups_file")
    @classmethod
    def _workgroups_are_readable(cls, path: Path | None) -> Path | None:
        from .workgroups import WorkGroups  # its own module; read here so a bad file stops us

        try:
            WorkGroups.load(path)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read the workgroups from {path}: {error}") from None
        return path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class ConfigUpdate(BaseModel):
    """The part of the config that `POST /_local/config` may change while running."""

    model_config = ConfigDict(extra="forbid")

    queue_delay_s: float | None = Field(default=None, ge=0, le=3600)
    run_time_s: float | None = Field(default=None, ge=0, le=3600)
    throttle_rate: float | None = Field(default=None, ge=0, le=1)
    start_rate_limit: float | None = Field(default=None, ge=0, le=10_000)
    get_rate_limit: float | None = Field(default=None, ge=0, le=10_000)
    drop_events_rate: float | None = Field(default=None, ge=0, le=1)
    events_url: str | None = None
    events_states: str | None = Field(default=None, max_length=200)
    events_retry_window_s: float | None = Field(default=None, ge=0, le=7 * DAY_S)
    events_max_backoff_s: float | None = Field(default=None, gt=0, le=3600)

    def apply_to(self, config: LocalAthenaConfig) -> None:
        # Only fields present in the request change; an explicit null clears events_url.
        for name in self.model_fields_set:
            setattr(config, name, getattr(self, name))


# Flag, field, and what the help says after the variable's name.
_FLAGS = [
    ("--host", "host", "address to listen on"),
    ("--port", "port", "port to listen on, 0 for any free one"),
    ("--data", "data_dir", "folder of the table's .jsonl files"),
    ("--results-dir", "results_dir", "where s3://bucket/key result files are written"),
    ("--queue-delay", "queue_delay_s", "seconds a query stays QUEUED"),
    ("--run-time", "run_time_s", "least seconds a query stays RUNNING"),
    ("--throttle-rate", "throttle_rate", "share of calls refused as throttled, 0 to 1"),
    ("--start-rate-limit", "start_rate_limit", "StartQueryExecution calls a second, 0: any"),
    ("--get-rate-limit", "get_rate_limit", "Get* and BatchGet* calls a second, 0: any"),
    ("--events-url", "events_url", "where events are POSTed; {queryExecutionId} is replaced"),
    ("--events-states", "events_states", "only events for these states, comma separated"),
    ("--drop-events-rate", "drop_events_rate", "share of events never sent, 0 to 1"),
    ("--events-retry-window", "events_retry_window_s", "seconds an event is retried"),
    ("--events-max-backoff", "events_max_backoff_s", "longest wait between retries, seconds"),
    ("--workgroups", "workgroups_file", "JSON file of workgroups (default: the bundled one)"),
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.athena",
        description="An Athena-compatible endpoint (JSON 1.1 protocol) that runs SQL on DuckDB.",
    )
    for flag, field, text in _FLAGS:
        variable = variables(LocalAthenaConfig, field)[0]
        default = LocalAthenaConfig.model_fields[field].default
        shown = "" if default is None else f", default {default}"
        # Strings here: pydantic converts and checks them, so errors name the variable.
        parser.add_argument(flag, dest=field, help=f"{text} ({variable}{shown})")
    return parser


def parse_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> LocalAthenaConfig:
    """The settings, or exit 2 with one sentence naming the variable (and its flag)."""
    parser = _parser()
    args = parser.parse_args(argv)
    flags = {field: getattr(args, field) for _, field, _ in _FLAGS}
    try:
        return load(LocalAthenaConfig, environ, **flags)
    except SettingsError as error:
        parser.error(f"{error} (or the matching flag; see --help)")
