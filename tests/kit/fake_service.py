"""`python -m tests.kit.fake_service`: the fake dependency's promises, served like the service.

One process serves several flavors of the same fake promise, each under names of its own and
with its own settings, so the tests of each completion mode and batch limit share one
restate-server and one deployment. The settings every flavor shares come from `PROMISE_*`
variables (`PROMISE_POLL_INITIAL_S=0.05`, ...: the fields of `PromiseSettings`); where the fake
is, from `FAKE_DEPENDENCY_URL`. It is served by `service.serving.serve`, as Athena's is.
"""

import os
from collections.abc import Callable
from typing import Any

import restate
import uvloop

from service.promisify import PromiseSettings
from service.promisify.testing import fake_promise
from service.serving import HttpServer, serve

# Each flavor: its settings over the shared ones, and its batch limit.
FLAVORS: dict[str, tuple[dict[str, Any], int]] = {
    # Events, with the safety net for a lost one: most tests.
    "fakeJob": ({"completion_mode": "both"}, 5),
    "fakeEvents": ({"completion_mode": "events"}, 5),
    # One shard, 4 status calls a second: the quota is easy to check.
    "fakePoll": ({"completion_mode": "poll", "sweeper_shards": 1, "status_calls_per_s": 4}, 5),
    "fakeSingle": ({"completion_mode": "poll"}, 1),
    # The fake answers this flavor's batch describe with 501 (see `batch_unsupported`).
    "fakeNoBatch": ({"completion_mode": "poll"}, 5),
}


def shared_settings() -> dict[str, str]:
    return {
        name.removeprefix("PROMISE_").lower(): value
        for name, value in os.environ.items()
        if name.startswith("PROMISE_")
    }


def fixed(settings: PromiseSettings) -> Callable[[], PromiseSettings]:
    return lambda: settings


def app() -> Any:
    url, shared = os.environ["FAKE_DEPENDENCY_URL"], shared_settings()
    services = []
    for flavor, (overrides, batch_limit) in FLAVORS.items():
        settings = PromiseSettings.model_validate({**shared, **overrides})
        promise = fake_promise(flavor, url, fixed(settings), batch_limit)
        services.extend(promise.services)
    keys = [key for key in os.environ.get("RESTATE_IDENTITY_KEYS", "").split(",") if key]
    return restate.app(services=services, identity_keys=keys or None)


def main() -> None:
    port = int(os.environ["SERVICE_PORT"])
    # SERVICE_HTTP_SERVER as the service reads it: hypercorn when asked, else granian.
    asked = os.environ.get("SERVICE_HTTP_SERVER")
    http_server: HttpServer = "hypercorn" if asked == "hypercorn" else "granian"
    uvloop.run(serve(app(), "127.0.0.1", port, http_server))


if __name__ == "__main__":
    main()
