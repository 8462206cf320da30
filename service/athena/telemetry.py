"""Every HTTP request the service makes to Athena, counted by API operation and outcome.

The transport retries a throttled call a few times itself before the kit's step sees
anything, so the kit's count of calls (`promise_dependency_calls_total`) cannot show those
throttles; this counter sees each request, retries included. No Restate here.
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
    "HTTP requests to Athena, the transport's own retries included, by operation and outcome",
    ["operation", "outcome"],
)


def request_outcome(status_code: int | None, parsed: dict[str, Any] | None) -> str:
    """ok, throttled, client_error (4xx), server_error (5xx) or network (no answer)."""
    if status_code is None or parsed is None:
        return "network"
    if status_code < 300:
        return "ok"
    if parsed.get("Error", {}).get("Code", "") in THROTTLING_CODES:
        return "throttled"
    return "client_error" if status_code < 500 else "server_error"


def count_request(operation: str, status_code: int | None, parsed: dict[str, Any] | None) -> None:
    """One HTTP request to Athena, as it ended (no answer: `status_code` None)."""
    athena_requests.labels(operation, request_outcome(status_code, parsed)).inc()


def outcome_of(error: BaseException) -> str | None:
    """How the kit's metrics name a failed call to Athena: throttling apart from the rest."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            return "throttled" if code in THROTTLING_CODES else None
        cause = cause.__cause__
    return None
