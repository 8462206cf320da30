"""Awaiting a durable future on which the invocation may be suspended.

`await future` runs through the SDK's lazy future (restate-sdk 1.3.0): it wraps the wait in
a task and keeps it, so when Restate suspends the invocation there, the task ends with the
suspension, whose traceback holds the lazy future again. That cycle holds the whole
invocation (its context, state machine, receive channel and HTTP/2 stream: about 90
objects) until the cyclic collector finds it. Waiting through `restate.gather` first
suspends without that task; the value is read only once it is there.
"""

from typing import TypeVar

import restate

T = TypeVar("T")


async def outcome_of(future: restate.RestateDurableFuture[T]) -> T:
    """`await future`, leaving nothing behind if the invocation suspends on it."""
    await restate.gather(future)
    return await future
