"""A 3-node Restate cluster and 2 service processes: a node or a process dies, nothing is lost.

Restate does the clustering (replicated metadata and log, replication 2); the test only
kills things and checks the promise: every result once, on both paths, identical.
"""

import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from infra.local.config import NodePorts
from infra.local.processes import free_port
from infra.local.stack import LocalStack, admin_sql
from tests.stack_support import deliveries, executions_of, running_stack, tagged, wait_until

pytestmark = pytest.mark.e2e  # real processes: three restate-servers, the service, ...

PROMISES = 50
# Mixed so that at the kill some are queued on Athena, some running, some fetching results.
HINTS = ("queue_delay_s=4 run_time_s=1", "queue_delay_s=0.5 run_time_s=5", "run_time_s=0.2")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    nodes = [NodePorts(free_port(), free_port(), free_port()) for _ in range(3)]
    with running_stack(
        tmp_path_factory.mktemp("cluster"), nodes=3, cluster_ports=nodes, service_workers=2
    ) as stack:
        yield stack


class Promise:
    """One query sent with a callback, and what it must come back with."""

    def __init__(self, stack: LocalStack, index: int) -> None:
        self.key = f"cluster-{uuid.uuid4()}"
        self.index = index
        if index % 3 == 2:  # a few pages of results to fetch
            self.sql = tagged(
                f"SELECT x + {index} AS answer FROM UNNEST(sequence(1, 1500)) AS t(x) ORDER BY x",
                HINTS[2],
            )
            self.rows = 1500
        else:
            self.sql = tagged(
                f'SELECT sum("table"."value") + {index} AS answer FROM "demo_db"."table"',
                HINTS[index % 3],
            )
            self.rows = 1
        self.body = {"query": self.sql, "callback_url": f"{stack.listener_url}/callback"}

    def check(self, result: dict[str, Any]) -> None:
        assert result["state"] == "SUCCEEDED", result
        assert result["row_count"] == self.rows
        first = 1 + self.index if self.rows > 1 else 42 + self.index
        assert result["rows"][0] == [first]


def keys_of(promises: list[Promise]) -> list[str]:
    return [promise.key for promise in promises]


def send_via(ingress: str, promise: Promise) -> None:
    response = requests.post(
        f"{ingress}/query/query/send",
        json=promise.body,
        headers={"idempotency-key": promise.key},
        timeout=30,
    )
    assert response.status_code in (200, 202), response.text


def attach_via(ingress: str, key: str) -> requests.Response:
    return requests.get(f"{ingress}/restate/invocation/query/query/{key}/attach", timeout=180)


def answers_for(ingress: str, key: str) -> bool:
    """Whether the partition that owns this promise answers again (done or not yet done)."""
    try:
        response = requests.get(f"{ingress}/restate/invocation/query/query/{key}/output", timeout=2)
    except requests.RequestException:
        return False
    return response.status_code in (200, 470)


def leaders_of(stack: LocalStack, keys: set[str], admin_url: str) -> dict[str, str]:
    """The node that leads the partition of each key's invocation."""
    rows = admin_sql(
        admin_url,
        "SELECT idempotency_key, partition_key FROM sys_invocation_status "
        "WHERE target_service_name = 'query' AND target_handler_name = 'query'",
    )
    partitions = stack.restatectl().partition_leaders()
    found = {}
    for row in rows:
        if row["idempotency_key"] in keys:
            key_hash = int(row["partition_key"])
            for partition in partitions:
                if partition.start_key <= key_hash <= partition.end_key:
                    found[row["idempotency_key"]] = partition.node
    return found


def all_started_on_athena(stack: LocalStack, promises: list[Promise]) -> bool:
    return all(executions_of(stack, promise.sql) for promise in promises)


def assert_each_once_and_push_equals_pull(
    stack: LocalStack, promises: list[Promise], pulled: dict[str, requests.Response]
) -> Counter[int]:
    """Exactly one Athena execution per key and one stored delivery per webhook-id, with the
    same bytes as the pull; returns how many deliveries took how many attempts."""
    attempts: Counter[int] = Counter()
    for promise in promises:
        response = pulled[promise.key]
        assert response.status_code == 200, response.text
        promise.check(response.json())
        assert len(executions_of(stack, promise.sql)) == 1, promise.sql
    webhook_ids = {f"msg_{pulled[p.key].json()['invocation_id']}" for p in promises}

    def stored() -> list[dict[str, Any]]:
        mine = [d for d in deliveries(stack.listener_url) if d["webhook_id"] in webhook_ids]
        return mine if len(mine) >= len(webhook_ids) else []

    mine = wait_until(stored, 60, "every result to be pushed")
    assert sorted(d["webhook_id"] for d in mine) == sorted(webhook_ids)  # once each
    by_webhook_id = {f"msg_{r.json()['invocation_id']}": r for r in pulled.values()}
    for delivery in mine:
        assert delivery["body"].encode() == by_webhook_id[delivery["webhook_id"]].content
        attempts[delivery["attempts"]] += 1
    return attempts


def test_a_killed_service_process_loses_and_doubles_nothing(cluster: LocalStack) -> None:
    promises = [Promise(cluster, index) for index in range(20)]
    ingresses = cluster.ingress_urls
    with ThreadPoolExecutor(max_workers=8) as pool:
        sent = [
            pool.submit(send_via, ingresses[i % len(ingresses)], promise)
            for i, promise in enumerate(promises)
        ]
        # Mid-flight: some sent, some starting on Athena, some not sent yet.
        wait_until(lambda: sum(f.done() for f in sent) >= 8, 30, "the first promises sent")
        cluster.processes["service-1"].kill()
        for future in sent:
            future.result()
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = pool.map(attach_via, [ingresses[0]] * len(promises), keys_of(promises))
            pulled = dict(zip(keys_of(promises), responses, strict=True))
        assert_each_once_and_push_equals_pull(cluster, promises, pulled)
    finally:
        cluster.processes["service-1"].start()


def test_the_node_leading_the_partitions_dies_and_every_promise_completes_once(
    cluster: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    report = kill_the_leading_node(cluster, PROMISES)
    with capsys.disabled():
        print(f"\n{report}")


@pytest.mark.heavy
def test_the_leading_node_dies_three_times_over_under_three_times_the_load(
    cluster: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        report = kill_the_leading_node(cluster, 3 * PROMISES)
        with capsys.disabled():
            print(f"\n{report}")


def kill_the_leading_node(cluster: LocalStack, count: int) -> str:
    """Send `count` promises, SIGKILL the node leading most of their partitions, check every
    promise, restart the node and use it; what it measured, as a sentence."""
    promises = [Promise(cluster, index) for index in range(count)]
    ingresses = cluster.ingress_urls
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda ip: send_via(ingresses[ip[0] % 3], ip[1]), enumerate(promises)))
    wait_until(lambda: all_started_on_athena(cluster, promises), 60, "every query on Athena")

    keys = set(keys_of(promises))
    leaders = leaders_of(cluster, keys, cluster.admin_url)
    assert set(leaders) == keys
    victim = Counter(leaders.values()).most_common(1)[0][0]
    victim_index = int(victim.removeprefix("node-")) - 1
    survivors = [url for i, url in enumerate(ingresses) if i != victim_index]

    killed_at = time.monotonic()
    cluster.processes[f"restate-{victim_index + 1}"].kill()

    # Time until the cluster answers for each promise again, through a surviving node.
    def resumed_after(key: str) -> float:
        wait_until(lambda: answers_for(survivors[0], key), 120, f"an answer for {key}")
        return time.monotonic() - killed_at

    # One watcher per promise, so that no promise waits behind another one's partition.
    with ThreadPoolExecutor(max_workers=count) as pool:
        resume = dict(
            zip(keys_of(promises), pool.map(resumed_after, keys_of(promises)), strict=True)
        )
        # Attach goes through the surviving nodes' ingress.
        surviving = [survivors[i % 2] for i in range(count)]
        pulled = dict(
            zip(keys_of(promises), pool.map(attach_via, surviving, keys_of(promises)), strict=True)
        )
    attempts = assert_each_once_and_push_equals_pull(cluster, promises, pulled)

    # The node comes back, rejoins, and serves a new query through its own ingress.
    cluster.restart(f"restate-{victim_index + 1}")
    assert victim in cluster.restatectl().alive_nodes()
    again = Promise(cluster, 7)
    response = requests.post(
        f"{ingresses[victim_index]}/query/query",
        json=again.body,
        headers={"idempotency-key": again.key},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    again.check(response.json())

    own = [resume[key] for key in keys if leaders[key] == victim]
    return (
        f"{victim} (SIGKILL) led the partitions of {len(own)} of {count} promises; the cluster "
        f"answered for them again after p50 {statistics.median(resume.values()):.2f} s, max "
        f"{max(resume.values()):.2f} s (its own {len(own)}: p50 {statistics.median(own):.2f} s, "
        f"max {max(own):.2f} s); deliveries by attempts {dict(attempts)}"
    )
