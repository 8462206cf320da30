"""The kit's test kit: a fake dependency to drive the durable promise against a real Restate.

- `FakeDependency` runs in the test process: jobs in memory, scripted states, emitted events,
  injected faults and call counts, served over HTTP on a free loopback port.
- `FakeJob` is the `Job` adapter the service process uses; it reaches the fake over HTTP, so
  killing the service loses nothing of the fake's memory.
- `fake_promise(flavor, ...)` is a whole `DurablePromise` around a `FakeJob`: its Restate
  services are named after the flavor (`fakeJob`, `fakeJobPromise`, ...), so one service
  process can serve several, each with its own settings (completion mode, batch limit).

A job's spec (the request's `spec` field) is its script: see `script.py`.
"""

from collections.abc import Callable

from service.promisify.kit import DurablePromise
from service.promisify.settings import PromiseSettings, ServiceNames
from service.promisify.testing.adapter import (
    EVENT_KIND,
    FakeJob,
    FakeRequest,
    FakeResult,
    FakeRows,
    FakeStatus,
)
from service.promisify.testing.dependency import Call, FakeDependency, FakeJobRecord
from service.promisify.testing.script import Fault, Script, parse_spec

FRONT_HANDLER = "submit"

__all__ = [
    "EVENT_KIND",
    "FRONT_HANDLER",
    "Call",
    "FakeDependency",
    "FakeJob",
    "FakeJobRecord",
    "FakeRequest",
    "FakeResult",
    "Fault",
    "Script",
    "fake_names",
    "fake_promise",
    "parse_spec",
]


def fake_names(flavor: str) -> ServiceNames:
    """Every Restate name of the flavor's promise, distinct from any other flavor's."""
    return ServiceNames(
        front=flavor,
        front_handler=FRONT_HANDLER,
        promise=f"{flavor}Promise",
        mailbox=f"{flavor}Mailbox",
        sweeper=f"{flavor}Sweeper",
        delivery=f"{flavor}Delivery",
        events=f"{flavor}Events",
        direct=f"{flavor}Direct",
    )


def fake_promise(
    flavor: str, fake_url: str, settings: Callable[[], PromiseSettings], batch_limit: int = 5
) -> DurablePromise[FakeRequest, FakeStatus, FakeRows, FakeResult]:
    names = fake_names(flavor)
    job = FakeJob(fake_url, flavor=flavor, mailbox=names.mailbox, batch_limit=batch_limit)
    return DurablePromise(job, names, settings)
