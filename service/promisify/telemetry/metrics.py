"""The kit's Prometheus metrics, and the port that serves them. Nothing here knows Restate.

Names start with `promise_`; each dependency's calls are labelled with its name (`Athena`),
so two deployments in one process stay apart. Every process counts its own: Prometheus adds
the replicas up (`sum without (instance)`).
"""

import sys

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics, start_http_server

# From a job's completion to the promise's answer: tens of milliseconds when an event brings
# the news, up to the safety net's interval when the sweeper does, retries beyond that.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

started = Counter(
    "promise_started",
    "Promises whose run began (at least once: see docs/operating.md)",
    ["dependency"],
)
ended = Counter(
    "promise_ended",
    "Promises that reached their result, by the result's state",
    ["dependency", "state"],
)
in_flight = Gauge(
    "promise_in_flight",
    "Promises between start and return, by phase, as this process saw them move (sum the replicas)",
    ["dependency", "phase"],
)
dependency_calls = Counter(
    "promise_dependency_calls",
    "Calls the kit made to the dependency's adapter, by operation and outcome",
    ["dependency", "operation", "outcome"],
)
dependency_call_seconds = Histogram(
    "promise_dependency_call_seconds",
    "How long one call to the dependency's adapter took",
    ["dependency", "operation"],
    buckets=CALL_BUCKETS,
)
webhook_attempts = Counter(
    "promise_webhook_attempts",
    "Webhook POSTs made, by outcome (delivered, retry, give_up)",
    ["outcome"],
)
webhook_gave_up = Counter(
    "promise_webhook_gave_up", "Deliveries given up (410, a refused URL, or the retry window over)"
)
completion_to_result = Histogram(
    "promise_completion_to_result_seconds",
    "From the job's completion (as the dependency dates it) to the promise's result",
    ["dependency"],
    buckets=LATENCY_BUCKETS,
)
completion_to_delivery = Histogram(
    "promise_completion_to_delivery_seconds",
    "From the job's completion to the end of the webhook POST that delivered its result",
    buckets=LATENCY_BUCKETS,
)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """`GET /metrics` on a port of its own, in a thread: the Restate endpoint is left alone.
    A port in use costs the metrics, not the service: it is said on stderr."""
    disable_created_metrics()  # a `_created` series beside each counter: noise here
    try:
        start_http_server(port, addr=host)
    except OSError as error:
        print(f"warning: no metrics on {host}:{port}: {error}", file=sys.stderr, flush=True)
