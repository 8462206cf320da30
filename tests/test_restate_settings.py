"""restate-server runs sized for the stack: one partition on a single node, CLUSTER_PARTITIONS
in a cluster, and a variable the caller set wins (so a run can compare with the defaults)."""

import tomllib
from pathlib import Path

from infra.local.cluster import node_toml
from infra.local.components import define_restate
from infra.local.config import NodePorts, StackConfig
from infra.local.identity import request_identity
from infra.local.restate_settings import CLUSTER_PARTITIONS, environment
from infra.local.stack import Ports


def single_node_env(tmp_path: Path, caller: dict[str, str]) -> dict[str, str]:
    config = StackConfig(base_dir=tmp_path, ports=Ports.free())
    (restate,) = define_restate(config, tmp_path, request_identity(tmp_path), caller)
    return restate.env


def test_a_single_node_runs_one_partition(tmp_path: Path) -> None:
    assert single_node_env(tmp_path, {})["RESTATE_DEFAULT_NUM_PARTITIONS"] == "1"


def test_a_single_node_keeps_its_log_in_the_local_loglet(tmp_path: Path) -> None:
    assert single_node_env(tmp_path, {})["RESTATE_BIFROST__DEFAULT_PROVIDER"] == "local"


def test_the_invoker_keeps_at_most_500_invocations_open(tmp_path: Path) -> None:
    variable = "RESTATE_WORKER__INVOKER__CONCURRENT_INVOCATIONS_LIMIT"
    assert single_node_env(tmp_path, {})[variable] == "500"


def test_a_variable_the_caller_set_wins(tmp_path: Path) -> None:
    caller = {"RESTATE_DEFAULT_NUM_PARTITIONS": "24"}
    assert single_node_env(tmp_path, caller)["RESTATE_DEFAULT_NUM_PARTITIONS"] == "24"


def test_a_cluster_node_provisions_the_clusters_partitions(tmp_path: Path) -> None:
    nodes = [NodePorts(8081 + i, 9070 + i, 5122 + i) for i in range(3)]
    config = tomllib.loads(node_toml(0, nodes, tmp_path, tmp_path / "key.pem"))
    assert config["default-num-partitions"] == CLUSTER_PARTITIONS


def test_settings_become_restates_variables() -> None:
    settings = {
        "default-num-partitions": 1,
        "disable-prometheus": True,
        "bifrost.default-provider": "local",
    }
    assert environment(settings) == {
        "RESTATE_DEFAULT_NUM_PARTITIONS": "1",
        "RESTATE_DISABLE_PROMETHEUS": "true",
        "RESTATE_BIFROST__DEFAULT_PROVIDER": "local",
    }
