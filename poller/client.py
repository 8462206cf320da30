"""The long-poll loop: repeat one ingress call, with backoff, until a result or a verdict.

Each attempt is the same request with the same idempotency key, so a timed-out or
failed attempt loses nothing: Restate keeps running the query and the next attempt
attaches to it again. The loop does no I/O itself (see poller.steps): the sync and the
async client drive this one generator.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from poller.backoff import Backoff
from poller.errors import GaveUp, IngressUnreachable
from poller.ingress import IngressCall
from poller.steps import HttpRequest, Operation, Sleep, TransportFailure, exchange
from poller.verdicts import (
    AttachInstead,
    AttemptFailed,
    gave_up_message,
    judge_response,
    unreachable_message,
)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_CONNECT_FAILURES = 5


def quiet(_line: str) -> None:
    pass


@dataclass
class LongPoll:
    ingress_url: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_wait_s: float | None = None
    # Consecutive attempts that could not even connect before the ingress counts as down.
    max_connect_failures: int = DEFAULT_MAX_CONNECT_FAILURES
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    progress: Callable[[str], None] = quiet

    def fetch_result(self, call: IngressCall) -> Operation[bytes]:
        """Repeat ``call`` until the ingress answers 200; returns the body as received.

        Raises a PromiseError when waiting longer cannot help.
        """
        started = self.clock()
        failures = 0
        connect_failures = 0
        while True:
            attempt = failures + 1
            elapsed = self.clock() - started
            self.progress(f"Waiting for the result: attempt #{attempt}, {elapsed:.1f}s elapsed")
            try:
                return (yield from self._attempt(call, self._request_timeout(elapsed)))
            except AttachInstead as switch:
                # Submitted before (by this loop after a timeout, or by anyone): wait for it.
                self.progress(f"Key {call.key} was submitted before: attaching to its promise.")
                call = switch.call
                continue
            except AttemptFailed as failed:
                failures += 1
                connect_failures = connect_failures + 1 if failed.could_not_connect else 0
                reason = failed.reason
            if connect_failures >= self.max_connect_failures:
                self.progress(f"Attempt #{attempt} failed: {reason}.")
                raise IngressUnreachable(unreachable_message(self.ingress_url))
            delay = self.backoff.delay(failures)
            # Give up now rather than sleep into the deadline just to give up then.
            if self.max_wait_s is not None and self.clock() - started + delay >= self.max_wait_s:
                self.progress(f"Attempt #{attempt} failed: {reason}.")
                raise GaveUp(gave_up_message(call, self.max_wait_s), key=call.key)
            self.progress(
                f"Attempt #{attempt} failed: {reason}. Backing off for {round(delay * 1000)}ms..."
            )
            yield Sleep(delay)

    def _attempt(self, call: IngressCall, timeout_s: float) -> Operation[bytes]:
        """One request: the result body, or AttemptFailed (retry) or PromiseError (stop)."""
        headers = dict(call.headers)
        body = None
        if call.body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(call.body).encode()
        request = HttpRequest(call.method, call.url, timeout_s, headers, body)
        outcome = yield from exchange(request)
        if isinstance(outcome, TransportFailure):
            reason = outcome.reason
            if outcome.timed_out:
                reason = f"timeout of {round(timeout_s * 1000)}ms exceeded"
            raise AttemptFailed(reason, outcome.could_not_connect)
        return judge_response(call, outcome, self.ingress_url)

    def _request_timeout(self, elapsed: float) -> float:
        # Never let one request outlive --max-wait.
        if self.max_wait_s is None:
            return self.timeout_s
        return max(min(self.timeout_s, self.max_wait_s - elapsed), 0.001)
