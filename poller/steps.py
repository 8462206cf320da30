"""What the client's logic asks its driver to do, and what it is told back: no I/O here.

Every operation of the client (submit, wait, status, cancel, list, ...) is a generator that
yields `HttpRequest`s and `Sleep`s and is sent back an `HttpResponse` or a `TransportFailure`
for each request (None for a sleep); its return value is the operation's answer. The sync
client (`requests`) and the async one (`aiohttp`) each drive the same generators with a loop
of a few lines, so backoff, retries and verdicts exist once.
"""

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    timeout_s: float
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    content: bytes
    reason: str = ""
    # Header names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TransportFailure:
    """No HTTP answer: the request timed out, or the connection failed or was lost."""

    reason: str
    # Nothing answered at all (refused, unresolvable, connect timeout): the server is down.
    could_not_connect: bool
    timed_out: bool = False


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = HttpRequest | Sleep
Outcome = HttpResponse | TransportFailure | None
Operation = Generator[Step, Outcome, T]


def exchange(request: HttpRequest) -> Generator[Step, Outcome, HttpResponse | TransportFailure]:
    """Send one request; its answer (`yield from exchange(...)` inside an operation)."""
    outcome = yield request
    if outcome is None:  # only a Sleep is answered with None
        raise RuntimeError("the driver answered a request with nothing")
    return outcome
