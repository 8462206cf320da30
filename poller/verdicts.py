"""What one answer from the ingress means: a result, a retry, or the end of the wait."""

from poller.errors import (
    BadRequest,
    InvocationFailed,
    PromiseError,
    ServiceNotRegistered,
    UnexpectedAnswer,
    UnknownKey,
)
from poller.ingress import IngressCall, error_message, is_invocation_failure
from poller.steps import HttpResponse

# The name the CLI's modules have always used for the client's errors.
PollFailure = PromiseError

# Transient answers: the ingress, or a proxy in front of it, may do better next time.
# 501 is left out: Restate uses it for "attach is not supported here", which never changes.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class AttemptFailed(Exception):
    """This attempt failed in a way that another attempt may not."""

    def __init__(self, reason: str, could_not_connect: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.could_not_connect = could_not_connect


class AttachInstead(Exception):
    """The key's workflow runs already (or ran): wait for it with this call instead."""

    def __init__(self, call: IngressCall) -> None:
        super().__init__(call.url)
        self.call = call


def judge_response(call: IngressCall, response: HttpResponse, ingress_url: str) -> bytes:
    """The result body for a 200; otherwise raise AttemptFailed, AttachInstead or a
    PromiseError."""
    status = response.status
    if status == 200:
        return response.content
    if status == 409 and call.attach_instead is not None:
        # Restate runs a workflow once per key: "the workflow method was already invoked".
        raise AttachInstead(call.attach_instead)
    message = error_message(response.content) or response.reason or ""
    if status == 400:
        raise BadRequest(f"Invalid request: {message}", status=400)
    if status == 404 and call.is_attach:
        raise UnknownKey(
            f"No query was submitted with key {call.key}. "
            "Submit one with --query, or check the key.",
            status=404,
        )
    if status == 404 and not is_invocation_failure(response.content):
        raise ServiceNotRegistered(
            f"The Restate ingress at {ingress_url} does not know the query service "
            f"({message}): the deployment is not registered. Register the service "
            "deployment with Restate (python -m infra.local up registers it).",
            status=404,
        )
    if status in RETRYABLE_STATUSES and not is_invocation_failure(response.content):
        raise AttemptFailed(f"HTTP {status} {message}".rstrip())
    if is_invocation_failure(response.content):
        raise InvocationFailed(
            f"The query invocation failed (HTTP {status}): {message}", status=status
        )
    raise UnexpectedAnswer(f"The ingress answered HTTP {status}: {message}", status=status)


def unreachable_message(ingress_url: str) -> str:
    return (
        f"Cannot reach the Restate ingress at {ingress_url}. "
        "Start the local stack with: python -m infra.local up (or make up)."
    )


def gave_up_message(call: IngressCall, max_wait_s: float) -> str:
    return (
        f"Gave up after waiting {max_wait_s:g}s (--max-wait). The query keeps running; "
        f"re-attach with: {call.reattach}"
    )
