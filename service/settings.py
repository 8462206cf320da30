"""Every setting of the service: environment variables, read in this one place."""

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from ipaddress import IPv4Address

import boto3
import restate
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AliasChoices, Field, IPvAnyAddress, field_validator
from pydantic_settings import BaseSettings

from envconfig import ENV_CONFIG, SettingsError, load
from service.promisify.settings import CompletionMode, PromiseSettings
from service.serving import HttpServer
from webhooks.keys import DEV_WEBHOOK_SECRET, SigningKeys

__all__ = ["CompletionMode", "Settings", "SettingsError", "from_environment", "settings"]

HOUR_S = 3600.0
DAY_S = 24 * HOUR_S
# SigV4's limit on a presigned URL's X-Amz-Expires.
MAX_LINK_EXPIRES_S = 7 * 24 * 3600


class Settings(BaseSettings):
    """Each field is read from its upper-case name, unless an alias says otherwise."""

    model_config = ENV_CONFIG

    # Athena. boto3 itself honours AWS_ENDPOINT_URL_ATHENA, which points it at the local Athena.
    aws_region: str = Field(
        "us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    athena_workgroup: str = Field("primary", min_length=1, max_length=128)
    athena_database: str = Field("demo_db", min_length=1, max_length=255)
    athena_output_location: str | None = Field(None, pattern=r"^s3://")
    # Unset: Athena's own default catalog (AwsDataCatalog), and no Catalog is sent.
    athena_catalog: str | None = Field(None, min_length=1, max_length=256)
    # What a request may name besides the defaults above: space or comma separated names
    # (catalogs and databases compared case-insensitively, as Athena does), and s3:// prefixes.
    athena_allowed_catalogs: str = ""
    athena_allowed_databases: str = ""
    athena_allowed_workgroups: str = ""
    athena_allowed_output_locations: str = ""
    # Result reuse for a request that does not say (0: off, up to Athena's 10,080 minutes).
    athena_result_reuse_minutes: int = Field(0, ge=0, le=10_080)

    # How the service learns that a query finished.
    completion_mode: CompletionMode = "both"
    poll_initial_s: float = Field(0.25, gt=0, le=HOUR_S)
    poll_max_s: float = Field(5.0, gt=0, le=HOUR_S)
    # In `both` mode events do the work; this slow poll only catches a lost event.
    safety_net_interval_s: float = Field(30.0, gt=0, le=HOUR_S)
    # Athena's Get* quota is shared by the account: all parked promises together make at most
    # this many status calls a second, in batches of 50, over this many sweeper shards.
    athena_status_calls_per_s: float = Field(10.0, gt=0, le=100)
    sweeper_shards: int = Field(16, ge=1, le=1024)

    # How long an Athena call is retried (throttling, 5xx, network) before the promise gives up
    # on it and ends FAILED.
    athena_retry_window_s: float = Field(600.0, gt=0, le=DAY_S)

    # Results.
    default_max_rows: int = Field(10_000, ge=0, le=100_000)
    default_timeout_s: float = Field(HOUR_S, gt=0, le=DAY_S)
    # Results by link: a result file over this many bytes goes as a presigned link, not rows
    # (unset: only a request that asks). AWS_ENDPOINT_URL_S3 points boto3 at a local S3.
    athena_result_link_above_bytes: int | None = Field(None, ge=0)
    # How long a link works: S3 allows 7 days, and no longer than the signer's credentials.
    athena_result_link_expires_s: int = Field(3600, ge=1, le=MAX_LINK_EXPIRES_S)

    # Webhooks. The default secret is published: set WEBHOOK_SECRET anywhere but locally.
    webhook_secret: str = Field(DEV_WEBHOOK_SECRET, repr=False)
    # On Lambda: the Secrets Manager secret holding WEBHOOK_SECRET, read once at start.
    webhook_secret_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:secretsmanager:")
    allow_private_callbacks: bool = False
    webhook_attempt_timeout_s: float = Field(15.0, gt=0, le=300)
    webhook_retry_window_s: float = Field(DAY_S, gt=0, le=7 * DAY_S)
    webhook_first_backoff_s: float = Field(1.0, gt=0, le=HOUR_S)
    webhook_max_backoff_s: float = Field(600.0, gt=0, le=DAY_S)

    port: int = Field(9080, ge=1, le=65535, validation_alias="SERVICE_PORT")
    # What serves the endpoint: granian (HTTP/2 in Rust, less CPU) or hypercorn (pure Python).
    http_server: HttpServer = Field("granian", validation_alias="SERVICE_HTTP_SERVER")
    # Loopback unless told otherwise: a container sets 0.0.0.0 (or ::) to be reachable.
    bind_host: IPvAnyAddress = Field(IPv4Address("127.0.0.1"), validation_alias="SERVICE_BIND_HOST")
    # Restate's request identity: the public keys (publickeyv1_...) of the restate-servers
    # allowed to call this endpoint, space or comma separated. Empty: requests are not checked.
    restate_identity_keys: str = ""

    # Prometheus metrics at http://SERVICE_BIND_HOST:METRICS_PORT/metrics; unset: not served.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    # OpenTelemetry: spans exported by OTLP/HTTP to this URL (.../v1/traces); unset: none.
    otel_exporter_otlp_traces_endpoint: str | None = Field(None, pattern=r"^https?://")
    otel_service_name: str = Field("athena-promise", min_length=1)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_is_usable(cls, secret: str) -> str:
        # whsec_ (v1) and/or whsk_ (v1a) keys; errors name a key by position, never its value
        SigningKeys.parse(secret, signing=True)
        return secret

    @field_validator("athena_allowed_output_locations")
    @classmethod
    def _output_prefixes_are_s3(cls, prefixes: str) -> str:
        for prefix in split_keys(prefixes):
            if not prefix.startswith("s3://") or len(prefix) <= len("s3://"):
                raise ValueError(f"{prefix!r} is not an s3:// prefix (s3://bucket/path/)")
        return prefixes

    @field_validator("restate_identity_keys")
    @classmethod
    def _identity_keys_are_usable(cls, keys: str) -> str:
        for number, key in enumerate(split_keys(keys), 1):
            try:
                restate.app(services=[], identity_keys=[key])  # the SDK's own key parser
            except Exception as error:  # the SDK's IdentityKeyException, from Rust
                raise ValueError(
                    f"key #{number} is not a Restate request identity public key "
                    f"(publickeyv1_...): {error}"
                ) from None
        return keys

    @property
    def identity_keys(self) -> list[str]:
        return split_keys(self.restate_identity_keys)

    @property
    def allowed_catalogs(self) -> list[str]:
        return _with_default(self.athena_catalog or DEFAULT_CATALOG, self.athena_allowed_catalogs)

    @property
    def allowed_databases(self) -> list[str]:
        return _with_default(self.athena_database, self.athena_allowed_databases)

    @property
    def allowed_workgroups(self) -> list[str]:
        return _with_default(self.athena_workgroup, self.athena_allowed_workgroups)

    @property
    def allowed_output_locations(self) -> list[str]:
        default = self.athena_output_location
        listed = split_keys(self.athena_allowed_output_locations)
        return ([default] if default and default not in listed else []) + listed

    def promise_settings(self) -> PromiseSettings:
        """The kit's knobs, from this deployment's variables (Athena's names for its own)."""
        return PromiseSettings(
            completion_mode=self.completion_mode,
            poll_initial_s=self.poll_initial_s,
            poll_max_s=self.poll_max_s,
            safety_net_interval_s=self.safety_net_interval_s,
            status_calls_per_s=self.athena_status_calls_per_s,
            sweeper_shards=self.sweeper_shards,
            retry_window_s=self.athena_retry_window_s,
            default_timeout_s=self.default_timeout_s,
            webhook_secret=self.webhook_secret,
            allow_private_callbacks=self.allow_private_callbacks,
            webhook_attempt_timeout_s=self.webhook_attempt_timeout_s,
            webhook_retry_window_s=self.webhook_retry_window_s,
            webhook_first_backoff_s=self.webhook_first_backoff_s,
            webhook_max_backoff_s=self.webhook_max_backoff_s,
        )


def split_keys(keys: str) -> list[str]:
    return [key for key in re.split(r"[\s,]+", keys) if key]


# Athena's name for the account's Glue Data Catalog, used when a query names no catalog.
DEFAULT_CATALOG = "AwsDataCatalog"


def _with_default(default: str, listed: str) -> list[str]:
    """The default first, then the operator's list (the default is always allowed)."""
    names = split_keys(listed)
    return [default, *(name for name in names if name != default)]


def from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from `environ` (default: the process environment), or a SettingsError.

    On Lambda the webhook secret is not in the environment: WEBHOOK_SECRET_ARN names the
    Secrets Manager secret that holds it, read here once per execution environment.
    """
    values = dict(os.environ if environ is None else environ)
    arn = values.get("WEBHOOK_SECRET_ARN")
    if arn and not values.get("WEBHOOK_SECRET"):
        values["WEBHOOK_SECRET"] = read_secret(arn)
    return load(Settings, values)


def read_secret(arn: str) -> str:
    """The secret's text; a SettingsError names the variable and the ARN, never the value."""
    try:
        answer = boto3.client("secretsmanager").get_secret_value(SecretId=arn)
        return answer["SecretString"].strip()
    except (BotoCoreError, ClientError, KeyError) as error:
        raise SettingsError(
            f"WEBHOOK_SECRET_ARN={arn!r}: the secret could not be read ({error}); check that "
            "it exists in this region and that the function's role may read it."
        ) from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read once per process; `python -m service` calls it at start, so bad values stop it."""
    return from_environment()
