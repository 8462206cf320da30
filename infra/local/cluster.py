"""A Restate cluster on one machine: N restate-server processes from the pinned package.

Restate does the clustering: one cluster name, one node that provisions the cluster, the
replicated metadata server and replicated loglet (Bifrost) with replication 2, and every node
serving ingress. Each node gets a TOML file of its own in its own base directory. `restatectl`
(pinned next to the server) answers whether the cluster is up and who leads what.
"""

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.config import RESTATE_SERVER, RESTATECTL, NodePorts, local_url
from infra.local.processes import ManagedProcess, StackError, is_healthy
from infra.local.restate_settings import CLUSTER, CLUSTER_PARTITIONS

CLUSTER_NAME = "athena-promises-local"
REPLICATION = 2  # with 3 nodes, one may fail
# Fewer partitions than the default 24 (infra/local/restate_settings.py, measured in
# docs/cluster.md): on a small machine the cluster spends less CPU, starts and fails over faster.
PARTITIONS = CLUSTER_PARTITIONS

# Failing over sooner than restate-server's defaults (measured in docs/cluster.md). Killing the
# node that led the metadata server and the cluster controller (node 1, the one that
# provisioned the cluster) took 2.3 to 4.1 s until its partitions answered again: about 1 s
# until the others call it dead, about 1 s to elect a new metadata leader, then up to one
# controller round (1.5 s) before partitions get new leaders. Each setting trades a faster
# reaction for a node that is only slow (a stall of half a second on a busy machine) being
# treated as dead: its partitions move, and move back later.
FAST_FAILOVER: dict[str, dict[str, object]] = {
    # 5 gossip ticks of 100 ms without news: dead after 0.5 s of silence (default 10: 1 s).
    "": {"gossip-failure-threshold": 5},
    # A metadata follower starts an election after 5 ticks of 100 ms without the leader's
    # heartbeat (default 10: 1 s); heartbeats stay every 2 ticks.
    "metadata-server": {"raft-election-tick": 5},
    # The cluster controller looks at the nodes every 500 ms (default 1.5 s), so it moves a
    # dead node's partitions sooner, at the cost of more frequent rounds of small requests.
    "admin": {"heartbeat-interval": "500ms"},
}


def node_name(index: int) -> str:
    return f"node-{index + 1}"


def fabric_url(ports: NodePorts) -> str:
    return f"{local_url(ports.fabric)}/"


def node_toml(
    index: int,
    nodes: list[NodePorts],
    base_dir: Path,
    identity_pem: Path,
    fast_failover: bool = True,
) -> str:
    """The configuration of node `index` (from 0) of the cluster made of `nodes`; with
    `fast_failover`, the settings of FAST_FAILOVER on top of restate-server's defaults."""
    me = nodes[index]

    def value(item: object) -> str:
        return json.dumps(item)  # a JSON string, number, bool or list of strings is valid TOML

    def tuned(section: str) -> list[str]:
        settings = FAST_FAILOVER.get(section, {}) if fast_failover else {}
        return [f"{name} = {value(setting)}" for name, setting in settings.items()]

    lines = [
        f"node-name = {value(node_name(index))}",
        f"cluster-name = {value(CLUSTER_NAME)}",
        f"base-dir = {value(str(base_dir))}",
        "# Exactly one node provisions the cluster; the others join it.",
        f"auto-provision = {value(index == 0)}",
        f"default-replication = {REPLICATION}",
        *(f"{name} = {value(setting)}" for name, setting in CLUSTER.items()),
        f"advertised-address = {value(fabric_url(me))}",
        f"bind-address = {value(f'127.0.0.1:{me.fabric}')}",
        f"request-identity-private-key-pem-file = {value(str(identity_pem))}",
        "disable-telemetry = true",
        *tuned(""),
        "",
        "[bifrost]",
        'default-provider = "replicated"',
        "",
        "[metadata-server]",
        'type = "replicated"',
        *tuned("metadata-server"),
        "",
        "[metadata-client]",
        f"addresses = {value([fabric_url(node) for node in nodes])}",
        "",
        "[admin]",
        f"bind-address = {value(f'127.0.0.1:{me.admin}')}",
        *tuned("admin"),
        "",
        "[ingress]",
        f"bind-address = {value(f'127.0.0.1:{me.ingress}')}",
        "",
    ]
    return "\n".join(lines)


def define_nodes(
    nodes: list[NodePorts],
    base_dir: Path,
    identity_pem: Path,
    env: dict[str, str],
    log_dir: Path,
    fast_failover: bool = True,
) -> list[ManagedProcess]:
    """One restate-server per node, named restate-1, restate-2, ..., each in base_dir/node-i."""
    processes = []
    for index, ports in enumerate(nodes):
        node_dir = base_dir / node_name(index)
        node_dir.mkdir(parents=True, exist_ok=True)
        config_file = node_dir / "restate.toml"
        config_file.write_text(node_toml(index, nodes, node_dir, identity_pem, fast_failover))
        processes.append(
            ManagedProcess(
                f"restate-{index + 1}",
                [
                    str(RESTATE_SERVER),
                    "--config-file",
                    str(config_file),
                    "--no-logo",
                    "--listen-mode",
                    "tcp",
                ],
                env,
                log_dir,
                f"{local_url(ports.admin)}/health",
                ports=[ports.ingress, ports.admin, ports.fabric],
            )
        )
    return processes


@dataclass(frozen=True)
class PartitionLeader:
    partition_id: int
    start_key: int
    end_key: int
    node: str  # node-1, node-2, ...


class Restatectl:
    """restatectl pointed at every node: whichever is alive answers."""

    def __init__(self, nodes: list[NodePorts]) -> None:
        self.addresses = ",".join(fabric_url(node) for node in nodes)

    def run(self, *args: str, timeout_s: float = 20) -> str:
        try:
            run = subprocess.run(
                [str(RESTATECTL), "--address", self.addresses, *args],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"restatectl {args[0]} did not answer in {timeout_s:g} s") from None
        if run.returncode != 0:
            raise StackError(f"restatectl {args[0]} failed: {run.stderr.strip()}")
        return run.stdout

    def sql(self, query: str) -> list[dict[str, Any]]:
        return list(json.loads(self.run("sql", "--json", query) or "[]"))

    def status(self) -> str:
        return self.run("status")

    def alive_nodes(self) -> set[str]:
        rows = self.sql("SELECT name FROM nodes WHERE state = 'alive'")
        return {str(row["name"]) for row in rows}

    def partition_leaders(self) -> list[PartitionLeader]:
        rows = self.sql(
            "SELECT p.partition_id, p.start_key, p.end_key, n.name FROM partitions p "
            "LEFT JOIN nodes n ON p.leader_plain_node_id = n.plain_node_id "
            "ORDER BY p.partition_id"
        )
        return [
            PartitionLeader(
                int(row["partition_id"]),
                int(row["start_key"]),
                int(row["end_key"]),
                str(row.get("name") or ""),
            )
            for row in rows
        ]


def cluster_problem(nodes: list[NodePorts]) -> str | None:
    """What still keeps the cluster from serving, or None once every node serves."""
    restatectl = Restatectl(nodes)
    try:
        alive = restatectl.alive_nodes()
        leaders = restatectl.partition_leaders()
    except (StackError, ValueError) as error:
        return str(error)
    missing = sorted({node_name(i) for i in range(len(nodes))} - alive)
    if missing:
        return f"not yet alive: {', '.join(missing)}"
    if len(leaders) < PARTITIONS:
        return f"{len(leaders)} of {PARTITIONS} partitions provisioned"
    leaderless = [leader.partition_id for leader in leaders if leader.node not in alive]
    if leaderless:
        return f"partitions without a leader: {leaderless}"
    not_serving = [
        local_url(node.ingress)
        for node in nodes
        if not is_healthy(f"{local_url(node.ingress)}/restate/health")
    ]
    if not_serving:
        return f"ingress not ready: {', '.join(not_serving)}"
    return None


def wait_cluster_ready(nodes: list[NodePorts], timeout_s: float = 120) -> None:
    """Wait until the cluster is provisioned, every node alive and every partition led."""
    deadline = time.monotonic() + timeout_s
    problem = cluster_problem(nodes)
    while problem is not None:
        if time.monotonic() >= deadline:
            raise StackError(
                f"The Restate cluster was not ready after {timeout_s:g} s ({problem}); "
                "see the restate-*.log files."
            )
        time.sleep(0.5)
        problem = cluster_problem(nodes)
