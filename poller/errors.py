"""The client's errors: each is a sentence for a person and the poller's exit code for it.

`PromiseError` is the base; catch it to handle them all. The CLI prints the message and
exits with the code, so a script that uses `python -m poller` and a program that uses the
library learn the same thing from the same answer.
"""

from poller.exit_codes import ExitCode


class PromiseError(Exception):
    """The call is over without what was asked for."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The HTTP status that decided it, when one did.
        self.status = status


class BadRequest(PromiseError):
    """Refused as invalid (HTTP 400): the message names the field. Nothing was started;
    Restate remembers the refusal under the key, so resubmit with a new key."""

    exit_code = ExitCode.BAD_INPUT


class UnknownKey(PromiseError):
    """No promise with that key (or that invocation id): never submitted, or over a day ago."""

    exit_code = ExitCode.NOT_FOUND


class ServiceNotRegistered(PromiseError):
    """The ingress does not know the query service: its deployment is not registered."""

    exit_code = ExitCode.NOT_FOUND


class IngressUnreachable(PromiseError):
    """Restate (its ingress, or its admin API) could not be reached."""

    exit_code = ExitCode.UNREACHABLE


class GaveUp(PromiseError):
    """The wait (`max_wait_s`) ran out before the result came; the query keeps running, and
    `attach(key)` picks it up again."""

    exit_code = ExitCode.GAVE_UP

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class InvocationFailed(PromiseError):
    """The invocation itself failed with a terminal error (not a query Athena failed: that
    is a result, with `state` FAILED)."""


class UnexpectedAnswer(PromiseError):
    """An HTTP answer the client does not expect (a 403, a 409, a body that is not JSON, ...),
    or no answer within the request's timeout."""


class Refused(UnexpectedAnswer):
    """The promise refused the call: a redelivery of a promise without a callback_url (400)
    or of one still running (409), say. The message is the service's."""
