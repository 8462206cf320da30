"""Settings of the local Athena: CLI flags over environment variables over defaults."""

import argparse
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"LOCAL_ATHENA_{name}", default)


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class LocalAthenaConfig(BaseModel):
    """One live instance is shared by the whole app, so runtime updates reach every part."""

    model_config = ConfigDict(validate_assignment=True)

    host: str = "127.0.0.1"
    port: int = Field(default=9200, ge=0, le=65535)
    data_dir: Path = Path("data")
    # Athena keeps a query QUEUED briefly and never finishes in under a second or so.
    queue_delay_s: float = Field(default=0.3, ge=0)
    run_time_s: float = Field(default=1.5, ge=0)
    throttle_rate: float = Field(default=0.0, ge=0, le=1)
    events_url: str | None = None
    drop_events_rate: float = Field(default=0.0, ge=0, le=1)
    region: str = Field(default_factory=default_region)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class ConfigUpdate(BaseModel):
    """The part of the config that `POST /_local/config` may change while running."""

    model_config = ConfigDict(extra="forbid")

    queue_delay_s: float | None = Field(default=None, ge=0)
    run_time_s: float | None = Field(default=None, ge=0)
    throttle_rate: float | None = Field(default=None, ge=0, le=1)
    drop_events_rate: float | None = Field(default=None, ge=0, le=1)
    events_url: str | None = None

    def apply_to(self, config: LocalAthenaConfig) -> None:
        # Only fields present in the request change; an explicit null clears events_url.
        for name in self.model_fields_set:
            setattr(config, name, getattr(self, name))


def parse_args(argv: list[str] | None = None) -> LocalAthenaConfig:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.athena",
        description="An Athena-compatible endpoint (JSON 1.1 protocol) that runs SQL on DuckDB.",
    )
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(_env("PORT", "9200") or 9200))
    parser.add_argument("--data", type=Path, default=Path(_env("DATA", "data") or "data"))
    parser.add_argument("--queue-delay", type=float, default=_env("QUEUE_DELAY"), metavar="S")
    parser.add_argument("--run-time", type=float, default=_env("RUN_TIME"), metavar="S")
    parser.add_argument("--throttle-rate", type=float, default=_env("THROTTLE_RATE"))
    parser.add_argument("--events-url", default=_env("EVENTS_URL"))
    parser.add_argument("--drop-events-rate", type=float, default=_env("DROP_EVENTS_RATE"))
    args = parser.parse_args(argv)
    chosen = {
        "host": args.host,
        "port": args.port,
        "data_dir": args.data,
        "queue_delay_s": args.queue_delay,
        "run_time_s": args.run_time,
        "throttle_rate": args.throttle_rate,
        "events_url": args.events_url or None,
        "drop_events_rate": args.drop_events_rate,
    }
    return LocalAthenaConfig.model_validate({k: v for k, v in chosen.items() if v is not None})
