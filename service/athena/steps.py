"""How Athena calls become durable steps: retry transient failures, stop on permanent ones."""

import functools
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from restate import RunOptions, TerminalError

from service.athena.client import AthenaQueries, AthenaRequestRejected
from service.settings import settings

P = ParamSpec("P")
T = TypeVar("T")


@functools.lru_cache(maxsize=4)
def athena_retry(at_most_s: float | None = None) -> RunOptions[Any]:
    """Throttling, 5xx and network errors are retried with capped exponential backoff; after
    ATHENA_RETRY_WINDOW_S (10 minutes; `at_most_s` may shorten it) of failure the step gives
    up, and the promise ends FAILED rather than hanging on an unreachable endpoint."""
    window_s = settings().athena_retry_window_s
    return RunOptions[Any](
        initial_retry_interval=timedelta(milliseconds=200),
        retry_interval_factor=2.0,
        max_retry_interval=timedelta(seconds=10),
        max_duration=timedelta(seconds=min(window_s, at_most_s or window_s)),
    )


# Which permanent Athena errors are the caller's to fix (400) and which are ours (502).
_STATUS_FOR_CODE = {"InvalidRequestException": 400, "ValidationException": 400}


@functools.lru_cache(maxsize=1)
def athena() -> AthenaQueries:
    """One adapter (and boto3 client) per process, built from the settings."""
    return AthenaQueries(settings())


def terminal_on_rejection(
    action: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn Athena's permanent refusals into terminal errors, so Restate stops retrying them."""

    @functools.wraps(action)  # run_typed picks its serializer from the wrapped return annotation
    async def step(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await action(*args, **kwargs)
        except AthenaRequestRejected as rejection:
            raise TerminalError(str(rejection), _STATUS_FOR_CODE.get(rejection.code, 502)) from None

    return step
