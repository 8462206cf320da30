"""`python -m poller list` against the real stack: promises in every phase and state, each
filter, newest first, from Restate's admin API alone (Athena is not called)."""

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from infra.local.processes import free_port
from infra.local.stack import LocalStack
from poller import Client, QueryRequest, UnknownKey
from poller.list_command import age, table
from service.models import DEMO_QUERY
from tests.stack_support import tagged, wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...

# What an operator reads across the top (written out: the test checks the command's own).
COLUMNS = ["KEY", "INVOCATION", "PHASE", "ATHENA", "STATE", "AGE", "DELIVERY", "ENTRY"]


def listed(stack: LocalStack, *flags: str) -> list[dict[str, Any]]:
    run = subprocess.run(
        [sys.executable, "-m", "poller", "list", "--admin", stack.admin_url, "--json", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def phase_is(client: Client, key: str, phase: str) -> bool:
    try:
        return client.status(key).phase == phase
    except UnknownKey:  # its first step is not journaled yet
        return False


def delivery_failed(client: Client, key: str) -> bool:
    delivery = client.status(key).delivery
    return delivery is not None and delivery.state == "retrying"


def test_list_shows_every_promise_and_filters_them(stack: LocalStack) -> None:
    client = Client(stack.ingress_url, timeout_s=10)
    prefix = f"list-{uuid.uuid4().hex[:8]}-"
    keys = {name: prefix + name for name in ("ok", "failed", "undelivered", "slow", "cancelled")}
    client.query(tagged(DEMO_QUERY), key=keys["ok"])
    client.query(tagged('SELECT no_such_column FROM "demo_db"."table"'), key=keys["failed"])
    time.sleep(0.05)
    since = datetime.now(UTC)
    # Nothing listens there: the first attempt fails and the delivery retries.
    nowhere = f"http://127.0.0.1:{free_port()}/callback"
    client.query(
        QueryRequest(query=tagged(DEMO_QUERY), callback_url=nowhere), key=keys["undelivered"]
    )
    client.submit(tagged("SELECT 1", "run_time_s=120"), key=keys["slow"])
    client.submit(tagged("SELECT 2", "run_time_s=120"), key=keys["cancelled"])
    for name in ("slow", "cancelled"):
        wait_until(partial(phase_is, client, keys[name], "running"), 30, f"{name} to run")
    client.cancel(keys["cancelled"], "listed")
    assert client.attach(keys["cancelled"]).state == "CANCELLED"
    wait_until(partial(delivery_failed, client, keys["undelivered"]), 30, "a failed attempt")

    try:
        everything = listed(stack, "--key-prefix", prefix)
        # Newest first.
        assert [entry["key"] for entry in everything] == [
            keys[name] for name in ("cancelled", "slow", "undelivered", "failed", "ok")
        ]
        by_key = {entry["key"]: entry for entry in everything}
        slow = by_key[keys["slow"]]
        assert (slow["phase"], slow["athena_state"], slow["state"]) == ("running", "RUNNING", None)
        assert slow["invocation_id"] == client.invocation_id(keys["slow"])
        assert by_key[keys["ok"]]["state"] == "SUCCEEDED" and by_key[keys["ok"]]["delivery"] is None
        assert by_key[keys["failed"]]["state"] == "FAILED"
        assert by_key[keys["undelivered"]]["delivery"] == "retrying"
        assert all(entry["age_s"] >= 0 for entry in everything)

        def only(*flags: str) -> list[str]:
            return [entry["key"] for entry in listed(stack, "--key-prefix", prefix, *flags)]

        assert only("--phase", "running") == [keys["slow"]]
        assert only("--phase", "done", "--limit", "2") == [keys["cancelled"], keys["undelivered"]]
        assert only("--state", "FAILED") == [keys["failed"]]
        assert only("--state", "CANCELLED") == [keys["cancelled"]]
        assert only("--failed-delivery") == [keys["undelivered"]]
        assert only("--since", since.isoformat()) == [
            keys[name] for name in ("cancelled", "slow", "undelivered")
        ]
        assert only("--state", "SUCCEEDED", "--phase", "running") == []
        assert listed(stack, "--key-prefix", prefix + "nothing") == []
    finally:
        client.cancel(keys["slow"], "test over")

    # The table an operator reads.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "poller",
            "list",
            "--admin",
            stack.admin_url,
            "--key-prefix",
            prefix,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    header, *lines = run.stdout.splitlines()
    assert header.split() == COLUMNS
    ok = [keys["ok"], by_key[keys["ok"]]["invocation_id"], "done", "SUCCEEDED", "SUCCEEDED"]
    assert lines[-1].split()[:5] == ok


def test_list_without_the_admin_api_says_so_and_exits_7() -> None:
    admin = f"http://127.0.0.1:{free_port()}"
    run = subprocess.run(
        [sys.executable, "-m", "poller", "list", "--admin", admin],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 7 and admin in run.stderr


def test_ages_and_an_empty_table_read_well() -> None:
    assert [age(s) for s in (5, 65, 3 * 3600 + 120, 90000)] == ["5s", "1m05s", "3h02m", "1d01h"]
    assert table([]).split() == COLUMNS
