"""A step that outlasts restate-server's inactivity timeout still ends the promise once.

The local stack runs a short inactivity timeout (infra/local/restate_settings.py) so parked
promises stop holding the service's memory soon after they park. When it fires during a step,
Restate asks the invocation to suspend: the step finishes, its result is journaled, and the
invocation resumes by a replay. Here the step is the webhook's first attempt, held open by
the receiver well past the timeout.
"""

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra.local.restate_settings import INACTIVITY_TIMEOUT_VARIABLE
from service.models import DEMO_QUERY
from tests.stack_support import running_stack, submit, tagged, wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...

# Far shorter than the stack's own, so the held step certainly outlasts it.
SHORT_TIMEOUT = "1s"
HELD_FOR_S = 4.0  # how long the receiver holds the POST: several inactivity timeouts


class HeldReceiver:
    """A webhook receiver that answers 200 only when told to, keeping every body it got."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                receiver.bodies.append(self.rfile.read(length))
                receiver.release.wait(60)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/callback"


@contextmanager
def held_receiver() -> Iterator[HeldReceiver]:
    receiver = HeldReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.server.shutdown()
        receiver.server.server_close()


def test_a_step_longer_than_the_inactivity_timeout_finishes_and_the_promise_ends_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INACTIVITY_TIMEOUT_VARIABLE, SHORT_TIMEOUT)  # the caller's value wins
    with running_stack(tmp_path) as stack, held_receiver() as receiver:
        body = {"query": tagged(DEMO_QUERY), "callback_url": receiver.url}
        with ThreadPoolExecutor(max_workers=1) as pool:
            pulled = pool.submit(submit, stack, body, str(uuid.uuid4()), 120)
            wait_until(lambda: receiver.bodies, 60, "the webhook's first attempt")
            # The step (the POST) is under way; Restate's inactivity timeout passes meanwhile.
            threading.Event().wait(HELD_FOR_S)
            receiver.release.set()
            response = pulled.result(timeout=120)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "SUCCEEDED"
        assert response.json()["rows"] == [[42.0]]
        # The step ran once (no retry of the POST), and pushed the bytes the caller pulled.
        assert receiver.bodies == [response.content]
