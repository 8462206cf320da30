"""The local Athena takes Athena's whole request: context, workgroups, ExecutionParameters,
result reuse and AthenaError; and answers the read-only calls clients make. Through an
unmodified boto3 client, PyAthena (with SQLAlchemy's reflection) and the AWS CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from .local_athena_support import REPO_ROOT, LocalAthena, running_local_athena

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient

pytestmark = pytest.mark.e2e
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
HOSTILE = "O'Brien'; DROP TABLE x; --"
BY_NAME = 'SELECT id, name FROM "crm_db"."customers" WHERE name = ?'
REUSE = {"ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}}


@pytest.fixture(scope="module")
def athena() -> Iterator[LocalAthena]:
    with running_local_athena(
        REPO_ROOT / "data", "--queue-delay", "0.05", "--run-time", "0.2"
    ) as a:
        yield a


@pytest.fixture
def client(athena: LocalAthena) -> AthenaClient:
    return athena.client()


def unique(sql: str) -> str:
    return f"{sql}\n-- test {uuid.uuid4()}"


def wait_final(client: AthenaClient, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        if execution["Status"]["State"] in FINAL:
            return dict(execution)
        time.sleep(0.05)
    raise AssertionError(f"{execution_id} did not finish")


def run(client: AthenaClient, sql: str, **extra: Any) -> dict[str, Any]:
    started = client.start_query_execution(QueryString=sql, **extra)
    return wait_final(client, started["QueryExecutionId"])


def rows(client: AthenaClient, execution_id: str) -> list[list[str | None]]:
    result_set = client.get_query_results(QueryExecutionId=execution_id)["ResultSet"]
    return [[d.get("VarCharValue") for d in row["Data"]] for row in result_set["Rows"][1:]]


def test_a_parameter_is_bound_as_a_value_and_the_sql_keeps_its_placeholder(
    client: AthenaClient,
) -> None:
    literal = "'" + HOSTILE.replace("'", "''") + "'"
    execution = run(client, BY_NAME, ExecutionParameters=[literal])
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert rows(client, execution["QueryExecutionId"]) == [["c2", HOSTILE]]
    assert execution["Query"] == BY_NAME  # the ? where the value stood
    assert execution["ExecutionParameters"] == [literal]


def test_typed_literals_and_numbers_are_parameters_too(client: AthenaClient) -> None:
    sql = "SELECT count(*) AS n FROM crm_db.customers WHERE signed_up > ? AND city <> ?"
    execution = run(client, sql, ExecutionParameters=["DATE '2024-02-01'", "'Paris'"])
    assert rows(client, execution["QueryExecutionId"]) == [["3"]]
    execution = run(
        client, "SELECT 1 AS one WHERE 7 / 2 = ? AND true = ?", ExecutionParameters=["3", "true"]
    )
    assert rows(client, execution["QueryExecutionId"]) == [["1"]]


@pytest.mark.parametrize(
    ("parameters", "name", "error_type"),
    [
        (["1 OR 1=1"], "INVALID_PARAMETER_USAGE", 1000),  # an expression, not a literal
        (["name"], "INVALID_PARAMETER_USAGE", 1000),  # a column
        (["'a'; SELECT 2"], "INVALID_PARAMETER_USAGE", 1000),  # two statements
        (["O'Brien"], "SYNTAX_ERROR", 1006),  # a string that was not quoted
        (["'a'", "'b'"], "INVALID_PARAMETER_USAGE", 1000),  # one too many
    ],
)
def test_anything_but_one_literal_per_placeholder_fails_the_query_as_a_user_error(
    client: AthenaClient, parameters: list[str], name: str, error_type: int
) -> None:
    execution = run(client, unique(BY_NAME), ExecutionParameters=parameters)
    status = execution["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith(f"{name}: ")
    assert status["AthenaError"]["ErrorCategory"] == 2  # USER
    assert status["AthenaError"]["ErrorType"] == error_type
    assert status["AthenaError"]["Retryable"] is False


def test_a_placeholder_without_a_parameter_fails(client: AthenaClient) -> None:
    status = run(client, unique(BY_NAME))["Status"]
    assert status["StateChangeReason"] == (
        "INVALID_PARAMETER_USAGE: line 1:1: Incorrect number of parameters: expected 1 but found 0"
    )


def test_a_syntax_error_is_a_user_error_and_an_internal_one_a_retryable_system_error(
    client: AthenaClient,
) -> None:
    for sql in ("SELEC 1", "SELECT 'unterminated"):
        error = run(client, unique(sql))["Status"]["AthenaError"]
        assert (error["ErrorCategory"], error["ErrorType"], error["Retryable"]) == (2, 1006, False)
    error = run(client, unique("SELECT 1 -- local-athena: fail=internal"))["Status"]["AthenaError"]
    assert (error["ErrorCategory"], error["ErrorType"], error["Retryable"]) == (1, 100, True)


def test_result_reuse_answers_from_the_earlier_execution_keyed_by_sql_and_parameters(
    athena: LocalAthena, client: AthenaClient
) -> None:
    sql = unique(BY_NAME)
    first = run(client, sql, ExecutionParameters=["'Ada Lovelace'"], ResultReuseConfiguration=REUSE)
    runs = athena.stats()["engine_runs"]
    second = run(
        client, sql, ExecutionParameters=["'Ada Lovelace'"], ResultReuseConfiguration=REUSE
    )
    assert athena.stats()["engine_runs"] == runs  # the engine ran nothing for the second
    assert first["Statistics"]["ResultReuseInformation"] == {"ReusedPreviousResult": False}
    assert second["Statistics"]["ResultReuseInformation"] == {"ReusedPreviousResult": True}
    assert second["Statistics"]["DataScannedInBytes"] == 0
    assert second["ResultConfiguration"] == first["ResultConfiguration"]
    assert rows(client, second["QueryExecutionId"]) == [["c1", "Ada Lovelace"]]
    assert (
        athena.stats()["executions"][second["QueryExecutionId"]]["reused_from"]
        == (first["QueryExecutionId"])
    )
    # Other parameter values, another workgroup, or no reuse asked: a run of its own.
    other = run(client, sql, ExecutionParameters=["'Alan Turing'"], ResultReuseConfiguration=REUSE)
    elsewhere = run(
        client,
        sql,
        ExecutionParameters=["'Ada Lovelace'"],
        ResultReuseConfiguration=REUSE,
        WorkGroup="analytics",
    )
    unasked = run(client, sql, ExecutionParameters=["'Ada Lovelace'"])
    for execution in (other, elsewhere, unasked):
        assert execution["Statistics"]["ResultReuseInformation"]["ReusedPreviousResult"] is False
    assert rows(client, other["QueryExecutionId"]) == [["c4", "Alan Turing"]]
    assert athena.stats()["engine_runs"] == runs + 3


def test_a_result_older_than_the_asked_age_is_not_reused(client: AthenaClient) -> None:
    sql = unique("SELECT 1 AS one")
    run(client, sql, ResultReuseConfiguration=REUSE)
    fresh = {"ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 0}}
    execution = run(client, sql, ResultReuseConfiguration=fresh)
    assert execution["Statistics"]["ResultReuseInformation"]["ReusedPreviousResult"] is False


def test_workgroups_place_results_and_an_enforcing_one_wins(
    athena: LocalAthena, client: AthenaClient
) -> None:
    mine = "s3://my-bucket/mine/"
    analytics = run(client, unique("SELECT 1"), WorkGroup="analytics")
    assert analytics["WorkGroup"] == "analytics"
    location = analytics["ResultConfiguration"]["OutputLocation"]
    assert location.startswith("s3://local-athena-results/analytics/")
    chosen = run(
        client,
        unique("SELECT 1"),
        WorkGroup="analytics",
        ResultConfiguration={"OutputLocation": mine},
    )
    assert chosen["ResultConfiguration"]["OutputLocation"].startswith(mine)
    enforced = run(
        client,
        unique("SELECT 1"),
        WorkGroup="tenant-enforced",
        ResultConfiguration={"OutputLocation": mine},
    )
    enforced_location = enforced["ResultConfiguration"]["OutputLocation"]
    assert enforced_location.startswith("s3://tenant-results/enforced/")
    assert (athena.results_dir / "tenant-results" / "enforced").is_dir()


@pytest.mark.parametrize(
    ("workgroup", "message"),
    [
        ("nobody", "WorkGroup nobody is not found."),
        ("retired", "WorkGroup retired is disabled."),
        ("no-location", "No output location provided."),
    ],
)
def test_a_workgroup_that_cannot_run_the_query_refuses_the_start(
    client: AthenaClient, workgroup: str, message: str
) -> None:
    with pytest.raises(ClientError) as error:
        client.start_query_execution(QueryString="SELECT 1", WorkGroup=workgroup)
    assert error.value.response["Error"]["Code"] == "InvalidRequestException"
    assert error.value.response["Error"]["Message"].startswith(message)


def test_databases_and_catalogs_come_from_the_data_folders(client: AthenaClient) -> None:
    lakehouse = {"Catalog": "lakehouse", "Database": "sales_db"}
    execution = run(
        client, "SELECT sum(amount) AS total FROM orders", QueryExecutionContext=lakehouse
    )
    assert rows(client, execution["QueryExecutionId"]) == [["49.75"]]
    assert execution["QueryExecutionContext"] == lakehouse
    joined = run(
        client,
        "SELECT c.name FROM lakehouse.sales_db.orders o JOIN awsdatacatalog.crm_db.customers c "
        "ON o.customer_id = c.id WHERE o.amount > ? ORDER BY c.name",
        ExecutionParameters=["10"],
    )
    assert rows(client, joined["QueryExecutionId"]) == [["Ada Lovelace"], ["Ada Lovelace"]]
    crm = run(
        client, "SELECT count(*) FROM customers", QueryExecutionContext={"Database": "crm_db"}
    )
    assert rows(client, crm["QueryExecutionId"]) == [["4"]]
    for context, name in [
        ({"Catalog": "nowhere", "Database": "x"}, "CATALOG_NOT_FOUND"),
        ({"Database": "no_such_db"}, "SCHEMA_NOT_FOUND"),
    ]:
        status = run(client, unique("SELECT 1"), QueryExecutionContext=context)["Status"]
        assert status["StateChangeReason"].startswith(name)
        assert status["AthenaError"]["ErrorCategory"] == 2


def test_the_read_only_calls_answer_as_athena_does(client: AthenaClient) -> None:
    ids = [
        run(client, unique("SELECT 1"), WorkGroup="analytics")["QueryExecutionId"] for _ in range(3)
    ]
    first = client.list_query_executions(WorkGroup="analytics", MaxResults=2)
    assert first["QueryExecutionIds"] == ids[::-1][:2]  # newest first
    rest = client.list_query_executions(WorkGroup="analytics", NextToken=first["NextToken"])
    assert ids[0] in rest["QueryExecutionIds"]
    group = client.get_work_group(WorkGroup="tenant-enforced")["WorkGroup"]
    assert group["Configuration"]["EnforceWorkGroupConfiguration"] is True
    names = [w["Name"] for w in client.list_work_groups()["WorkGroups"]]
    assert {"primary", "analytics", "tenant-enforced"} <= set(names)
    catalogs = [c["CatalogName"] for c in client.list_data_catalogs()["DataCatalogsSummary"]]
    assert catalogs == ["AwsDataCatalog", "lakehouse"]
    databases = client.list_databases(CatalogName="AwsDataCatalog")["DatabaseList"]
    assert [d["Name"] for d in databases] == ["crm_db", "default", "demo_db"]
    tables = client.list_table_metadata(CatalogName="lakehouse", DatabaseName="sales_db")
    assert [t["Name"] for t in tables["TableMetadataList"]] == ["orders"]
    table = client.get_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName="demo_db", TableName="table"
    )["TableMetadata"]
    assert [(c["Name"], c["Type"]) for c in table["Columns"]] == [
        ("id", "string"),
        ("date", "date"),
        ("value", "double"),
    ]
    for call in (
        lambda: client.get_work_group(WorkGroup="nobody"),
        lambda: client.list_databases(CatalogName="nowhere"),
        lambda: client.get_table_metadata(
            CatalogName="AwsDataCatalog", DatabaseName="demo_db", TableName="nope"
        ),
    ):
        with pytest.raises(ClientError):
            call()


def test_pyathena_runs_parameters_workgroups_and_reuse_unmodified(athena: LocalAthena) -> None:
    from pyathena import connect
    from pyathena.error import OperationalError

    connection = connect(
        region_name="us-east-1",
        endpoint_url=athena.url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        work_group="analytics",
        schema_name="crm_db",
        poll_interval=0.05,
        result_reuse_enable=True,
        result_reuse_minutes=60,
    )
    sql = unique("SELECT id, name FROM customers WHERE name = ?")
    literal = "'" + HOSTILE.replace("'", "''") + "'"
    with connection.cursor() as cursor:
        # PyAthena sends qmark parameters as given: unquoted text is not a literal, on Athena
        # as here (the service quotes for its callers).
        with pytest.raises(OperationalError, match="SYNTAX_ERROR"):
            cursor.execute(sql, [HOSTILE], paramstyle="qmark")
        cursor.execute(sql, [literal], paramstyle="qmark")
        assert cursor.fetchall() == [("c2", HOSTILE)]
        assert cursor.output_location.startswith("s3://local-athena-results/analytics/")
        assert cursor.reused_previous_result is False
        cursor.execute(sql, [literal], paramstyle="qmark")
        assert cursor.fetchall() == [("c2", HOSTILE)]
        assert cursor.reused_previous_result is True
        assert athena.stats()["executions"][cursor.query_id]["execution_parameters"] == [
            "'O''Brien''; DROP TABLE x; --'"
        ]


def test_sqlalchemy_reflection_through_pyathena(athena: LocalAthena) -> None:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(
        "awsathena+rest://local:local@athena.us-east-1.amazonaws.com:443/crm_db"
        f"?work_group=primary&endpoint_url={athena.url}&region_name=us-east-1"
    )
    inspector = inspect(engine)
    assert {"crm_db", "demo_db"} <= set(inspector.get_schema_names())
    assert inspector.get_table_names(schema="crm_db") == ["customers"]
    columns = inspector.get_columns("customers", schema="crm_db")
    assert [c["name"] for c in columns] == ["id", "name", "city", "signed_up"]


def aws(athena: LocalAthena, *args: str) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    command = [str(Path(sys.executable).with_name("aws")), "athena", *args]
    command += ["--endpoint-url", athena.url, "--output", "json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_the_aws_cli_runs_parameters_reuse_and_the_read_only_calls(athena: LocalAthena) -> None:
    sql = unique(BY_NAME)
    literal = "'" + HOSTILE.replace("'", "''") + "'"
    common = [
        "start-query-execution",
        "--query-string",
        sql,
        "--work-group",
        "analytics",
        "--execution-parameters",
        literal,
        "--result-reuse-configuration",
        "ResultReuseByAgeConfiguration={Enabled=true,MaxAgeInMinutes=60}",
    ]
    first = aws(athena, *common)["QueryExecutionId"]
    client = athena.client()
    wait_final(client, first)
    second = aws(athena, *common)["QueryExecutionId"]
    wait_final(client, second)
    execution = aws(athena, "get-query-execution", "--query-execution-id", second)["QueryExecution"]
    assert execution["Statistics"]["ResultReuseInformation"]["ReusedPreviousResult"] is True
    assert execution["ExecutionParameters"] == [literal]
    results = aws(athena, "get-query-results", "--query-execution-id", second)
    assert results["ResultSet"]["Rows"][1]["Data"][1]["VarCharValue"] == HOSTILE
    listed = aws(athena, "list-query-executions", "--work-group", "analytics")
    assert {first, second} <= set(listed["QueryExecutionIds"])
    group = aws(athena, "get-work-group", "--work-group", "analytics")["WorkGroup"]
    assert group["Configuration"]["ResultConfiguration"]["OutputLocation"] == (
        "s3://local-athena-results/analytics/"
    )
    databases = aws(athena, "list-databases", "--catalog-name", "AwsDataCatalog")
    assert "crm_db" in [d["Name"] for d in databases["DatabaseList"]]
