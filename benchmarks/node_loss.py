"""Losing a node of the local Restate cluster, measured: how long each promise waits, and
whether every promise still answers with its own rows, once.

One drill: N promises `SELECT <n> AS i` (each n its own), sent with a callback, on queries
that end a few seconds after the kill; every promise is attached (long poll) from the start;
one node's restate-server is SIGKILLed; then every answer is checked: HTTP 200, SUCCEEDED,
rows `[[n]]`, one Athena execution per query, one delivery per webhook-id, byte-identical to
the pulled result. Per promise it reports how long after the kill it answered, and how long
after its query ended, split by whether the dead node led the promise's partition.

    python -m benchmarks.node_loss --runs 5 --victim node-1
    python -m benchmarks.node_loss --victim random --seed 1234   # replays a random pick

Each run starts a fresh 3-node cluster in a scratch folder on free ports. Not part of
`make test` (tests/test_cluster.py runs one drill per node on one cluster); asserts nothing
unless a promise answers wrongly, then it prints everything known about it and exits 1.
"""

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from infra.local.config import NodePorts
from infra.local.ports import free_port
from infra.local.stack import ROOT, LocalStack, Ports, StackConfig

NODES = 3


@dataclass
class Probe:
    """One promise of a drill and the rows it must come back with: its own."""

    n: int
    sql: str
    rows: list[list[int]]
    key: str = field(default_factory=lambda: f"node-loss-{uuid.uuid4()}")
    leader: str = ""  # the node leading the partition of its invocation, before the kill
    status: int | None = None
    body: bytes = b""
    answered_at: float | None = None  # time.time() of the answer
    attaches: int = 0  # attach requests it took (a broken long poll is tried again)
    problems: list[str] = field(default_factory=list)

    @property
    def result(self) -> dict[str, Any]:
        return dict(json.loads(self.body)) if self.body.startswith(b"{") else {}

    def wrong(self) -> str | None:
        """What is wrong with the answer, or None when it is this promise's own."""
        if self.status != 200:
            return f"HTTP {self.status}: {self.body[:300]!r}"
        result = self.result
        if result.get("state") != "SUCCEEDED":
            return f"state {result.get('state')}: {result.get('error')}"
        if result.get("query") != self.sql:
            return f"the result of another query: {result.get('query')!r}"
        if result.get("rows") != self.rows:
            got = result.get("rows") or []
            return f"{len(got)} rows starting {got[:2]} instead of {self.rows[:2]}"
        return None


def probes_for(count: int, query_s: float) -> list[Probe]:
    """`count` promises, each with rows of its own (n = 1, 2, ...), in three kinds, so that at
    the kill some queries are queued on Athena, some running, and some are being read:
    - `SELECT n AS i`, RUNNING for `query_s` (less half a second queued);
    - `SELECT n AS i`, QUEUED for `query_s` less a second, then a second RUNNING;
    - 1500 rows `n + 1` to `n + 1500` (two pages to read), over at once."""
    tag = uuid.uuid4().hex[:8]
    probes = []
    for n in range(1, count + 1):
        if n % 3 == 0:
            sql = (
                f"SELECT x + {n} AS i FROM UNNEST(sequence(1, 1500)) AS t(x) ORDER BY x"
                f" -- drill {tag}\n-- local-athena: run_time_s=0.2"
            )
            probes.append(Probe(n, sql, [[x + n] for x in range(1, 1501)]))
            continue
        queued = 0.5 if n % 3 == 1 else query_s - 1
        hints = f"queue_delay_s={queued:g} run_time_s={query_s - queued:g}"
        probes.append(Probe(n, f"SELECT {n} AS i -- drill {tag}\n-- local-athena: {hints}", [[n]]))
    return probes


@dataclass
class Drill:
    """What one node loss did to the promises in flight."""

    victim: str
    killed_at: float  # time.time()
    probes: list[Probe]
    executions: dict[str, int]  # sql -> Athena executions
    deliveries: dict[str, list[dict[str, Any]]]  # webhook-id -> stored deliveries
    # For each promise the dead node led: seconds until its partition answered again.
    resumed_after: list[float] = field(default_factory=list)

    def failures(self) -> list[str]:
        failures = []
        for probe in self.probes:
            if problem := probe.wrong():
                failures.append(f"{probe.key} (n={probe.n}, leader {probe.leader}): {problem}")
                continue
            runs = self.executions.get(probe.sql, 0)
            if runs != 1:
                failures.append(f"{probe.key}: Athena ran its query {runs} times")
            webhook_id = f"msg_{probe.result['invocation_id']}"
            stored = self.deliveries.get(webhook_id, [])
            if len(stored) != 1:
                failures.append(f"{probe.key}: {len(stored)} deliveries stored for {webhook_id}")
            elif stored[0]["body"].encode() != probe.body:
                failures.append(f"{probe.key}: the pushed bytes differ from the pulled ones")
        return failures

    def after_kill(self, leader_died: bool) -> list[float]:
        """Seconds from the kill to each answer that came after it."""
        return [
            p.answered_at - self.killed_at
            for p in self.probes
            if p.answered_at is not None
            and p.answered_at > self.killed_at
            and (p.leader == self.victim) == leader_died
        ]

    def after_query_end(self, leader_died: bool) -> list[float]:
        return [
            p.answered_at - parse_time(p.result["completed_at"])
            for p in self.probes
            if p.answered_at is not None
            and p.status == 200
            and (p.leader == self.victim) == leader_died
        ]

    def report(self) -> str:
        """A small table: seconds to each answer, min / median / max."""
        early = sum(
            p.answered_at is not None and p.answered_at <= self.killed_at for p in self.probes
        )
        lines = [
            f"{self.victim} SIGKILLed, {len(self.probes)} promises in flight "
            f"({early} had answered before the kill); seconds, min / median / max:",
            f"  {'':28} {'promises':>8}  {'answered after the kill':>25}  "
            f"{'answered after its query ended':>30}",
        ]
        for leader_died, who in ((True, "partition led by the dead node"), (False, "others")):
            count = len([p for p in self.probes if (p.leader == self.victim) == leader_died])
            lines.append(
                f"  {who:28} {count:8}  {spread(self.after_kill(leader_died)):>25}  "
                f"{spread(self.after_query_end(leader_died)):>30}"
            )
        lines.append(
            f"  the dead node's partitions answered again (/output) after the kill: "
            f"{spread(self.resumed_after)}"
        )
        retried = sum(p.attaches > 1 for p in self.probes)
        lines.append(f"  long polls broken by the kill and made again: {retried}")
        return "\n".join(lines)


def spread(values: list[float]) -> str:
    """min / median / max, in seconds."""
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def send(url: str, probe: Probe, callback_url: str) -> None:
    """Fire and forget, tried again until some node takes it (the key makes it once)."""
    body = {"query": probe.sql, "callback_url": callback_url}
    for _ in range(60):
        try:
            response = requests.post(
                f"{url}/query/query/send",
                json=body,
                headers={"idempotency-key": probe.key},
                timeout=30,
            )
            if response.status_code in (200, 202):
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"no ingress took {probe.key}")


def attach(urls: Callable[[], str], probe: Probe, give_up_at: float) -> None:
    """Long-poll until the promise answers; a poll the dead node broke is tried again
    through the next URL, as the poller does."""
    while time.monotonic() < give_up_at:
        probe.attaches += 1
        url = urls()
        try:
            response = requests.get(
                f"{url}/restate/invocation/query/query/{probe.key}/attach", timeout=120
            )
        except requests.RequestException as error:
            probe.problems.append(f"{url}: {type(error).__name__}")
            time.sleep(0.1)
            continue
        if response.status_code < 500 and response.status_code not in (408, 429):
            probe.answered_at = time.time()
            probe.status, probe.body = response.status_code, response.content
            return
        # The node is going or the partition is moving: the cluster says so, try again.
        probe.problems.append(f"{url}: HTTP {response.status_code} {response.text[:120]}")
        time.sleep(0.1)
    probe.status, probe.body = None, b"never answered"


def answers_again(url: str, key: str, since: float, timeout_s: float = 120) -> float:
    """Seconds from `since` (time.time()) until the partition of `key` answers for it again
    (done or not yet done)."""
    while time.time() - since < timeout_s:
        try:
            response = requests.get(f"{url}/restate/invocation/query/query/{key}/output", timeout=2)
            if response.status_code in (200, 470):
                break
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return time.time() - since


def leaders_of(stack: LocalStack, probes: list[Probe], timeout_s: float = 10) -> None:
    """Which node leads the partition of each promise's invocation, now (a sent invocation
    shows in the status table a moment after its partition applied it)."""
    keys = {probe.key for probe in probes}
    deadline = time.monotonic() + timeout_s
    found = stack.partition_leaders_of(keys)
    while set(found) != keys and time.monotonic() < deadline:
        time.sleep(0.1)
        found = stack.partition_leaders_of(keys)
    for probe in probes:
        probe.leader = found.get(probe.key, "")


def run_drill(
    stack: LocalStack,
    victim: str,
    count: int = 30,
    query_s: float = 6.0,
    kill_after_s: float = 2.5,
    send_url: str | None = None,
    attach_urls: list[str] | None = None,
) -> Drill:
    """Send `count` promises on queries of `query_s`, SIGKILL node `victim` (node-1, ...)
    `kill_after_s` after they were sent, wait for every answer, bring the node back."""
    victim_index = int(victim.removeprefix("node-")) - 1
    ingresses = stack.ingress_urls
    survivors = [url for i, url in enumerate(ingresses) if i != victim_index]
    probes = probes_for(count, query_s)
    callback = f"{stack.listener_url}/callback"
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(
            pool.map(
                lambda ip: send(send_url or ingresses[ip[0] % len(ingresses)], ip[1], callback),
                enumerate(probes),
            )
        )
    sent_at = time.monotonic()
    leaders_of(stack, probes)

    rotation = iter(range(10**9))
    lock = threading.Lock()

    def next_url() -> str:
        pool = attach_urls or survivors
        with lock:
            return pool[next(rotation) % len(pool)]

    give_up_at = sent_at + 180
    attaching = ThreadPoolExecutor(max_workers=count)
    futures = [attaching.submit(attach, next_url, probe, give_up_at) for probe in probes]
    time.sleep(max(0.0, sent_at + kill_after_s - time.monotonic()))
    killed_at = time.time()
    stack.processes[f"restate-{victim_index + 1}"].kill()
    # How long the partitions the dead node led take to answer again, through a survivor.
    orphans = [probe for probe in probes if probe.leader == victim]
    with ThreadPoolExecutor(max_workers=max(1, len(orphans))) as watching:
        resumed = list(
            watching.map(lambda p: answers_again(survivors[0], p.key, killed_at), orphans)
        )
    for future in futures:
        future.result()
    attaching.shutdown()

    executions = Counter(
        info["query"]
        for info in requests.get(f"{stack.athena_url}/_local/stats", timeout=30)
        .json()["executions"]
        .values()
    )
    deliveries = wait_for_deliveries(stack, probes)
    drill = Drill(victim, killed_at, probes, dict(executions), deliveries, resumed)
    stack.restart(f"restate-{victim_index + 1}")
    return drill


def wait_for_deliveries(
    stack: LocalStack, probes: list[Probe], timeout_s: float = 60
) -> dict[str, list[dict[str, Any]]]:
    wanted = {f"msg_{p.result['invocation_id']}" for p in probes if p.status == 200}
    deadline = time.monotonic() + timeout_s
    while True:
        stored: dict[str, list[dict[str, Any]]] = {}
        response = requests.get(f"{stack.listener_url}/deliveries", timeout=30)
        for delivery in response.json():
            if delivery["webhook_id"] in wanted:
                stored.setdefault(delivery["webhook_id"], []).append(delivery)
        if set(stored) >= wanted or time.monotonic() > deadline:
            return stored
        time.sleep(0.2)


def cluster_config(
    workdir: Path, service_workers: int = 2, fast_failover: bool = True
) -> StackConfig:
    return StackConfig(
        fast_failover=fast_failover,
        base_dir=workdir / "restate",
        data_dir=workdir / "data",
        ports=Ports.free(),
        nodes=NODES,
        cluster_ports=[NodePorts(free_port(), free_port(), free_port()) for _ in range(NODES)],
        service_workers=service_workers,
    )


def scratch_workdir() -> Path:
    """A temporary folder with a copy of the sample data, thrown away after the run."""
    workdir = Path(tempfile.mkdtemp(prefix="node-loss-"))
    (workdir / "data").mkdir()
    shutil.copy(ROOT / "data" / "sample.jsonl", workdir / "data")
    return workdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.node_loss", description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="fresh clusters, one drill each")
    parser.add_argument("--promises", type=int, default=30)
    parser.add_argument("--query-s", type=float, default=6.0, help="how long each query runs")
    parser.add_argument("--kill-after", type=float, default=2.5, help="seconds after sending")
    parser.add_argument(
        "--victim", default="node-1", help="node-1, node-2, node-3, each, or random"
    )
    parser.add_argument("--seed", type=int, help="replays the random picks of an earlier run")
    parser.add_argument(
        "--callers",
        choices=["balancer", "nodes"],
        default="balancer",
        help="send and attach through the stack's ingress (a balancer across every node's), "
        "or each through one node's ingress: sent round robin, attached through survivors",
    )
    parser.add_argument(
        "--restate-defaults",
        action="store_true",
        help="restate-server's own failure detection and failover settings, not the stack's",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep each run's folder (the processes' logs)"
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    picker = random.Random(seed)
    print(f"seed {seed} (replay with --seed {seed})", flush=True)
    failed = False
    drills: dict[str, list[Drill]] = {}
    for run in range(args.runs):
        workdir = scratch_workdir()
        try:
            started = time.monotonic()
            config = cluster_config(workdir, fast_failover=not args.restate_defaults)
            with LocalStack(config) as stack:
                print(f"\nrun {run + 1}: cluster up in {time.monotonic() - started:.1f} s")
                if args.victim == "each":
                    victims = [f"node-{i + 1}" for i in range(NODES)]
                elif args.victim == "random":
                    victims = [f"node-{picker.randrange(NODES) + 1}"]
                else:
                    victims = [args.victim]
                for victim in victims:
                    balanced = args.callers == "balancer"
                    drill = run_drill(
                        stack,
                        victim,
                        args.promises,
                        args.query_s,
                        args.kill_after,
                        send_url=stack.ingress_url if balanced else None,
                        attach_urls=[stack.ingress_url] if balanced else None,
                    )
                    print(drill.report(), flush=True)
                    drills.setdefault(victim, []).append(drill)
                    for failure in drill.failures():
                        failed = True
                        print(f"  WRONG: {failure}", flush=True)
                    for probe in drill.probes:
                        if probe.wrong():
                            print(f"  answer of {probe.key}: {probe.body.decode()}")
                            print(f"  its attaches: {probe.problems}")
        finally:
            if args.keep:
                print(f"logs kept in {workdir / 'restate' / 'logs'}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    if args.runs > 1:
        print(summary(drills))
    return 1 if failed else 0


def summary(drills: dict[str, list[Drill]]) -> str:
    """Every drill's promises pooled by the node that died: min / median / max."""
    lines = [
        "\nall runs, seconds, min / median / max:",
        f"  {'node killed':12} {'drills':>6}  {'its partitions answered again':>29}  "
        f"{'after its query ended: dead leader':>34}  {'the others':>18}",
    ]
    for victim, runs in sorted(drills.items()):
        resumed = [s for drill in runs for s in drill.resumed_after]
        orphans = [s for drill in runs for s in drill.after_query_end(True)]
        others = [s for drill in runs for s in drill.after_query_end(False)]
        lines.append(
            f"  {victim:12} {len(runs):6}  {spread(resumed):>29}  "
            f"{spread(orphans) + f' ({len(orphans)})':>34}  "
            f"{spread(others) + f' ({len(others)})':>18}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
