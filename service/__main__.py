"""`python -m service`: serve Athena's Restate endpoint."""

import sys

import uvloop

from service.serving import bind_address as host_port
from service.serving import serve
from service.settings import Settings, SettingsError, settings


def bind_address(current: Settings) -> str:
    return host_port(str(current.bind_host), current.port)


def identity_warning(current: Settings) -> str | None:
    """A line for stderr when anyone who reaches the port could call every handler."""
    if current.identity_keys or current.bind_host.is_loopback:
        return None
    return (
        f"warning: RESTATE_IDENTITY_KEYS is not set and the service listens on "
        f"{current.bind_host}: any caller that reaches port {current.port} can invoke every "
        "handler. Set RESTATE_IDENTITY_KEYS to the restate-server's publickeyv1_... key."
    )


def start_telemetry(current: Settings) -> None:
    """Metrics on their own port and spans to a collector, when the settings ask for them."""
    from service.promisify import telemetry

    telemetry.start(
        current.metrics_port,
        str(current.bind_host),
        current.otel_exporter_otlp_traces_endpoint,
        current.otel_service_name,
    )


def athena_app() -> object:
    # Imported here, once the settings are known to be good: the endpoint reads them.
    from service.app import app

    return app


def main() -> None:
    try:
        current = settings()  # read once here, so a bad value stops the start
    except SettingsError as error:
        sys.exit(f"error: {error}")
    warning = identity_warning(current)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    # uvloop: the same asyncio API, with the loop and sockets in C (measured in `make bench`).
    app = athena_app()
    start_telemetry(current)
    uvloop.run(serve(app, str(current.bind_host), current.port, current.http_server))


if __name__ == "__main__":
    main()
