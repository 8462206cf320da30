"""How calls to the dependency become durable steps: transient failures retried, refusals not.

Throttling, 5xx and network errors are retried with capped exponential backoff; after the
retry window of failure the step gives up and the promise ends FAILED rather than hanging on
an unreachable dependency. A `JobRefused` is final at once: a terminal error.
"""

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import restate
from restate import RunOptions, TerminalError

from service.promisify.job import JobRefused

P = ParamSpec("P")
T = TypeVar("T")


def retrying(window_s: float, result: type[T] | None = None) -> RunOptions[T]:
    return RunOptions[T](
        type_hint=result,
        initial_retry_interval=timedelta(milliseconds=200),
        retry_interval_factor=2.0,
        max_retry_interval=timedelta(seconds=10),
        max_duration=timedelta(seconds=window_s),
    )


def final_on_refusal(action: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn the dependency's permanent refusals into terminal errors: no retry can help."""

    @functools.wraps(action)
    async def step(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await action(*args, **kwargs)
        except JobRefused as refusal:
            raise TerminalError(str(refusal), refusal.status_code) from None

    return step


async def durable_call(
    ctx: restate.Context,
    name: str,
    action: Callable[..., Awaitable[T]],
    *args: Any,
    result: type[T],
    window_s: float,
) -> T:
    """One call to the dependency as one journaled step."""
    step: Callable[..., Awaitable[T]] = final_on_refusal(action)
    return await ctx.run_typed(name, step, retrying(window_s, result), *args)  # type: ignore[call-overload]


class DurableSteps:
    """`Steps` for an adapter's `collect`: each call a journaled step, progress in the record."""

    def __init__(
        self,
        ctx: restate.Context,
        window_s: float,
        progress: Callable[[int], None],
        before_first: Callable[[], None],
    ) -> None:
        self._ctx = ctx
        self._window_s = window_s
        self._progress = progress
        # Called once, before the first step: a read that needs no step costs no record write.
        self._before_first: Callable[[], None] | None = before_first

    async def run(
        self, name: str, action: Callable[..., Awaitable[T]], *args: Any, result: type[T]
    ) -> T:
        before_first, self._before_first = self._before_first, None
        if before_first is not None:
            before_first()
        return await durable_call(
            self._ctx, name, action, *args, result=result, window_s=self._window_s
        )

    def progress(self, items_so_far: int) -> None:
        self._progress(items_so_far)
