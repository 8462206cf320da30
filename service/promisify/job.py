"""The one interface a slow dependency implements to become a durable promise.

A *job* is whatever the dependency runs for a while: an Athena query, an EMR Serverless job
run, a fake in the tests. The kit starts it once, waits durably for news of its end, asks
for its final word, reads its result and turns every ending into one result document. It
knows nothing else about the job: everything below is the adapter's to say, and the adapter
knows nothing of Restate (its reads go through `Steps`, which the kit makes durable).
"""

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

# What a state of the job means for the promise. The last three are final.
Meaning = Literal["waiting", "running", "succeeded", "failed", "cancelled"]
FINAL_MEANINGS: frozenset[Meaning] = frozenset({"succeeded", "failed", "cancelled"})

# The result's state, whatever the dependency: the promise's own vocabulary.
ResultState = Literal["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]


class JobStatus(BaseModel):
    """The dependency's word on one job. Adapters subclass it with their own details."""

    job_id: str
    state: str
    # Why it ended that way (the dependency's own sentence), if it says.
    reason: str | None = None
    # When the answer came (epoch seconds): journaled with the step that asked, it dates the
    # end without a clock step of its own.
    heard_at: float | None = None


class Collected(BaseModel):
    """What reading a finished job's result gave. Adapters subclass it (rows, files, ...)."""

    heard_at: float | None = None  # when the last read answered: the result is complete then

    def count(self) -> int:
        """How many items (rows, files) were read: `status` shows it as progress."""
        return 0


class News(BaseModel):
    """What a completion event says: which job, in which state. A hint, not the truth: the
    kit asks the dependency itself before a final state counts."""

    job_id: str
    state: str


class JobRefused(Exception):
    """The dependency refused a request for good (bad request, access denied): retrying
    cannot help. `status_code` is 400 when the caller can fix it, 502 when the operator must."""

    def __init__(self, message: str, status_code: int = 502) -> None:
        super().__init__(message)
        self.status_code = status_code


class BatchUnsupported(Exception):
    """This implementation of the dependency has no batch describe (moto's Athena, say): the
    kit then describes one id at a time, and remembers it for the process."""


class EventRefused(ValueError):
    """An event that is not well-formed: a 400 naming the field, nothing forwarded."""


T = TypeVar("T")


class Steps(Protocol):
    """Durable steps, as the kit hands them to an adapter's `collect`: each `run` is journaled
    (a crash resumes after the last completed one) and retried like every dependency call."""

    async def run(
        self, name: str, action: Callable[..., Awaitable[T]], *args: Any, result: type[T]
    ) -> T: ...

    def progress(self, items_so_far: int) -> None:
        """How far the read got, for `status` (not journaled, costs a state write)."""
        ...


class Settled(BaseModel):
    """Everything the promise knows at its end, for the adapter to shape into its result."""

    invocation_id: str
    job_id: str | None  # None only when the dependency refused to start the job
    state: ResultState
    error: str | None
    ended_at: datetime


RequestT = TypeVar("RequestT", bound=BaseModel)
StatusT = TypeVar("StatusT", bound=JobStatus)
CollectedT = TypeVar("CollectedT", bound=Collected)
ResultT = TypeVar("ResultT", bound=BaseModel)


class Job(Protocol, Generic[RequestT, StatusT, CollectedT, ResultT]):
    """A slow dependency, seen by the durable promise. One object per process.

    Its request model carries `callback_url` and `timeout_s` (both optional): the kit reads
    where to push and the deadline from them, and refuses a model without them at start.
    `JobDefaults` fills in what most adapters leave as it is."""

    # The dependency's name and what it calls a job, for messages and the endings' sentences
    # ("Athena did not start the query: ...", "The query did not finish within 30 s ...").
    name: str
    noun: str
    # How many ids one `describe_many` call takes: Athena 50, AWS Batch 100, many APIs 1.
    batch_limit: int
    # The state a job is in once started (Athena's QUEUED): what `status` shows until news.
    initial_state: str
    # The concrete models, for the journal and the public edge.
    request_type: type[RequestT]
    status_type: type[StatusT]
    collected_type: type[CollectedT]
    result_type: type[ResultT]
    # How `status` names the record's generic fields for this dependency's callers, e.g.
    # {"job_id": "query_execution_id"}; fields not named keep the kit's name.
    status_names: Mapping[str, str]

    def prepare(self, request: RequestT) -> RequestT:
        """The request with the adapter's defaults filled in (journaled with the plan). Runs
        on the event loop: no blocking I/O."""
        ...

    def subject(self, request: RequestT) -> str:
        """What the job is, in a line, for status and logs (the SQL, the job's name)."""
        ...

    def meaning(self, state: str) -> Meaning:
        """What one of the dependency's states means; the final ones end the wait."""
        ...

    async def start(self, request: RequestT, token: str) -> str:
        """Start the job; the same token must never start a second one. Returns its id."""
        ...

    async def describe(
        self, job_id: str, news: str | None = None, request: RequestT | None = None
    ) -> StatusT:
        """The job's status. After news of the end, `news` is the state it reported and
        `request` the job's: an adapter may read the first part of the result beside the
        status when the news says success."""
        ...

    async def describe_many(self, job_ids: list[str]) -> list[StatusT]:
        """Up to `batch_limit` statuses in one call; unknown ids are left out. May raise
        BatchUnsupported."""
        ...

    async def stop(self, job_id: str) -> None:
        """Stop the job (a finished one stays as it is)."""
        ...

    async def collect(self, steps: Steps, request: RequestT, status: StatusT) -> CollectedT:
        """Read a succeeded job's result, every call a step of `steps`."""
        ...

    def read_event(self, body: bytes) -> News | None:
        """A completion event as the job id and state; None for an event of another kind.
        Raises EventRefused for a malformed one."""
        ...

    def result(
        self,
        settled: Settled,
        request: RequestT,
        status: StatusT | None,
        collected: CollectedT | None,
    ) -> ResultT:
        """The one result document, pushed and pulled as the same bytes."""
        ...


class JobDefaults:
    """What most adapters leave as it is: subclass it and write only what your dependency
    does differently. Nothing here is required of a `Job`; it only fills members in."""

    batch_limit = 1
    collected_type: type[Collected] = Collected
    status_names: Mapping[str, str] = MappingProxyType({})

    def prepare(self, request: RequestT) -> RequestT:
        return request

    async def describe_many(self, job_ids: list[str]) -> list[Any]:
        """Never called while `batch_limit` is 1: the sweeper describes one id a call."""
        raise BatchUnsupported("this dependency has no batch describe")

    async def collect(self, steps: Steps, request: Any, status: JobStatus) -> Collected:
        """Nothing to read (the job wrote its output where it was told): the result is
        complete when the final status was heard."""
        return self.collected_type(heard_at=status.heard_at)

    def read_event(self, body: bytes) -> News | None:
        """No completion events: the sweeper's checks are the only news (`poll` mode)."""
        return None
