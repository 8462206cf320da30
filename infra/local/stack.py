"""The local stack: restate-server, the local Athena, the service and the listener, wired up.

Used by `python -m infra.local up`, by `make demo` and by the end-to-end tests, so what the
tests exercise is what a user runs.
"""

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from infra.local.cluster import Restatectl, wait_cluster_ready
from infra.local.components import define_components
from infra.local.config import (
    RESTATE_SERVER,
    ROOT,
    NodePorts,
    Ports,
    StackConfig,
    ingress_port,
    local_url,
    restate_node_ports,
)
from infra.local.lambda_endpoint.wiring import function_arn, registration
from infra.local.processes import ManagedProcess, StackError, port_is_free

__all__ = ["ROOT", "LocalStack", "NodePorts", "Ports", "StackConfig"]


def admin_sql(admin_url: str, sql: str) -> list[dict[str, Any]]:
    """Rows of a query on Restate's introspection tables (`sys_invocation`, `sys_journal`,
    ...), through the admin API's SQL endpoint."""
    request = urllib.request.Request(
        f"{admin_url}/query",
        data=json.dumps({"query": sql}).encode(),
        headers={"content-type": "application/json", "accept": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.load(response)["rows"])


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.ports = config.ports
        self.log_dir = config.base_dir / "logs"
        self.processes: dict[str, ManagedProcess] = {}

    @property
    def ingress_url(self) -> str:
        """Where callers and events reach Restate: the node's ingress, or in a cluster the
        balancer across every node's ingress (each node's own: `ingress_urls`)."""
        return local_url(ingress_port(self.config))

    @property
    def admin_url(self) -> str:
        return local_url(self.nodes[0].admin)

    @property
    def ingress_urls(self) -> list[str]:
        return [local_url(node.ingress) for node in self.nodes]

    @property
    def admin_urls(self) -> list[str]:
        return [local_url(node.admin) for node in self.nodes]

    @property
    def nodes(self) -> list[NodePorts]:
        """Each Restate node's ports; one entry unless the stack runs a cluster."""
        return restate_node_ports(self.config)

    @property
    def is_cluster(self) -> bool:
        return self.config.nodes > 1

    @property
    def restate_processes(self) -> list[ManagedProcess]:
        return [p for name, p in self.processes.items() if name.startswith("restate")]

    def restatectl(self) -> Restatectl:
        return Restatectl(self.nodes)

    def live_admin_sql(self, sql: str) -> list[dict[str, Any]]:
        """`admin_sql` through the first node whose admin API answers (node 1 may be down)."""
        for admin_url in self.admin_urls[:-1]:
            try:
                return admin_sql(admin_url, sql)
            except (urllib.error.URLError, OSError):
                continue
        return admin_sql(self.admin_urls[-1], sql)

    def partition_leaders_of(self, keys: set[str]) -> dict[str, str]:
        """The node (node-1, ...) leading the partition of each `query/query` invocation
        whose idempotency key is in `keys`."""
        rows = self.live_admin_sql(
            "SELECT idempotency_key, partition_key FROM sys_invocation_status "
            "WHERE target_service_name = 'query' AND target_handler_name = 'query'"
        )
        partitions = self.restatectl().partition_leaders()
        found = {}
        for row in rows:
            if row["idempotency_key"] in keys:
                key_hash = int(row["partition_key"])
                for partition in partitions:
                    if partition.start_key <= key_hash <= partition.end_key:
                        found[row["idempotency_key"]] = partition.node
        return found

    @property
    def athena_url(self) -> str:
        return local_url(self.ports.athena)

    @property
    def listener_url(self) -> str:
        return local_url(self.ports.listener)

    @property
    def athena_results_dir(self) -> Path:
        """Where the local Athena writes result files: `s3://...` maps to a folder here."""
        return self.config.base_dir / "athena-results"

    @property
    def lambda_url(self) -> str:
        return local_url(self.ports.lambda_endpoint)

    @property
    def service_url(self) -> str:
        return local_url(self.ports.service)

    @property
    def metrics_urls(self) -> list[str]:
        """Each service process's own Prometheus metrics (none behind the local Lambda)."""
        if self.config.use_lambda:
            return []
        first = self.ports.metrics
        return [f"{local_url(first + i)}/metrics" for i in range(self.config.service_workers)]

    @property
    def restate_metrics_urls(self) -> list[str]:
        """restate-server's own Prometheus metrics: each node's node-to-node port."""
        return [f"{local_url(node.fabric)}/metrics" for node in self.nodes]

    def start(self) -> None:
        self._preflight()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            components = define_components(self.config, self.log_dir)
            self.processes = {process.name: process for process in components}
            # Cluster nodes need each other to come up: launch them all, then wait for each.
            for process in self.restate_processes:
                process.launch()
            for process in self.restate_processes:
                process.wait_healthy(timeout_s=120)
            if self.is_cluster:
                wait_cluster_ready(self.nodes)
            for process in components:
                if not process.name.startswith("restate"):
                    process.start()
            self.register_deployment()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            if not process.name.startswith("restate"):
                process.stop()
        # Cluster nodes each take a while to shut down: stop them side by side.
        with ThreadPoolExecutor(max_workers=max(1, len(self.restate_processes))) as pool:
            list(pool.map(ManagedProcess.stop, self.restate_processes))

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def restart(self, name: str, *, kill: bool = True) -> None:
        """Crash (SIGKILL) or stop one component and start it again on the same state."""
        process = self.processes[name]
        if kill:
            process.kill()
        else:
            process.stop()
        process.start()
        if name.startswith("restate") and self.is_cluster:
            wait_cluster_ready(self.nodes)  # it rejoined; the deployment is already known
        elif name == "restate":
            self.register_deployment()

    def wait_for_delivery(self, webhook_id: str, timeout_s: float = 30) -> dict[str, Any]:
        """What the stack's listener received for this webhook-id, once it has arrived."""
        url = f"{self.listener_url}/deliveries/{webhook_id}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return dict(json.load(response))
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise StackError(
                        f"The listener answered HTTP {error.code} for {url}."
                    ) from None
            time.sleep(0.05)
        raise StackError(
            f"The listener received no webhook {webhook_id} within {timeout_s:g} s; "
            f"see the service's and the listener's logs in {self.log_dir}."
        )

    def deliveries_stored(self) -> int:
        """How many webhook-ids the stack's listener has stored since it started."""
        with urllib.request.urlopen(f"{self.listener_url}/deliveries/_stats", timeout=5) as answer:
            return int(json.load(answer)["stored"])

    def wait_for_deliveries_stored(self, count: int, timeout_s: float = 300) -> None:
        """Until the listener has stored `count` webhook-ids: one small request every 20 ms,
        where waiting for each webhook-id in turn would load the machine being measured."""
        deadline = time.monotonic() + timeout_s
        while (stored := self.deliveries_stored()) < count:
            if time.monotonic() > deadline:
                raise StackError(
                    f"The listener stored {stored} webhook-ids within {timeout_s:g} s, not "
                    f"{count}; see the service's and the listener's logs in {self.log_dir}."
                )
            time.sleep(0.02)

    def register_deployment(self) -> None:
        """Tell Restate where the service is. Safe to repeat: the same endpoint is a no-op."""
        where = function_arn() if self.config.use_lambda else self.service_url
        deployment = (
            registration(where) if self.config.use_lambda else {"uri": where, "force": False}
        )
        body = json.dumps(deployment).encode()
        request = urllib.request.Request(
            f"{self.admin_url}/deployments",
            data=body,
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                services = {service["name"] for service in json.load(response)["services"]}
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise StackError(
                f"Restate refused to register the service at {where} "
                f"(HTTP {error.code}): {detail}. If the service's handlers changed "
                f"incompatibly, remove {self.config.base_dir} and start again."
            ) from None
        # Registered once; every node learns it through the replicated metadata.
        for admin_url in self.admin_urls[1:]:
            self._wait_services_known(admin_url, services)

    def _wait_services_known(self, admin_url: str, services: set[str]) -> None:
        deadline = time.monotonic() + 60
        known: set[str] = set()
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{admin_url}/services", timeout=5) as response:
                    known = {service["name"] for service in json.load(response)["services"]}
            except (urllib.error.URLError, OSError, ValueError):
                known = set()
            if services <= known:
                return
            time.sleep(0.2)
        raise StackError(
            f"The node at {admin_url} still does not know {sorted(services - known)} a minute "
            "after the deployment was registered; see the restate-*.log files."
        )

    def _preflight(self) -> None:
        if not RESTATE_SERVER.exists():
            raise StackError(
                f"restate-server is not installed ({RESTATE_SERVER} is missing). "
                "Run `make setup` (it runs `npm ci`) first."
            )
        wanted: dict[str, int] = {}
        if self.is_cluster:
            wanted["Restate ingress (balancer across the nodes)"] = ingress_port(self.config)
        for index, node in enumerate(self.nodes):
            label = f" (node {index + 1})" if self.is_cluster else ""
            wanted[f"Restate ingress{label}"] = node.ingress
            wanted[f"Restate admin{label}"] = node.admin
            wanted[f"Restate node-to-node{label}"] = node.fabric
        if self.config.use_lambda:
            wanted["local Lambda"] = self.ports.lambda_endpoint
        else:
            wanted["service"] = self.ports.service
        for index, port in enumerate(self.config.worker_ports):
            wanted[f"service worker {index + 1}"] = port
        wanted["local Athena"] = self.ports.athena
        if self.config.with_listener:
            wanted["listener"] = self.ports.listener
        taken = [f"{port} ({what})" for what, port in wanted.items() if not port_is_free(port)]
        if taken:
            raise StackError(
                f"Port {', '.join(taken)} is already in use. Stop whatever uses it "
                "(another `python -m infra.local up`?) or choose other ports with "
                "RESTATE_INGRESS_PORT, RESTATE_ADMIN_PORT, RESTATE_FABRIC_PORT, SERVICE_PORT, "
                "LOCAL_ATHENA_PORT, LISTENER_PORT and LOCAL_LAMBDA_PORT."
            )
