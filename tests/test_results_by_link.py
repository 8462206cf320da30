"""Large results by link, end to end: a presigned S3 GET of Athena's result file instead of
the rows, the same document pushed and pulled, the link refused once expired or altered."""

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from infra.local.stack import LocalStack
from service.models import DEMO_QUERY
from tests.local_athena_support import athena_client
from tests.stack_support import executions_of, running_stack, submit, tagged, wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...

# 200,000 rows in Athena's own SQL (Trino's sequence() stops at 10,000 entries).
MANY_ROWS = (
    "SELECT i * 1000 + j AS x, (i * 1000 + j) * 2 AS twice, 'row ' || CAST(i * 1000 + j AS "
    "varchar) AS label FROM UNNEST(sequence(0, 199)) AS a(i) "
    "CROSS JOIN UNNEST(sequence(1, 1000)) AS b(j) ORDER BY x"
)
SOME_ROWS = "SELECT x FROM UNNEST(sequence(1, 2500)) AS t(x) ORDER BY x"


def stored_delivery(stack: LocalStack, webhook_id: str) -> dict[str, Any] | None:
    response = requests.get(f"{stack.listener_url}/deliveries/{webhook_id}", timeout=10)
    return response.json() if response.status_code == 200 else None


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def athena(stack: LocalStack) -> Any:
    """A boto3 client of the local Athena, to read what Athena itself says of a query."""
    return athena_client(stack.athena_url)


def test_a_200000_row_result_arrives_by_link_and_the_link_downloads_a_matching_csv(
    stack: LocalStack,
) -> None:
    sql = tagged(MANY_ROWS, "run_time_s=0.5")
    body = {"query": sql, "result_by": "link", "callback_url": f"{stack.listener_url}/callback"}
    response = submit(stack, body, timeout=180)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["state"] == "SUCCEEDED", result["error"]
    assert result["rows"] == [] and result["truncated"] is False
    assert result["row_count"] == 200_000
    assert result["columns"] == [
        {"name": "x", "type": "bigint"},
        {"name": "twice", "type": "bigint"},
        {"name": "label", "type": "varchar"},
    ]
    assert result["statistics"]["total_execution_time_ms"] > 0
    link = result["result_link"]
    assert link["format"] == "csv"
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert 3000 < (expires_at - datetime.now(UTC)).total_seconds() <= 3600

    # Pushed and pulled are the same document, link included, byte for byte.
    webhook_id = f"msg_{result['invocation_id']}"
    pushed = wait_until(partial(stored_delivery, stack, webhook_id), 60, webhook_id)
    assert pushed["body"].encode() == response.content

    # The link downloads Athena's CSV: the header, then every row the result counts.
    download = requests.get(link["url"], timeout=60)
    assert download.status_code == 200, download.text
    assert len(download.content) == link["size_bytes"]
    rows = csv_rows(download.content)
    assert rows[0] == ["x", "twice", "label"]
    assert len(rows) - 1 == result["row_count"]
    assert rows[1:] == [[str(x), str(2 * x), f"row {x}"] for x in range(1, 200_001)]
    # A sample of the file against Athena's own pages (GetQueryResults, read directly).
    client = athena(stack)
    query_id = result["query_execution_id"]
    page = client.get_query_results(QueryExecutionId=query_id, MaxResults=1000)
    direct = [
        [cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"]["Rows"]
    ]
    assert rows[:1000] == direct

    # The rows were never read page by page: the first page came with the status, no more.
    (execution,) = executions_of(stack, sql).values()
    assert execution["calls"]["GetQueryResults"] <= 2
    assert execution["calls"]["GetQueryRuntimeStatistics"] == 1


def test_an_altered_link_is_refused(stack: LocalStack) -> None:
    linked = [
        submit(stack, {"query": tagged(SOME_ROWS), "result_by": "link"}).json() for _ in range(2)
    ]
    url, other_url = (result["result_link"]["url"] for result in linked)
    assert requests.get(url, timeout=30).status_code == 200
    parts = urlsplit(url)
    signature = parse_qs(parts.query)["X-Amz-Signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    other_key = urlsplit(other_url).path
    altered = {
        "another signature": url.replace(signature, flipped),
        "another file, this signature": url.replace(parts.path, other_key),
        "a longer life": url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200"),
        "no signature": url.replace(f"&X-Amz-Signature={signature}", ""),
    }
    for what, bad_url in altered.items():
        answer = requests.get(bad_url, timeout=30)
        assert answer.status_code == 403, (what, answer.text)
        assert "<Error><Code>" in answer.text, what
    answer = requests.get(url.replace(f"&X-Amz-Signature={signature}", ""), timeout=30)
    assert "AccessDenied" in answer.text


def test_a_small_result_stays_inline(stack: LocalStack) -> None:
    result = submit(stack, {"query": tagged(DEMO_QUERY)}).json()
    assert result["state"] == "SUCCEEDED", result["error"]
    assert result["rows"] == [[42.0]] and result["result_link"] is None
    # Without result_by or a size, nothing more is asked than before.
    (execution,) = executions_of(stack, result["query"]).values()
    assert "GetQueryRuntimeStatistics" not in execution["calls"]


def test_a_requests_size_sends_a_big_result_by_link_and_a_small_one_inline(
    stack: LocalStack,
) -> None:
    big = submit(stack, {"query": tagged(SOME_ROWS), "result_link_above_bytes": 1000}).json()
    assert big["result_link"] is not None and big["rows"] == []
    assert big["row_count"] == 2500 and big["result_link"]["size_bytes"] > 1000
    small = submit(stack, {"query": tagged(DEMO_QUERY), "result_link_above_bytes": 1000}).json()
    assert small["result_link"] is None and small["rows"] == [[42.0]]


@pytest.fixture(scope="module")
def linking_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The operator's settings: results over 10,000 bytes go by link, and links live 2 s."""
    env = {"ATHENA_RESULT_LINK_ABOVE_BYTES": "10000", "ATHENA_RESULT_LINK_EXPIRES_S": "2"}
    tmp: Path = tmp_path_factory.mktemp("linking")
    with running_stack(tmp, with_listener=False, service_env=env) as stack:
        yield stack


def test_the_operators_size_sends_every_big_result_by_link(linking_stack: LocalStack) -> None:
    stack = linking_stack
    big = submit(stack, {"query": tagged(SOME_ROWS)}).json()
    assert big["result_link"] is not None and big["row_count"] == 2500
    assert big["result_link"]["size_bytes"] > 10_000
    # A request may lower the size, not raise it, and asking for rows does not override it.
    asked = {"query": tagged(SOME_ROWS), "result_by": "rows", "result_link_above_bytes": 10**9}
    assert submit(stack, asked).json()["result_link"] is not None
    small = submit(stack, {"query": tagged(DEMO_QUERY)}).json()
    assert small["result_link"] is None and small["rows"] == [[42.0]]


def test_an_expired_link_is_refused(linking_stack: LocalStack) -> None:
    result = submit(linking_stack, {"query": tagged(SOME_ROWS), "result_by": "link"}).json()
    link = result["result_link"]
    assert parse_qs(urlsplit(link["url"]).query)["X-Amz-Expires"] == ["2"]
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert (expires_at - datetime.now(UTC)).total_seconds() <= 2
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 1.5)
    answer = requests.get(link["url"], timeout=30)
    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in answer.text
