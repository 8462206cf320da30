"""Against a foreign Athena: moto's server, as a user who tests with moto would run it.

moto implements StartQueryExecution, GetQueryExecution and GetQueryResults but not
BatchGetQueryExecution (HTTP 500, NotImplementedError). The sweeper must learn that once and
check one query a call, not retry the batch call until the deadline in silence.
"""

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.local.processes import ManagedProcess, free_port
from infra.local.stack import LocalStack
from tests.stack_support import attach, running_stack, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    logs = tmp_path_factory.mktemp("moto")
    url = f"http://127.0.0.1:{port}"
    moto = ManagedProcess(
        "moto",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        {"PATH": "/usr/bin:/bin"},
        logs,
        f"{url}/moto-api/",
        ports=[port],
    )
    moto.start()
    try:
        yield url
    finally:
        moto.stop()


@pytest.fixture(scope="module")
def moto_stack(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Poll mode: moto sends no events, so the sweeper's checks are the only news.
    overrides = {"AWS_ENDPOINT_URL_ATHENA": moto_url, "POLL_MAX_S": "0.5"}
    with running_stack(
        Path(tmp_path_factory.mktemp("moto-stack")), completion_mode="poll", service_env=overrides
    ) as stack:
        yield stack


def queue_result(moto_url: str, value: str) -> None:
    """moto answers the next GetQueryResults with these rows (its own test API)."""
    column = {"Name": "answer", "Label": "answer", "Type": "double"}
    rows = [{"Data": [{"VarCharValue": "answer"}]}, {"Data": [{"VarCharValue": value}]}]
    body = {"region": "us-east-1", "results": [{"rows": rows, "column_info": [column]}]}
    requests.post(
        f"{moto_url}/moto-api/static/athena/query-results", json=body, timeout=10
    ).raise_for_status()


def test_without_a_batch_describe_the_sweeper_checks_one_query_a_call(
    moto_stack: LocalStack, moto_url: str
) -> None:
    for value in ("42", "7"):
        queue_result(moto_url, value)
        key = str(uuid.uuid4())
        assert send(moto_stack, {}, key).status_code == 202
        result = attach(moto_stack, key, timeout=60).json()
        assert result["state"] == "SUCCEEDED" and result["error"] is None
        assert result["columns"] == [{"name": "answer", "type": "double"}]
        assert result["rows"] == [[float(value)]]
    # The service said once, not at every check, that it checks one query a call.
    log = (moto_stack.log_dir / "service.log").read_text()
    assert log.count("has no batch describe here") == 1
