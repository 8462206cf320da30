"""What the durable promise tells about itself: counts, timings and spans, replay-aware.

The story (`workflow.py`, `delivery.py`) calls a few named functions here; Prometheus and
OpenTelemetry stay behind them (`metrics.py`, `tracing.py`).

Durable execution replays handler code, so a count in handler code is made only when the
journal entry that records the fact is new: `recorded_now()` reads the SDK's replay flag,
which after each journal call says whether the *next* entry comes from the journal. Counts
made inside a step (the dependency's calls, the webhook POSTs) count real calls, every one:
a step runs again only when it was not journaled. docs/operating.md says which is exact.
"""

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.trace import Span, SpanKind
from restate.server_context import restate_context_is_replaying

from service.promisify.job import BatchUnsupported, JobRefused
from service.promisify.telemetry import metrics, tracing

if TYPE_CHECKING:
    from service.promisify.delivery.models import DeliveryPolicy

__all__ = ["instrumented", "recorded_now", "start"]

J = TypeVar("J")
T = TypeVar("T")


def start(
    metrics_port: int | None,
    metrics_host: str = "127.0.0.1",
    traces_endpoint: str | None = None,
    service_name: str = "promise",
) -> None:
    """Serve `/metrics` on its own port and export spans, as the deployment's settings say."""
    if metrics_port:
        metrics.serve_metrics(metrics_port, metrics_host)
    if traces_endpoint:
        tracing.configure(traces_endpoint, service_name)


def recorded_now() -> bool:
    """Whether the next journal entry of this handler is new (not replayed): a fact counted
    just before the entry that records it is counted once, whatever the replays."""
    return not restate_context_is_replaying.get()


def completion_time(status: Any) -> float | None:
    """When the job completed, as the dependency dates it (`completed_at`, when its status has
    one), else when its final word was heard."""
    completed = getattr(status, "completed_at", None)
    if isinstance(completed, datetime):
        return completed.timestamp()
    heard = getattr(status, "heard_at", None)
    return float(heard) if heard is not None else None


@dataclass
class PromiseMeter:
    """One run of a promise, as the metrics see it: where it is, so a move counts once."""

    dependency: str
    phase: str = "accepted"
    gone: bool = False
    moves: list[str] = field(default_factory=list)

    def move(self, phase: str) -> None:
        if phase == self.phase or self.gone:
            return
        if recorded_now():
            metrics.in_flight.labels(self.dependency, self.phase).dec()
            metrics.in_flight.labels(self.dependency, phase).inc()
        self.phase = phase


_current: ContextVar[PromiseMeter | None] = ContextVar("promise_meter", default=None)


def promise_began(dependency: str) -> None:
    """Call before the run's first journal entry: counts the start once."""
    meter = PromiseMeter(dependency)
    _current.set(meter)
    if recorded_now():
        metrics.started.labels(dependency).inc()
        metrics.in_flight.labels(dependency, meter.phase).inc()


def phase(name: str) -> None:
    """Call before the record write that says the promise reached `name`."""
    meter = _current.get()
    if meter is not None:
        meter.move(name)


def promise_ended(state: str, completed_at: float | None) -> None:
    """Call before the record write that holds the result's state."""
    meter = _current.get()
    if meter is None:
        return
    if recorded_now():
        metrics.ended.labels(meter.dependency, state).inc()
        if completed_at is not None:
            latency = max(0.0, time.time() - completed_at)
            metrics.completion_to_result.labels(meter.dependency).observe(latency)
    meter.move("done")


def promise_returned() -> None:
    """Call when `run` returns: the promise leaves the in-flight gauge."""
    meter = _current.get()
    if meter is None or meter.gone:
        return
    if recorded_now():
        metrics.in_flight.labels(meter.dependency, meter.phase).dec()
    meter.gone = True


def delivery_over(state: str, finished_at: float, policy: "DeliveryPolicy") -> None:
    """Call as soon as a delivery is settled (delivered or given up), before its next entry."""
    if not recorded_now():
        return
    completed_at = policy.completed_at
    if state == "gave_up":
        metrics.webhook_gave_up.inc()
    elif state == "delivered" and completed_at is not None:
        metrics.completion_to_delivery.observe(max(0.0, finished_at - completed_at))


class WebhookTrace:
    """One POST's span, the headers that name it, and its outcome once known."""

    def __init__(self, span: Span | None) -> None:
        self.span = span
        self.headers = tracing.headers_for(span)

    def outcome(self, verdict: str, status: int | None) -> None:
        metrics.webhook_attempts.labels(verdict).inc()
        if self.span is not None:
            self.span.set_attribute("webhook.verdict", verdict)
            if status is not None:
                self.span.set_attribute("http.response.status_code", status)


@contextmanager
def webhook_attempt(webhook_id: str) -> Iterator[WebhookTrace]:
    """Around one webhook POST, inside its step: counted every time it is sent."""
    with tracing.span("POST webhook", SpanKind.CLIENT, **{"webhook.id": webhook_id}) as span:
        yield WebhookTrace(span)


def _outcome(job: Any, error: BaseException) -> str:
    if isinstance(error, JobRefused):
        return "refused"
    if isinstance(error, BatchUnsupported):
        return "unsupported"
    # The adapter may name its own kinds of failure (Athena: "throttled").
    named = getattr(job, "outcome_of", None)
    return (named(error) if named is not None else None) or "error"


def _metered(
    job: Any, operation: str, action: Callable[..., Awaitable[T]]
) -> Callable[..., Awaitable[T]]:
    dependency = job.name

    async def call(*args: Any, **kwargs: Any) -> T:
        began, outcome = time.perf_counter(), "ok"
        with tracing.span(f"{dependency} {operation}", SpanKind.CLIENT) as span:
            try:
                return await action(*args, **kwargs)
            except Exception as error:
                outcome = _outcome(job, error)
                raise
            finally:
                seconds = time.perf_counter() - began
                metrics.dependency_calls.labels(dependency, operation, outcome).inc()
                metrics.dependency_call_seconds.labels(dependency, operation).observe(seconds)
                if span is not None:
                    span.set_attribute("promise.outcome", outcome)

    call.__name__ = getattr(action, "__name__", operation)
    return call


class _MeteredSteps:
    """The adapter's `Steps`, each read counted and traced under its function's name."""

    def __init__(self, job: Any, steps: Any) -> None:
        self._job, self._steps = job, steps

    async def run(
        self, name: str, action: Callable[..., Awaitable[T]], *args: Any, result: type[T]
    ) -> T:
        operation = getattr(action, "__name__", name)
        return await self._steps.run(
            name, _metered(self._job, operation, action), *args, result=result
        )

    def progress(self, items_so_far: int) -> None:
        self._steps.progress(items_so_far)


class _InstrumentedJob:
    """A job whose calls are counted, timed and traced; everything else is the job's own."""

    def __init__(self, job: Any) -> None:
        self._job = job
        for operation in ("start", "describe", "describe_many", "stop"):
            action = getattr(job, operation, None)
            if action is not None:
                setattr(self, operation, _metered(job, operation, action))

    async def collect(self, steps: Any, request: Any, status: Any) -> Any:
        return await self._job.collect(_MeteredSteps(self._job, steps), request, status)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)


def instrumented(job: J) -> J:
    """The same job, its calls measured (each call, inside the step that makes it)."""
    return _InstrumentedJob(job)  # type: ignore[return-value]
