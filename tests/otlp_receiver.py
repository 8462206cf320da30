"""A collector of our own for the tests: OTLP/HTTP at /v1/traces, protobuf (or JSON), decoded
with opentelemetry-proto, the spans kept in memory. And a webhook receiver that keeps headers."""

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service: str
    attributes: dict[str, Any]


@dataclass
class Collected:
    spans: list[ReceivedSpan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            service=service,
                            attributes=_attributes(span.attributes),
                        )
                    )
        with self.lock:
            self.spans.extend(found)

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


def _attributes(pairs: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        values[pair.key] = getattr(pair.value, kind) if kind else None
    return values


def _body(handler: BaseHTTPRequestHandler) -> bytes:
    body = handler.rfile.read(int(handler.headers.get("content-length") or 0))
    if handler.headers.get("content-encoding", "").lower() == "gzip":
        body = gzip.decompress(body)
    return body


def _serve(handler_class: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def otlp_receiver() -> Iterator[tuple[Collected, str]]:
    """The spans received, and the traces URL to export them to (`.../v1/traces`)."""
    collected = Collected()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            request = ExportTraceServiceRequest()
            body = _body(self)
            if "json" in self.headers.get("content-type", ""):
                json_format.Parse(body, request)
            else:
                request.ParseFromString(body)
            collected.add(request)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:
            pass

    server, url = _serve(Handler)
    try:
        yield collected, f"{url}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def header_keeping_receiver() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """A webhook receiver that answers 204 and keeps each POST's headers and JSON body."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = _body(self)
            headers = {key.lower(): value for key, value in self.headers.items()}
            received.append({"headers": headers, "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server, url = _serve(Handler)
    try:
        yield received, f"{url}/callback"
    finally:
        server.shutdown()
        server.server_close()
