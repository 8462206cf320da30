"""Webhooks receivers can trust and operators can steer, end to end: v1a signatures checked by
receivers that hold only the public key (one of them written from the specification alone, in
another language), and redelivery on demand, by key and of every give-up since a time.

The stack signs with both schemes (a migration: the dev `whsec_` secret and a `whsk_` key),
and gives up on a receiver within seconds, so a receiver "down past the give-up" fits a test.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.processes import ManagedProcess, free_port
from infra.local.stack import LocalStack
from service.models import DEMO_QUERY
from tests.stack_support import (
    attach,
    deliveries,
    executions_of,
    extra_listener,
    run_poller,
    running_stack,
    send,
    tagged,
    wait_until,
)
from webhooks.keys import DEV_WEBHOOK_SECRET, SigningKeys, new_signing_key
from webhooks.signature import sign

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...

SIGNING_KEY = new_signing_key()
(PUBLIC_KEY,) = SigningKeys.parse(SIGNING_KEY).public_key_texts
FAST_GIVE_UP = {
    "WEBHOOK_FIRST_BACKOFF_S": "0.2",
    "WEBHOOK_MAX_BACKOFF_S": "0.5",
    "WEBHOOK_RETRY_WINDOW_S": "3",
    "WEBHOOK_ATTEMPT_TIMEOUT_S": "5",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    secret = f"{DEV_WEBHOOK_SECRET} {SIGNING_KEY}"
    tmp = tmp_path_factory.mktemp("trust")
    with running_stack(tmp, webhook_secret=secret, service_env=FAST_GIVE_UP) as local:
        yield local


@pytest.fixture
def spec_receiver(stack: LocalStack, tmp_path: Path) -> Iterator[str]:
    """The receiver written from the specification (tests/spec_receiver.mjs), holding only
    the service's public key."""
    node = shutil.which("node")
    assert node, "node is needed (it runs restate-server too)"
    port = free_port()
    script = Path(__file__).with_name("spec_receiver.mjs")
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        f"spec-receiver-{port}",
        [node, str(script), str(port), PUBLIC_KEY],
        dict(os.environ),
        stack.log_dir,
        f"{url}/",
        ports=[port],
    )
    process.start()
    try:
        yield url
    finally:
        process.stop()


def received(url: str) -> list[dict[str, Any]]:
    return list(requests.get(f"{url}/", timeout=10).json())


def promise_status(stack: LocalStack, invocation_id: str) -> dict[str, Any]:
    response = requests.post(f"{stack.ingress_url}/promise/{invocation_id}/status", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def delivery_of(stack: LocalStack, invocation_id: str) -> dict[str, Any]:
    return promise_status(stack, invocation_id).get("delivery") or {}


def wait_for_delivery(
    stack: LocalStack, invocation_id: str, state: str, redeliveries: int = 0
) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        delivery = delivery_of(stack, invocation_id)
        done = delivery.get("state") == state and delivery.get("redeliveries") == redeliveries
        return delivery if done else None

    what = f"the delivery of {invocation_id} to be {state} (redelivery {redeliveries})"
    return dict(wait_until(settled, 90, what))


def push_to(stack: LocalStack, callback_url: str) -> tuple[str, str, str]:
    """Submit with a callback, without waiting; (key, invocation id, the query)."""
    key, sql = str(uuid.uuid4()), tagged(DEMO_QUERY)
    accepted = send(stack, {"query": sql, "callback_url": callback_url}, key)
    assert accepted.status_code == 202, accepted.text
    return key, accepted.json()["invocationId"], sql


def dead_url() -> tuple[int, str]:
    """A callback URL nothing listens on (yet)."""
    port = free_port()
    return port, f"http://127.0.0.1:{port}/callback"


def post_signed_by(url: str, keys: str, body: bytes) -> requests.Response:
    webhook_id, timestamp = f"msg_forged{uuid.uuid4().hex}", int(time.time())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(keys, webhook_id, timestamp, body),
        "content-type": "application/json",
    }
    return requests.post(url, data=body, headers=headers, timeout=10)


def test_a_receiver_holding_only_the_public_key_accepts_a_genuine_webhook_and_refuses_another_key(
    stack: LocalStack, tmp_path: Path
) -> None:
    listener, url = extra_listener(stack, tmp_path, "--secret", PUBLIC_KEY)
    listener.start()
    try:
        key, invocation_id, _ = push_to(stack, f"{url}/callback")
        pulled = attach(stack, key)
        webhook_id = f"msg_{invocation_id}"
        (stored,) = wait_until(lambda: deliveries(url), 30, "the genuine webhook")
        assert stored["webhook_id"] == webhook_id
        assert stored["body"].encode() == pulled.content

        body = pulled.content
        another_key = post_signed_by(f"{url}/callback", new_signing_key(), body)
        assert another_key.status_code == 401
        assert another_key.json()["error"] == "no matching signature"
        # The shared secret is no use to a forger here: this receiver trusts the public key only.
        shared = post_signed_by(f"{url}/callback", DEV_WEBHOOK_SECRET, body)
        assert shared.status_code == 401
        assert shared.json()["error"] == "no v1a signature in webhook-signature header"
        assert [d["webhook_id"] for d in deliveries(url)] == [webhook_id]
    finally:
        listener.stop()


def test_the_public_key_is_printed_by_a_command_and_served_on_the_ingress(
    stack: LocalStack,
) -> None:
    env = {**os.environ, "WEBHOOK_SECRET": stack.config.webhook_secret}
    printed = subprocess.run(
        [sys.executable, "-m", "webhooks", "public-key"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert printed.stdout.split() == [PUBLIC_KEY]
    served = requests.post(f"{stack.ingress_url}/webhookDelivery/keys/publicKeys", timeout=10)
    assert served.status_code == 200, served.text
    assert served.json() == {"public_keys": [PUBLIC_KEY], "schemes": ["v1", "v1a"]}


def test_a_receiver_written_only_from_the_specification_verifies_a_v1a_webhook(
    stack: LocalStack, spec_receiver: str
) -> None:
    key, invocation_id, _ = push_to(stack, f"{spec_receiver}/callback")
    pulled = attach(stack, key)
    delivered = wait_for_delivery(stack, invocation_id, "delivered")
    assert delivered["attempts"] == 1 and delivered["last_status"] == 204
    (genuine,) = received(spec_receiver)
    assert genuine["verified"] and genuine["webhook_id"] == f"msg_{invocation_id}"
    assert genuine["body"].encode() == pulled.content
    # Both schemes during the migration: a v1 receiver and a v1a one read the same POST.
    schemes = sorted(entry.split(",")[0] for entry in genuine["webhook_signature"].split())
    assert schemes == ["v1", "v1a"]
    # The same receiver refuses a webhook signed with any other key.
    assert (
        post_signed_by(f"{spec_receiver}/callback", new_signing_key(), pulled.content).status_code
        == 401
    )
    assert not received(spec_receiver)[-1]["verified"]


def test_redelivery_after_a_success_sends_the_same_bytes_with_a_fresh_signature(
    stack: LocalStack, spec_receiver: str
) -> None:
    key, invocation_id, sql = push_to(stack, f"{spec_receiver}/callback")
    pulled = attach(stack, key)
    wait_for_delivery(stack, invocation_id, "delivered")
    time.sleep(1.1)  # so the fresh timestamp differs from the first
    run = run_poller(stack, "redeliver", "--key", key)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["outcome"] == "redelivering" and answer["redelivery"] == 1

    status = wait_for_delivery(stack, invocation_id, "delivered", redeliveries=1)
    first, again = wait_until(lambda: len(posts := received(spec_receiver)) == 2 and posts, 30, "2")
    assert again["verified"] and again["webhook_id"] == first["webhook_id"]
    assert again["body"] == first["body"] and again["body"].encode() == pulled.content
    assert int(again["webhook_timestamp"]) > int(first["webhook_timestamp"])
    assert again["webhook_signature"] != first["webhook_signature"]
    assert [(a["attempt"], a["redelivery"], a["verdict"]) for a in status["history"]] == [
        (1, 0, "delivered"),
        (2, 1, "delivered"),
    ]
    (execution,) = executions_of(stack, sql).values()
    assert execution["calls"]["StartQueryExecution"] == 1  # the query did not run again


def test_a_receiver_down_past_the_give_up_gets_the_result_after_a_redelivery(
    stack: LocalStack, tmp_path: Path
) -> None:
    port, callback_url = dead_url()
    key, invocation_id, sql = push_to(stack, callback_url)
    pulled = attach(stack, key)
    gave_up = wait_for_delivery(stack, invocation_id, "gave_up")
    assert gave_up["attempts"] >= 2 and "Connect" in (gave_up["last_error"] or "")

    listener, _ = extra_listener(stack, tmp_path)
    listener.command[listener.command.index("--port") + 1] = str(port)
    listener.health_url = f"http://127.0.0.1:{port}/health"
    listener.start()
    try:
        run = run_poller(stack, "redeliver", "--key", key)
        assert run.returncode == 0, run.stderr
        status = wait_for_delivery(stack, invocation_id, "delivered", redeliveries=1)
        (stored,) = deliveries(f"http://127.0.0.1:{port}")
        assert stored["webhook_id"] == f"msg_{invocation_id}"
        assert stored["body"].encode() == pulled.content
    finally:
        listener.stop()
    # Status shows every attempt: the automatic ones that failed, then the manual one.
    history = status["history"]
    assert len(history) == status["attempts"] == gave_up["attempts"] + 1
    assert {a["redelivery"] for a in history[:-1]} == {0}
    assert all(a["verdict"] == "retry" for a in history[:-2])
    assert (history[-1]["redelivery"], history[-1]["verdict"]) == (1, "delivered")
    # Shown by the command too.
    shown = run_poller(stack, "status", "--key", key)
    assert json.loads(shown.stdout)["delivery"]["history"] == history
    assert len(executions_of(stack, sql)) == 1


def test_redeliver_every_give_up_since_a_time_counts_what_it_sent(
    stack: LocalStack, tmp_path: Path
) -> None:
    since = datetime.now(UTC)
    _, retried, _ = push_to(stack, dead_url()[1])  # gives up after its retries: the object
    gone, gone_url = extra_listener(stack, tmp_path, "--fail-always", "--fail-status", "410")
    gone.start()
    try:
        # 410 gives up at the first attempt: the promise's own record holds that outcome.
        _, at_once, _ = push_to(stack, f"{gone_url}/callback")
        _, fine, _ = push_to(stack, f"{stack.listener_url}/callback")
        wait_for_delivery(stack, retried, "gave_up")
        assert wait_for_delivery(stack, at_once, "gave_up")["attempts"] == 1
        wait_for_delivery(stack, fine, "delivered")

        run = run_poller(
            stack, "redeliver", "--gave-up-since", since.isoformat(), "--admin", stack.admin_url
        )
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout)
        assert summary["gave_up"] == 2 and summary["redelivering"] == 2, run.stderr
        assert f"msg_{retried}" in run.stderr and f"msg_{at_once}" in run.stderr
        assert f"msg_{fine}" not in run.stderr
        for invocation_id in (retried, at_once):
            again = wait_for_delivery(stack, invocation_id, "gave_up", redeliveries=1)
            assert again["history"][-1]["redelivery"] == 1
    finally:
        gone.stop()
    # Nothing gave up since now: nothing is sent.
    later = run_poller(stack, "redeliver", "--gave-up-since", "0s", "--admin", stack.admin_url)
    assert json.loads(later.stdout)["gave_up"] == 0, later.stderr


def test_redeliver_says_why_it_cannot(stack: LocalStack) -> None:
    key = str(uuid.uuid4())
    assert send(stack, {"query": tagged(DEMO_QUERY)}, key).status_code == 202
    attach(stack, key)
    no_callback = run_poller(stack, "redeliver", "--key", key)
    assert no_callback.returncode == 1
    assert "submitted without a callback_url" in no_callback.stderr
    unknown = run_poller(stack, "redeliver", "--key", str(uuid.uuid4()))
    assert unknown.returncode == 6, unknown.stderr
