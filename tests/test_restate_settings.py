"""restate-server runs sized for the stack: one partition on a single node, CLUSTER_PARTITIONS
in a cluster, and a variable the caller set wins (so a run can compare with the defaults)."""

import subprocess
import tomllib
from pathlib import Path
from typing import Any

from infra.local.cluster import node_toml
from infra.local.components import define_restate
from infra.local.config import RESTATE_SERVER, NodePorts, StackConfig
from infra.local.identity import request_identity
from infra.local.restate_settings import CLUSTER_PARTITIONS, environment
from infra.local.stack import Ports


def single_node_env(
    tmp_path: Path, caller: dict[str, str], *, fsync_log: bool = False
) -> dict[str, str]:
    config = StackConfig(base_dir=tmp_path, ports=Ports.free(), fsync_log=fsync_log)
    (restate,) = define_restate(config, tmp_path, request_identity(tmp_path), caller)
    return restate.env


def loaded_config(env: dict[str, str]) -> dict[str, Any]:
    """What the real restate-server makes of these variables (a misspelt one is ignored)."""
    dumped = subprocess.run(
        [str(RESTATE_SERVER), "--dump-config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return tomllib.loads(dumped.stdout)


def test_a_single_node_runs_one_partition(tmp_path: Path) -> None:
    assert single_node_env(tmp_path, {})["RESTATE_DEFAULT_NUM_PARTITIONS"] == "1"


def test_a_single_node_keeps_its_log_in_the_local_loglet(tmp_path: Path) -> None:
    assert single_node_env(tmp_path, {})["RESTATE_BIFROST__DEFAULT_PROVIDER"] == "local"


def test_the_local_stacks_log_is_not_fsynced_unless_production_is_asked_for(
    tmp_path: Path,
) -> None:
    local = loaded_config(single_node_env(tmp_path, {}))
    assert local["bifrost"]["local"]["rocksdb-disable-wal-fsync"] is True
    production = loaded_config(single_node_env(tmp_path, {}, fsync_log=True))
    assert production["bifrost"]["local"]["rocksdb-disable-wal-fsync"] is False
    # Everything else a single node runs with is the same either way.
    assert production["default-num-partitions"] == local["default-num-partitions"] == 1
    assert production["bifrost"]["default-provider"] == "local"


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
