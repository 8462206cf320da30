"""What one answer from the ingress means: a result, a retry, or the end of the wait."""

import requests
import urllib3.exceptions

from poller.exit_codes import ExitCode
from poller.ingress import IngressCall, error_message, is_invocation_failure

# Transient answers: the ingress, or a proxy in front of it, may do better next time.
# 501 is left out: Restate uses it for "attach is not supported here", which never changes.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class AttemptFailed(Exception):
    """This attempt failed in a way that another attempt may not."""

    def __init__(self, reason: str, could_not_connect: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.could_not_connect = could_not_connect


class PollFailure(Exception):
    """The wait is over without a result: an exit code and a sentence for the user."""

    def __init__(self, exit_code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


def judge_response(call: IngressCall, response: requests.Response, ingress_url: str) -> bytes:
    """The result body for a 200; otherwise raise AttemptFailed or PollFailure."""
    status = response.status_code
    if status == 200:
        return response.content
    message = error_message(response.content) or response.reason or ""
    if status == 400:
        raise PollFailure(ExitCode.BAD_INPUT, f"Invalid request: {message}")
    if status == 404 and call.is_attach:
        raise PollFailure(
            ExitCode.NOT_FOUND,
            f"No query was submitted with key {call.key}. "
            "Submit one with --query, or check the key.",
        )
    if status == 404 and not is_invocation_failure(response.content):
        raise PollFailure(
            ExitCode.NOT_FOUND,
            f"The Restate ingress at {ingress_url} does not know the query service "
            f"({message}): the deployment is not registered. Register the service "
            "deployment with Restate (python -m infra.local up registers it).",
        )
    if status in RETRYABLE_STATUSES and not is_invocation_failure(response.content):
        raise AttemptFailed(f"HTTP {status} {message}".rstrip())
    if is_invocation_failure(response.content):
        raise PollFailure(ExitCode.ERROR, f"The query invocation failed (HTTP {status}): {message}")
    raise PollFailure(ExitCode.ERROR, f"The ingress answered HTTP {status}: {message}")


def describe_connection_error(exc: requests.ConnectionError) -> tuple[str, bool]:
    """A short reason, and whether the connection was never made (the ingress is down).

    A connection dropped mid-wait (say, Restate restarting) is worth retrying without
    counting towards "unreachable": the next attempt will tell if it stays down.
    """
    cause = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "cannot resolve the host name", True
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused", True
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "cannot connect", True
    return "connection lost", False


def unreachable_message(ingress_url: str) -> str:
    return (
        f"Cannot reach the Restate ingress at {ingress_url}. "
        "Start the local stack with: python -m infra.local up (or make up)."
    )


def gave_up_message(key: str, max_wait_s: float) -> str:
    return (
        f"Gave up after waiting {max_wait_s:g}s (--max-wait). The query keeps running; "
        f"re-attach with: python -m poller --key {key}"
    )
