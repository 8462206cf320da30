"""The long-poll loop: repeat one ingress call, with backoff, until a result or a verdict.

Each attempt is the same request with the same idempotency key, so a timed-out or
failed attempt loses nothing: Restate keeps running the query and the next attempt
attaches to it again.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from poller.backoff import Backoff
from poller.exit_codes import ExitCode
from poller.ingress import IngressCall
from poller.verdicts import (
    AttemptFailed,
    PollFailure,
    describe_connection_error,
    gave_up_message,
    judge_response,
    unreachable_message,
)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_CONNECT_FAILURES = 5


@dataclass
class LongPoll:
    session: requests.Session
    ingress_url: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_wait_s: float | None = None
    # Consecutive attempts that could not even connect before the ingress counts as down.
    max_connect_failures: int = DEFAULT_MAX_CONNECT_FAILURES
    backoff: Backoff = field(default_factory=Backoff)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    progress: Callable[[str], None] = print

    def fetch_result(self, call: IngressCall) -> bytes:
        """Repeat ``call`` until the ingress answers 200; returns the body as received.

        Raises PollFailure when waiting longer cannot help.
        """
        started = self.clock()
        failures = 0
        connect_failures = 0
        while True:
            attempt = failures + 1
            elapsed = self.clock() - started
            self.progress(f"Waiting for the result: attempt #{attempt}, {elapsed:.1f}s elapsed")
            try:
                return self._attempt(call, self._request_timeout(elapsed))
            except AttemptFailed as failed:
                failures += 1
                connect_failures = connect_failures + 1 if failed.could_not_connect else 0
                reason = failed.reason
            if connect_failures >= self.max_connect_failures:
                self.progress(f"Attempt #{attempt} failed: {reason}.")
                raise PollFailure(ExitCode.UNREACHABLE, unreachable_message(self.ingress_url))
            delay = self.backoff.delay(failures)
            # Give up now rather than sleep into the deadline just to give up then.
            if self.max_wait_s is not None and self.clock() - started + delay >= self.max_wait_s:
                self.progress(f"Attempt #{attempt} failed: {reason}.")
                raise PollFailure(ExitCode.GAVE_UP, gave_up_message(call.key, self.max_wait_s))
            self.progress(
                f"Attempt #{attempt} failed: {reason}. Backing off for {round(delay * 1000)}ms..."
            )
            self.sleep(delay)

    def _attempt(self, call: IngressCall, timeout_s: float) -> bytes:
        """One request: the result body, or AttemptFailed (retry) or PollFailure (stop)."""
        try:
            response = self.session.request(
                call.method, call.url, headers=call.headers, json=call.body, timeout=timeout_s
            )
        except requests.Timeout as exc:
            # A connect timeout means nothing answered, just like a refused connection.
            raise AttemptFailed(
                f"timeout of {round(timeout_s * 1000)}ms exceeded",
                could_not_connect=isinstance(exc, requests.ConnectTimeout),
            ) from exc
        except requests.ConnectionError as exc:
            reason, could_not_connect = describe_connection_error(exc)
            raise AttemptFailed(reason, could_not_connect) from exc
        return judge_response(call, response, self.ingress_url)

    def _request_timeout(self, elapsed: float) -> float:
        # Never let one request outlive --max-wait.
        if self.max_wait_s is None:
            return self.timeout_s
        return max(min(self.timeout_s, self.max_wait_s - elapsed), 0.001)
