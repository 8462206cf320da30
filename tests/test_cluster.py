"""A 3-node Restate cluster and 2 service processes: a node or a process dies, nothing is lost.

Restate does the clustering (replicated metadata and log, replication 2); callers and the
local Athena's events reach it through one balancer across every node's ingress. The tests
only kill things and check the promise: every result once, on both paths, identical, and
each promise's rows its own. The node drills (benchmarks/node_loss.py) kill every node in
turn, node 1 (the one that provisioned the cluster) included, and print per promise how long
after the kill, and after its query ended, it answered.
"""

import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from benchmarks.node_loss import NODES, Drill, Probe, run_drill
from infra.local.config import NodePorts
from infra.local.processes import free_port
from infra.local.stack import ROOT, LocalStack
from tests.stack_support import deliveries, executions_of, running_stack, tagged, wait_until

pytestmark = pytest.mark.e2e  # real processes: three restate-servers, the service, ...

# Each promise must answer within this long after its query ended, whichever node died.
# Generous for a noisy 2-core machine (the goal is 5 s; the drills print the figures): what
# it catches is a promise that waited for the safety net (30 s) because its event was lost.
ANSWER_BOUND_S = 15.0
# `CLUSTER_DRILL_SEED=1234 pytest tests/test_cluster.py --heavy` replays the heavy variant.
SEED_VARIABLE = "CLUSTER_DRILL_SEED"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    nodes = [NodePorts(free_port(), free_port(), free_port()) for _ in range(NODES)]
    with running_stack(
        tmp_path_factory.mktemp("cluster"), nodes=NODES, cluster_ports=nodes, service_workers=2
    ) as stack:
        yield stack


def send_via(ingress: str, body: dict[str, Any], key: str) -> None:
    response = requests.post(
        f"{ingress}/query/query/send", json=body, headers={"idempotency-key": key}, timeout=30
    )
    assert response.status_code in (200, 202), response.text


def attach_via(ingress: str, key: str) -> requests.Response:
    return requests.get(f"{ingress}/restate/invocation/query/query/{key}/attach", timeout=180)


def check_drill(drill: Drill, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{drill.report()}")
    assert drill.failures() == []
    late = [seconds for died in (True, False) for seconds in drill.after_query_end(died)]
    assert max(late) < ANSWER_BOUND_S, drill.report()


def test_the_first_queries_of_a_fresh_local_athena_never_fail_together() -> None:
    """The wrong answer a drill once saw: a promise answered 200 with `state: FAILED` and no
    rows (`NameError: name '_TrinoTokenizer' is not defined`), because two of the local
    Athena's query threads loaded sqlglot's Athena dialect at once. Here the moment between
    the dialect's registration and the end of its loading is stretched to 0.3 s, so that
    every query arriving in it would fail the same way without the fix."""
    script = textwrap.dedent(
        """
        import threading, time
        from sqlglot.dialects import dialect

        metaclass = type(dialect.Dialect)
        register = metaclass.__dict__["__new__"]

        def slow_register(mcs, name, bases, namespace):
            klass = register(mcs, name, bases, namespace)
            if name == "Athena":  # found by other threads from now on, not yet loaded
                time.sleep(0.3)
            return klass

        metaclass.__new__ = staticmethod(slow_register)
        from infra.local.athena.dialect import translate

        answers = {}

        def query(n):
            time.sleep(0.03 * n)
            try:
                answers[n] = translate(f"SELECT {n} AS i").duckdb_sql
            except Exception as error:
                answers[n] = repr(error)

        threads = [threading.Thread(target=query, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for n, answer in sorted(answers.items()):
            print(n, answer)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{n} SELECT {n} AS i" for n in range(8)], run.stdout


def test_a_killed_service_process_loses_and_doubles_nothing(cluster: LocalStack) -> None:
    promises = [
        Probe(n, tagged(f"SELECT {n} AS i", "queue_delay_s=0.5 run_time_s=1"), [[n]])
        for n in range(1, 21)
    ]
    callback = f"{cluster.listener_url}/callback"
    ingresses = cluster.ingress_urls
    with ThreadPoolExecutor(max_workers=8) as pool:
        sent = [
            pool.submit(
                send_via,
                ingresses[i % len(ingresses)],
                {"query": p.sql, "callback_url": callback},
                p.key,
            )
            for i, p in enumerate(promises)
        ]
        # Mid-flight: some sent, some starting on Athena, some not sent yet.
        wait_until(lambda: sum(f.done() for f in sent) >= 8, 30, "the first promises sent")
        cluster.processes["service-1"].kill()
        for future in sent:
            future.result()
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            keys = [p.key for p in promises]
            responses = list(pool.map(attach_via, [cluster.ingress_url] * len(keys), keys))
        for promise, response in zip(promises, responses, strict=True):
            promise.status, promise.body = response.status_code, response.content
            assert promise.wrong() is None, promise.wrong()
            assert len(executions_of(cluster, promise.sql)) == 1, promise.sql
        webhook_ids = {f"msg_{p.result['invocation_id']}" for p in promises}

        def stored() -> list[dict[str, Any]]:
            mine = [d for d in deliveries(cluster.listener_url) if d["webhook_id"] in webhook_ids]
            return mine if len(mine) >= len(webhook_ids) else []

        mine = wait_until(stored, 60, "every result to be pushed")
        assert sorted(d["webhook_id"] for d in mine) == sorted(webhook_ids)  # once each
        pulled = {f"msg_{p.result['invocation_id']}": p.body for p in promises}
        assert all(d["body"].encode() == pulled[d["webhook_id"]] for d in mine)
    finally:
        cluster.processes["service-1"].start()


@pytest.mark.parametrize("victim", [f"node-{i + 1}" for i in range(NODES)])
def test_losing_any_node_every_promise_answers_once_with_its_own_rows(
    cluster: LocalStack, victim: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """30 promises in flight through the balancer (queued, running, or with pages to read at
    the kill); `victim` is SIGKILLed; each promise answers 200 with its own rows, once on
    Athena, once pushed, pushed == pulled, soon after its query ended; the node comes back
    and serves through its own ingress."""
    balancer = [cluster.ingress_url]
    drill = run_drill(cluster, victim, 30, send_url=cluster.ingress_url, attach_urls=balancer)
    check_drill(drill, capsys)

    victim_index = int(victim.removeprefix("node-")) - 1
    assert victim in cluster.restatectl().alive_nodes()
    again = Probe(7, tagged("SELECT 7 AS i"), [[7]])
    response = requests.post(
        f"{cluster.ingress_urls[victim_index]}/query/query",
        json={"query": again.sql},
        headers={"idempotency-key": again.key},
        timeout=120,
    )
    again.status, again.body = response.status_code, response.content
    assert again.wrong() is None, again.wrong()


@pytest.mark.heavy
def test_random_nodes_die_three_times_over_under_three_times_the_load(
    cluster: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(os.environ.get(SEED_VARIABLE) or random.randrange(10**6))
    picker = random.Random(seed)
    for _ in range(3):
        victim = f"node-{picker.randrange(NODES) + 1}"
        with capsys.disabled():
            print(f"\n{victim} dies (replay: {SEED_VARIABLE}={seed})")
        balancer = [cluster.ingress_url]
        drill = run_drill(cluster, victim, 90, send_url=cluster.ingress_url, attach_urls=balancer)
        check_drill(drill, capsys)
