"""`python -m infra.local up`: clear sentences for user mistakes, and no orphans on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

import infra.local.__main__ as cli
import infra.local.stack as stack_module
from infra.local.components import define_components
from infra.local.processes import ManagedProcess, StackError, free_port
from infra.local.restate_settings import FSYNC_VARIABLE
from infra.local.stack import LocalStack, Ports, StackConfig

PORT_VARIABLES = (
    "RESTATE_INGRESS_PORT",
    "RESTATE_ADMIN_PORT",
    "RESTATE_FABRIC_PORT",
    "SERVICE_PORT",
    "LOCAL_ATHENA_PORT",
    "LISTENER_PORT",
)

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


def stack_env() -> dict[str, str]:
    return {**os.environ, **{name: str(free_port()) for name in PORT_VARIABLES}}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for all purposes.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def descendants_of(pid: int) -> list[int]:
    children = children_of(pid)
    return children + [grandchild for child in children for grandchild in descendants_of(child)]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_taken_port_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    env = stack_env()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["RESTATE_INGRESS_PORT"])))
        squatter.listen()
        run = subprocess.run(
            [sys.executable, "-m", "infra.local", "up", "--base-dir", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert run.returncode == 1
    assert f"Port {env['RESTATE_INGRESS_PORT']} (Restate ingress) is already in use" in run.stderr
    assert "Traceback" not in run.stderr


def test_sigterm_stops_every_process_of_the_stack(tmp_path: Path) -> None:
    up = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "up", "--base-dir", str(tmp_path)],
        env=stack_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert up.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            lines.append(line)
            if line.startswith("Ready.") or not line:
                break
        assert any(line.startswith("Ready.") for line in lines), "".join(lines)
        # restate-server, local Athena, service, listener, and whatever they started.
        assert len(children_of(up.pid)) == 4
        descendants = descendants_of(up.pid)
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
        assert [pid for pid in descendants if pid_alive(pid)] == []
    finally:
        if up.poll() is None:
            up.kill()


def test_a_missing_restate_server_says_to_run_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_module, "RESTATE_SERVER", tmp_path / "no-such-restate-server")
    config = StackConfig(base_dir=tmp_path, ports=Ports.free())
    with pytest.raises(StackError, match=r"restate-server is not installed .* Run `make setup`"):
        LocalStack(config).start()


def test_the_service_answers_only_requests_signed_by_the_stacks_restate(stack: LocalStack) -> None:
    # Through Restate (signed with the stack's key): served.
    signed = requests.post(
        f"{stack.ingress_url}/query/query",
        json={"query": "SELECT 1 AS one"},
        headers={"idempotency-key": f"identity-{uuid.uuid4()}"},
        timeout=60,
    )
    assert signed.status_code == 200, signed.text
    # Straight to the service, unsigned, even to a private handler: refused.
    for path in ("/discover", "/invoke/webhookDelivery/deliver", "/invoke/query/query"):
        unsigned = requests.post(f"{stack.service_url}{path}", data=b"", timeout=10)
        assert unsigned.status_code == 401, (path, unsigned.status_code, unsigned.text)
    assert requests.get(f"{stack.service_url}/health", timeout=10).status_code == 200


def up_config(flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackConfig:
    """The StackConfig `python -m infra.local up FLAG` would start (nothing is started)."""
    started: list[StackConfig] = []
    monkeypatch.setattr(cli, "up", started.append)
    assert cli.main(["up", flag, "--base-dir", str(tmp_path)]) == 0
    (config,) = started
    return config


def component(config: StackConfig, name: str, tmp_path: Path) -> ManagedProcess:
    (process,) = [p for p in define_components(config, tmp_path) if p.name == name]
    return process


def test_no_running_events_reaches_the_local_athenas_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sent_states(config: StackConfig) -> str:
        command = component(config, "athena", tmp_path).command
        return command[command.index("--events-states") + 1]

    config = up_config("--no-running-events", tmp_path, monkeypatch)
    assert sent_states(config) == "SUCCEEDED,FAILED,CANCELLED"
    assert sent_states(StackConfig(base_dir=tmp_path)) == "RUNNING,SUCCEEDED,FAILED,CANCELLED"


def test_fsync_log_reaches_restate_servers_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsynced(config: StackConfig) -> str | None:
        return component(config, "restate", tmp_path).env.get(FSYNC_VARIABLE)

    config = up_config("--fsync-log", tmp_path, monkeypatch)
    assert unsynced(config) is None  # restate-server's default: fsync at each append
    assert unsynced(StackConfig(base_dir=tmp_path)) == "true"
