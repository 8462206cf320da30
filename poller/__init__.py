"""Long-polling client for the Restate query service: submit or attach, wait, print.

As a library (docs/client.md): `Client` (sync, requests) and `AsyncClient` (asyncio, aiohttp)
share one implementation of every call; `python -m poller` is built on `Client`.
"""

from typing import TYPE_CHECKING

from poller.errors import (
    BadRequest,
    GaveUp,
    IngressUnreachable,
    InvocationFailed,
    PromiseError,
    Refused,
    ServiceNotRegistered,
    UnexpectedAnswer,
    UnknownKey,
)
from poller.listing import ListFilters, PromiseEntry
from poller.models import (
    CancelAnswer,
    DeliveryStatus,
    PromiseStatus,
    QueryRequest,
    QueryResult,
    RedeliveryAnswer,
    Submitted,
)
from poller.sync import Client

if TYPE_CHECKING:
    from poller.aio import AsyncClient


def __getattr__(name: str) -> object:
    # aiohttp is imported only by a program that uses the async client, not by the CLI.
    if name == "AsyncClient":
        from poller.aio import AsyncClient

        return AsyncClient
    raise AttributeError(f"module 'poller' has no attribute {name!r}")


__all__ = [
    "AsyncClient",
    "BadRequest",
    "CancelAnswer",
    "Client",
    "DeliveryStatus",
    "GaveUp",
    "IngressUnreachable",
    "InvocationFailed",
    "ListFilters",
    "PromiseEntry",
    "PromiseError",
    "PromiseStatus",
    "QueryRequest",
    "QueryResult",
    "RedeliveryAnswer",
    "Refused",
    "ServiceNotRegistered",
    "Submitted",
    "UnexpectedAnswer",
    "UnknownKey",
]
