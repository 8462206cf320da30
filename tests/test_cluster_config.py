"""Each node's TOML: one cluster, one provisioning node, replicated metadata and log."""

import tomllib
from pathlib import Path

import pytest

from infra.local.__main__ import main
from infra.local.cluster import CLUSTER_NAME, REPLICATION, node_toml
from infra.local.config import NodePorts, Ports, node_ports

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
        assert node["metadata-server"] == {"type": "replicated"}
        assert node["metadata-client"] == {
            "addresses": [
                "http://127.0.0.1:5122/",
                "http://127.0.0.1:5123/",
                "http://127.0.0.1:5124/",
            ]
        }
        assert node["request-identity-private-key-pem-file"] == str(tmp_path / "private.pem")


def test_every_node_has_its_own_ports(tmp_path: Path) -> None:
    bound = [
        (node["bind-address"], node["admin"]["bind-address"], node["ingress"]["bind-address"])  # type: ignore[index]
        for node in configs(tmp_path)
    ]
    assert bound[1] == ("127.0.0.1:5123", "127.0.0.1:9071", "127.0.0.1:8081")
    assert len({address for addresses in bound for address in addresses}) == 9


def test_node_ports_count_up_from_the_configured_ones() -> None:
    ports = Ports.model_validate({"ingress": 18080, "admin": 19070, "fabric": 15122})
    assert node_ports(ports, 2) == [NodePorts(18080, 19070, 15122), NodePorts(18081, 19071, 15123)]


@pytest.mark.parametrize("option", ["--nodes", "--service-workers"])
def test_zero_nodes_or_workers_is_refused(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["up", option, "0"])
    assert exit_info.value.code == 2
    assert "must be 1 or more, not 0" in capsys.readouterr().err
