"""The kit's OpenTelemetry spans, children of the Restate invocation that made them.

restate-server hands each attempt its trace context (`traceparent` among the attempt's
headers); the SDK's `RestateTracerProvider` parents every span under it and makes none while
the handler replays, so restate-server's spans and the service's share one trace. Until
`configure` is called nothing is traced and a span costs nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_tracer: Tracer | None = None


def configure(endpoint: str, service_name: str) -> None:
    """Export spans by OTLP/HTTP (protobuf) to `endpoint` (`http://collector:4318/v1/traces`)."""
    global _tracer
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from restate.ext.tracing import RestateTracerProvider

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _tracer = RestateTracerProvider(provider).get_tracer("service.promisify")


def enabled() -> bool:
    return _tracer is not None


@contextmanager
def span(name: str, kind: SpanKind, **attributes: Any) -> Iterator[Span | None]:
    """A span under the current Restate attempt, or None when tracing is off. An exception
    marks it as an error and goes on."""
    if _tracer is None:
        yield None
        return
    try:
        opened = _tracer.start_span(name, kind=kind, attributes=attributes)
    except Exception:  # outside a Restate handler: no trace to join
        yield None
        return
    try:
        yield opened
    except BaseException as error:
        opened.record_exception(error)
        opened.set_status(Status(StatusCode.ERROR, type(error).__name__))
        raise
    finally:
        opened.end()


def headers_for(current: Span | None) -> dict[str, str]:
    """`traceparent` (and `tracestate`) naming `current`, for a receiver to join the trace."""
    if current is None or not current.get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(current))
    return carrier
