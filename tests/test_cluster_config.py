"""Each node's TOML: one cluster, one provisioning node, replicated metadata and log; and the
balancer in front of every node's ingress, where callers and events go."""

import asyncio
import time
import tomllib
from pathlib import Path

import pytest

from infra.local.__main__ import main
from infra.local.balancer import RoundRobin
from infra.local.cluster import CLUSTER_NAME, REPLICATION, node_toml
from infra.local.components import EVENTS_PATH, INGRESS_BALANCER, define_components
from infra.local.config import NodePorts, Ports, StackConfig, node_ports
from infra.local.ports import free_port
from infra.local.stack import LocalStack

NODES = [NodePorts(8080 + i, 9070 + i, 5122 + i) for i in range(3)]


def configs(tmp_path: Path) -> list[dict[str, object]]:
    pem = tmp_path / "private.pem"
    return [tomllib.loads(node_toml(i, NODES, tmp_path / f"n{i}", pem)) for i in range(3)]


def test_three_nodes_form_one_cluster_and_exactly_one_provisions_it(tmp_path: Path) -> None:
    nodes = configs(tmp_path)
    assert {node["cluster-name"] for node in nodes} == {CLUSTER_NAME}
    assert [node["auto-provision"] for node in nodes] == [True, False, False]
    assert len({node["node-name"] for node in nodes}) == 3
    assert len({node["base-dir"] for node in nodes}) == 3


def test_metadata_and_log_are_replicated_and_every_node_knows_every_other(
    tmp_path: Path,
) -> None:
    for node in configs(tmp_path):
        assert node["default-replication"] == REPLICATION == 2
        assert node["bifrost"] == {"default-provider": "replicated"}
        assert node["metadata-server"]["type"] == "replicated"  # type: ignore[index]
        assert node["metadata-client"] == {
            "addresses": [
                "http://127.0.0.1:5122/",
                "http://127.0.0.1:5123/",
                "http://127.0.0.1:5124/",
            ]
        }
        assert node["request-identity-private-key-pem-file"] == str(tmp_path / "private.pem")


def test_failure_detection_and_failover_are_tuned_for_seconds_unless_told_not_to(
    tmp_path: Path,
) -> None:
    pem = tmp_path / "private.pem"
    tuned = tomllib.loads(node_toml(1, NODES, tmp_path, pem))
    assert tuned["gossip-failure-threshold"] == 5
    assert tuned["metadata-server"]["raft-election-tick"] == 5
    assert tuned["admin"]["heartbeat-interval"] == "500ms"
    defaults = tomllib.loads(node_toml(1, NODES, tmp_path, pem, fast_failover=False))
    assert "gossip-failure-threshold" not in defaults
    assert defaults["metadata-server"] == {"type": "replicated"}
    assert "heartbeat-interval" not in defaults["admin"]


def test_every_node_has_its_own_ports(tmp_path: Path) -> None:
    bound = [
        (node["bind-address"], node["admin"]["bind-address"], node["ingress"]["bind-address"])  # type: ignore[index]
        for node in configs(tmp_path)
    ]
    assert bound[1] == ("127.0.0.1:5123", "127.0.0.1:9071", "127.0.0.1:8081")
    assert len({address for addresses in bound for address in addresses}) == 9


def test_node_ports_count_up_from_the_configured_ones_past_the_balancer() -> None:
    ports = Ports.model_validate({"ingress": 18080, "admin": 19070, "fabric": 15122})
    assert node_ports(ports, 1) == [NodePorts(18080, 19070, 15122)]
    # In a cluster 18080 is the balancer across the nodes' ingress: what callers use.
    assert node_ports(ports, 2) == [NodePorts(18081, 19070, 15122), NodePorts(18082, 19071, 15123)]


def test_events_and_callers_go_through_a_balancer_across_every_node_not_to_one(
    tmp_path: Path,
) -> None:
    ports = Ports.model_validate({"ingress": 18080, "admin": 19070, "fabric": 15122})
    config = StackConfig(base_dir=tmp_path, ports=ports, nodes=3)
    processes = {p.name: p for p in define_components(config, tmp_path)}
    balancer = processes[INGRESS_BALANCER]
    assert balancer.command[-8:] == [
        *("--port", "18080"),
        *("--backend", "18081", "--backend", "18082", "--backend", "18083"),
    ]
    athena = processes["athena"].command
    assert athena[athena.index("--events-url") + 1] == f"http://127.0.0.1:18080{EVENTS_PATH}"
    assert LocalStack(config).ingress_url == "http://127.0.0.1:18080"
    # The balancer starts after the nodes (its health is a node's) and before the rest.
    names = list(processes)
    assert names.index(INGRESS_BALANCER) == 3


def test_a_single_node_serves_its_ingress_itself(tmp_path: Path) -> None:
    ports = Ports.model_validate({"ingress": 18080, "admin": 19070, "fabric": 15122})
    config = StackConfig(base_dir=tmp_path, ports=ports)
    processes = {p.name: p for p in define_components(config, tmp_path)}
    assert INGRESS_BALANCER not in processes
    athena = processes["athena"].command
    assert athena[athena.index("--events-url") + 1] == f"http://127.0.0.1:18080{EVENTS_PATH}"


async def test_the_balancer_passes_over_a_dead_backend_at_once() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"live")
        await writer.drain()
        writer.close()

    live = await asyncio.start_server(answer, "127.0.0.1", 0)
    live_port = live.sockets[0].getsockname()[1]
    dead_port = free_port()  # nothing listens: refused, as a killed node's port is
    balancer = RoundRobin([dead_port, live_port])
    async with live:
        for _ in range(4):  # round robin would pick the dead one every other time
            started = time.monotonic()
            connection = await balancer.connect()
            assert connection is not None
            reader, writer = connection
            assert await reader.read() == b"live"
            writer.close()
            assert time.monotonic() - started < 0.5
        assert balancer._order() == [live_port, dead_port]  # cooling down: tried last
        assert await RoundRobin([dead_port]).connect() is None


@pytest.mark.parametrize("option", ["--nodes", "--service-workers"])
def test_zero_nodes_or_workers_is_refused(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["up", option, "0"])
    assert exit_info.value.code == 2
    assert "must be 1 or more, not 0" in capsys.readouterr().err
