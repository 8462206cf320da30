"""Many jobs' states in few calls: batches of the job's own limit, or one by one where the
dependency has no batch describe (learned once per process).

Batches are always cut by the job's declared limit, outside any step, so a replay on another
process (which may not have learned yet) cuts the same batches; only how one batch is asked
differs, inside its step, and its answer is journaled.
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import restate
from pydantic import BaseModel

from service.promisify.job import BatchUnsupported, Job, JobRefused

log = restate.getLogger(__name__)

# One by one, at most this many describes of a batch in flight at once.
SINGLE_CALLS_AT_ONCE = 8


class CheckedStates(BaseModel):
    """The state of each job the dependency knows, by id; or why the check failed."""

    states: dict[str, str]
    calls: int = 1
    error: str | None = None
    # The dependency refused the check for good: retrying cannot help.
    refused: bool = False


class StatusChecks:
    def __init__(self, job: Job[Any, Any, Any, Any]) -> None:
        self.job = job
        self.batch_unsupported = job.batch_limit <= 1

    def batches(self, job_ids: list[str]) -> Iterator[list[str]]:
        size = max(1, self.job.batch_limit)
        for start in range(0, len(job_ids), size):
            yield job_ids[start : start + size]

    async def check(self, job_ids: list[str]) -> CheckedStates:
        try:
            if not self.batch_unsupported:
                try:
                    statuses = await self.job.describe_many(job_ids)
                    states = {status.job_id: status.state for status in statuses}
                    return CheckedStates(states=states)
                except BatchUnsupported as reason:
                    self.batch_unsupported = True
                    log.warning(
                        "%s has no batch describe here (%s): checking one job a call from now on",
                        self.job.name,
                        reason,
                    )
            return await self._one_by_one(job_ids)
        except JobRefused as refusal:
            return CheckedStates(states={}, error=str(refusal), refused=True)

    async def _one_by_one(self, job_ids: list[str]) -> CheckedStates:
        limit = asyncio.Semaphore(SINGLE_CALLS_AT_ONCE)

        async def describe(job_id: str) -> tuple[str, str | JobRefused]:
            async with limit:
                try:
                    return job_id, (await self.job.describe(job_id)).state
                except JobRefused as refusal:  # e.g. an id it does not know
                    return job_id, refusal

        answers = await asyncio.gather(*(describe(job_id) for job_id in job_ids))
        states = {job_id: state for job_id, state in answers if isinstance(state, str)}
        if answers and not states:  # refused for every id: the check itself is refused
            raise next(state for _, state in answers if isinstance(state, JobRefused))
        return CheckedStates(states=states, calls=len(job_ids))
