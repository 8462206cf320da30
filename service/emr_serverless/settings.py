"""Every setting of the EMR Serverless promise: environment variables, read in this one place.

The kit's knobs under its own names with the prefix EMR_SERVERLESS_ (so it never shares one
with Athena's promise by accident); only the webhook secret, the region and Restate's
identity keys are common to both.
"""

import functools
from ipaddress import IPv4Address

from pydantic import AliasChoices, Field, IPvAnyAddress, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from envconfig import ENV_CONFIG, load
from service.promisify import PromiseSettings
from service.serving import HttpServer
from webhooks.keys import DEV_WEBHOOK_SECRET, SigningKeys


class EmrServerlessSettings(BaseSettings, PromiseSettings):
    model_config = SettingsConfigDict(**ENV_CONFIG, env_prefix="EMR_SERVERLESS_")

    # Spark jobs run for hours: a longer deadline than the kit's default hour.
    default_timeout_s: float = Field(6 * 3600.0, gt=0)
    webhook_secret: str = Field(DEV_WEBHOOK_SECRET, repr=False, validation_alias="WEBHOOK_SECRET")
    region: str = Field(
        "us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    port: int = Field(9081, ge=1, le=65535)
    bind_host: IPvAnyAddress = IPv4Address("127.0.0.1")
    identity_keys: str = Field("", validation_alias="RESTATE_IDENTITY_KEYS")
    # What serves the endpoint, shared with Athena's service (service/serving.py).
    http_server: HttpServer = Field("granian", validation_alias="SERVICE_HTTP_SERVER")

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_is_usable(cls, secret: str) -> str:
        # whsec_ (v1) and/or whsk_ (v1a) keys; errors name a key by position, never its value
        SigningKeys.parse(secret, signing=True)
        return secret

    def promise_settings(self) -> PromiseSettings:
        return PromiseSettings(**self.model_dump(include=set(PromiseSettings.model_fields)))


@functools.lru_cache(maxsize=1)
def settings() -> EmrServerlessSettings:
    """Read once per process; `python -m service.emr_serverless` reads it at start."""
    return load(EmrServerlessSettings)
