"""Every HTTP request boto3 makes to Athena, counted by API operation and outcome.

botocore retries a throttled call a few times itself before the kit's step sees anything, so
the kit's count of calls (`promise_dependency_calls_total`) cannot show those throttles; this
counter sees each request, retries included. No Restate here.
"""

from typing import Any

from botocore.exceptions import ClientError
from prometheus_client import Counter

# What AWS answers when a caller goes past its request rate (Athena: TooManyRequestsException).
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"}
)

athena_requests = Counter(
    "athena_requests",
    "HTTP requests to Athena, botocore's own retries included, by operation and outcome",
    ["operation", "outcome"],
)


def request_outcome(response: Any, caught_exception: BaseException | None) -> str:
    """ok, throttled, client_error (4xx), server_error (5xx) or network (no answer)."""
    if caught_exception is not None or response is None:
        return "network"
    http, parsed = response
    if http.status_code < 300:
        return "ok"
    if parsed.get("Error", {}).get("Code", "") in THROTTLING_CODES:
        return "throttled"
    return "client_error" if http.status_code < 500 else "server_error"


def _count(
    response: Any = None,
    operation: Any = None,
    caught_exception: BaseException | None = None,
    **_: Any,
) -> None:
    # A handler of botocore's `needs-retry` event: called once per request; None changes nothing.
    name = getattr(operation, "name", "unknown")
    athena_requests.labels(name, request_outcome(response, caught_exception)).inc()


def count_requests(client: Any) -> Any:
    """The client, each of its requests counted."""
    client.meta.events.register("needs-retry.athena", _count)
    return client


def outcome_of(error: BaseException) -> str | None:
    """How the kit's metrics name a failed call to Athena: throttling apart from the rest."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            return "throttled" if code in THROTTLING_CODES else None
        cause = cause.__cause__
    return None
