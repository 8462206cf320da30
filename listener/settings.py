"""The listener's settings: environment variables with local defaults, overridden by flags."""

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from envconfig import ENV_CONFIG, SettingsError, load
from listener.faults import FaultPlan
from webhooks.keys import DEV_WEBHOOK_SECRET, SigningKeys

MIB = 1024 * 1024


class ListenerSettings(BaseSettings):
    """Each field from LISTENER_<NAME>, except the secret, which the sender shares."""

    model_config = ENV_CONFIG | {"env_prefix": "LISTENER_"}

    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)
    # One key, or several separated by spaces or commas while a key is rotated: `whsec_`
    # shared secrets check v1 signatures, `whpk_` public keys v1a ones (a `whsk_` key, as the
    # local stack shares with the service, checks v1a too). The default is a published
    # development key: set WEBHOOK_SECRET anywhere else.
    secret: str = Field(default=DEV_WEBHOOK_SECRET, repr=False, validation_alias="WEBHOOK_SECRET")
    store: Path = Path(".listener/deliveries.sqlite3")
    max_body_bytes: int = Field(default=10 * MIB, gt=0, le=1024 * MIB)
    tolerance_s: int = Field(default=5 * 60, gt=0, le=24 * 3600)
    # Where the page at / pulls each pushed promise from, to show the two side by side.
    ingress: str = Field(
        default="http://127.0.0.1:8080",
        pattern=r"^https?://",
        validation_alias="RESTATE_INGRESS_URL",
    )

    @field_validator("secret")
    @classmethod
    def _secret_decodes(cls, secret: str) -> str:
        # Refuse a bad secret at startup rather than 401 on every delivery.
        SigningKeys.parse(secret)
        return secret

    @property
    def signing_keys(self) -> SigningKeys:
        return SigningKeys.parse(self.secret)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m listener",
        description="Receive signed QueryResult webhooks, verify, de-duplicate and store them.",
    )
    parser.add_argument("--host", help="address to listen on (LISTENER_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (LISTENER_PORT, 9000)")
    parser.add_argument(
        "--secret",
        help="whsec_ secret(s) and/or whpk_ public key(s), space/comma separated (WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--store", help="SQLite file (LISTENER_STORE, .listener/deliveries.sqlite3)"
    )
    parser.add_argument("--max-body-bytes", type=int, help="larger bodies get 413 (10 MiB)")
    parser.add_argument(
        "--tolerance-s",
        type=int,
        help="how far webhook-timestamp may be from now, in seconds (LISTENER_TOLERANCE_S, 300)",
    )
    parser.add_argument(
        "--ingress",
        help="Restate ingress the page at / pulls results from (RESTATE_INGRESS_URL, :8080)",
    )
    faults = parser.add_argument_group("fault injection, for tests of the sender's retries")
    faults.add_argument(
        "--fail-first",
        type=int,
        default=0,
        metavar="N",
        help="answer the first N callbacks with --fail-status, unverified",
    )
    faults.add_argument(
        "--fail-always", action="store_true", help="answer every callback with --fail-status"
    )
    faults.add_argument("--fail-status", type=int, default=500, metavar="CODE")
    faults.add_argument(
        "--fail-retry-after", type=int, metavar="SECONDS", help="send Retry-After with the failures"
    )
    return parser


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[ListenerSettings, FaultPlan | None]:
    """Settings from the environment and the command line (flags win), plus any fault plan."""
    parser = _parser()
    args = parser.parse_args(argv)
    flags = {field: getattr(args, field, None) for field in ListenerSettings.model_fields}
    try:
        settings = load(ListenerSettings, environ, **flags)
        faults = _fault_plan(args)
    except SettingsError as error:
        parser.error(str(error))
    except ValueError as error:
        parser.error(str(error))
    return settings, faults


def _fault_plan(args: argparse.Namespace) -> FaultPlan | None:
    if args.fail_always:
        return FaultPlan.forever(args.fail_status, args.fail_retry_after)
    if args.fail_first > 0:
        return FaultPlan.first(args.fail_first, args.fail_status, args.fail_retry_after)
    return None
