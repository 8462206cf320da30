"""Every way a promise can end, and the one table where each becomes the result's state.

The job finishing is the ordinary ending. The others (the deadline, a cancel, a step that
failed for good) stop the job first; if it had finished anyway, its real state and result
stand, because the result exists and is already paid for.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal, TypeVar

from pydantic import BaseModel
from restate import TerminalError

from service.promisify.job import Meaning, ResultState

# The status code the Restate SDK gives the TerminalError raised when an invocation is cancelled.
CANCELLED_STATUS = 409

# The reason recorded when Restate's own cancel (admin API, CLI, UI) ended a promise.
RESTATE_CANCEL = "cancelled through Restate (admin API or CLI)"


T = TypeVar("T")


def is_cancellation(error: TerminalError) -> bool:
    return error.status_code == CANCELLED_STATUS


async def despite_cancel(step: Callable[[], Awaitable[T]]) -> T:
    """A step that Restate's cancel must not cut short, taken again if the cancel landed on
    it: the promise is past the point where a cancel changes its ending (a cancel is
    delivered once)."""
    try:
        return await step()
    except TerminalError as error:
        if not is_cancellation(error):
            raise
    return await step()


class Ending(BaseModel):
    """Why the wait for the job ended."""

    kind: Literal["finished", "deadline", "cancelled", "failed"]
    detail: str | None = None

    def sentence(self, timeout_s: float, noun: str) -> str:
        if self.kind == "deadline":
            return f"The {noun} did not finish within {timeout_s:g} s and was stopped."
        if self.kind == "cancelled":
            return f"Cancelled by request: {self.detail}."
        return f"The promise could not go on ({self.detail}); the {noun} was stopped."


def verdict(
    ending: Ending, meaning: Meaning | None, reason: str | None, timeout_s: float, noun: str
) -> tuple[ResultState, str | None]:
    """The result's state and error: the job's own when it got there first, else the
    ending's. `meaning` is what the job's last known state means (None: never started, or
    unknown), `reason` the dependency's sentence for it."""
    if meaning == "failed":
        return "FAILED", reason
    if ending.kind == "failed":
        return "FAILED", ending.sentence(timeout_s, noun)
    if meaning == "succeeded":
        return "SUCCEEDED", None
    if ending.kind in ("deadline", "cancelled"):
        state: ResultState = "TIMED_OUT" if ending.kind == "deadline" else "CANCELLED"
        return state, ending.sentence(timeout_s, noun)
    # The job ended on its own terms, e.g. stopped from a console or another client.
    return "CANCELLED", reason


def heard_last(ending: Ending, *heard_at: float | None) -> datetime | None:
    """When the result was complete, by the clock of the promise's last dependency step (the
    last read, or the status after a stop), so dating it costs no step of its own. None when
    a step failed for good: the clocks of the steps before it would date that too early."""
    heard = next((moment for moment in heard_at if moment is not None), None)
    if ending.kind == "failed" or heard is None:
        return None
    return datetime.fromtimestamp(heard, tz=UTC)
