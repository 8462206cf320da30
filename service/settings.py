"""Every setting of the service, read from the environment in this one place."""

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

CompletionMode = Literal["events", "poll", "both"]


class Settings(BaseModel):
    # Athena. boto3 itself honours AWS_ENDPOINT_URL_ATHENA, which points it at the local Athena.
    aws_region: str = "us-east-1"
    athena_workgroup: str = "primary"
    athena_database: str = "demo_db"
    athena_output_location: str | None = None

    # How the service learns that a query finished.
    completion_mode: CompletionMode = "both"
    poll_initial_s: float = Field(0.25, gt=0)
    poll_max_s: float = Field(5.0, gt=0)
    # In `both` mode events do the work; this slow poll only catches a lost event.
    safety_net_interval_s: float = Field(30.0, gt=0)
    # Status checks per watcher invocation before it continues as a new one.
    watch_checks_per_invocation: int = Field(100, ge=1)

    # Results.
    default_max_rows: int = Field(10_000, ge=0)
    default_timeout_s: float = Field(3600.0, gt=0)

    # Webhooks.
    webhook_secret: str = "whsec_bG9jYWwtZGV2ZWxvcG1lbnQtc2VjcmV0LW5vdC1mb3ItcHJvZHVjdGlvbg=="
    allow_private_callbacks: bool = False
    webhook_attempt_timeout_s: float = Field(15.0, gt=0)
    webhook_retry_window_s: float = Field(24 * 3600.0, gt=0)
    webhook_first_backoff_s: float = Field(1.0, gt=0)
    webhook_max_backoff_s: float = Field(600.0, gt=0)

    port: int = 9080


# Environment variable for each setting; unset ones keep the local defaults above.
_ENV = {
    "aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "athena_workgroup": ("ATHENA_WORKGROUP",),
    "athena_database": ("ATHENA_DATABASE",),
    "athena_output_location": ("ATHENA_OUTPUT_LOCATION",),
    "completion_mode": ("COMPLETION_MODE",),
    "poll_initial_s": ("POLL_INITIAL_S",),
    "poll_max_s": ("POLL_MAX_S",),
    "safety_net_interval_s": ("SAFETY_NET_INTERVAL_S",),
    "watch_checks_per_invocation": ("WATCH_CHECKS_PER_INVOCATION",),
    "default_max_rows": ("DEFAULT_MAX_ROWS",),
    "default_timeout_s": ("DEFAULT_TIMEOUT_S",),
    "webhook_secret": ("WEBHOOK_SECRET",),
    "allow_private_callbacks": ("ALLOW_PRIVATE_CALLBACKS",),
    "webhook_attempt_timeout_s": ("WEBHOOK_ATTEMPT_TIMEOUT_S",),
    "webhook_retry_window_s": ("WEBHOOK_RETRY_WINDOW_S",),
    "webhook_first_backoff_s": ("WEBHOOK_FIRST_BACKOFF_S",),
    "webhook_max_backoff_s": ("WEBHOOK_MAX_BACKOFF_S",),
    "port": ("SERVICE_PORT",),
}


class SettingsError(ValueError):
    """A setting's environment variable holds a value the service cannot use."""


def from_environment(environ: dict[str, str] | os._Environ[str] = os.environ) -> Settings:
    values, source = {}, {}
    for field, names in _ENV.items():
        for name in names:
            if environ.get(name):
                values[field], source[field] = environ[name], name
                break
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        problems = [
            f"{source.get(str(item['loc'][0]), item['loc'][0])}={item['input']!r}: {item['msg']}"
            for item in error.errors()
        ]
        raise SettingsError("Invalid setting. " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    return from_environment()
