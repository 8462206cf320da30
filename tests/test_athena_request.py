"""Athena's whole request on its own, no processes: parameters as literals, the allow-lists,
the defaults filled in, and exactly what StartQueryExecution is sent."""

import asyncio
from typing import Any

import pytest
from restate import TerminalError

from service.athena.allowed import check_allowed
from service.athena.client import AthenaQueries, StartContext, _execution_status
from service.athena.literals import literal_for
from service.models import QueryRequest
from service.settings import from_environment


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("O'Brien'; DROP TABLE x; --", "'O''Brien''; DROP TABLE x; --'"),
        ("", "''"),
        ("a\\b", "'a\\b'"),  # a backslash is no escape in Trino's strings
        (42, "42"),
        (-7, "-7"),
        (1.5, "1.5"),
        (1e-07, "1e-07"),
        (True, "true"),
        (False, "false"),
    ],
)
def test_a_value_becomes_the_one_literal_athena_reads(value: Any, literal: str) -> None:
    assert literal_for(value) == literal


@pytest.mark.parametrize("value", [2**63, float("nan"), float("inf")])
def test_a_value_without_a_literal_is_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        literal_for(value)


def test_a_request_sends_its_parameters_as_literals() -> None:
    request = QueryRequest.model_validate_json('{"parameters": ["it\'s", 3, true]}')
    assert request.execution_parameters == ["'it''s'", "3", "true"]
    assert QueryRequest().execution_parameters is None


SETTINGS = from_environment(
    {
        "ATHENA_WORKGROUP": "primary",
        "ATHENA_ALLOWED_WORKGROUPS": "analytics, team-a",
        "ATHENA_ALLOWED_DATABASES": "crm_db",
        "ATHENA_ALLOWED_CATALOGS": "lakehouse",
        "ATHENA_ALLOWED_OUTPUT_LOCATIONS": "s3://team-a/results/",
    }
)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"workgroup": "primary"},
        {"workgroup": "team-a", "database": "CRM_DB", "catalog": "AwsDataCatalog"},
        {"catalog": "LakeHouse"},
        {"output_location": "s3://team-a/results/"},
        {"output_location": "s3://team-a/results/q/1/"},
    ],
)
def test_names_on_the_allow_lists_pass(fields: dict[str, str]) -> None:
    check_allowed(QueryRequest(**fields), SETTINGS)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"workgroup": "Team-A"},
            "Invalid query request. workgroup: 'Team-A' is not allowed here; allowed: primary, "
            "analytics, team-a (the operator's ATHENA_ALLOWED_WORKGROUPS lists them)",
        ),
        ({"database": "payroll"}, "database: 'payroll' is not allowed here; allowed: demo_db"),
        (
            {"catalog": "hr"},
            "catalog: 'hr' is not allowed here; allowed: AwsDataCatalog, lakehouse",
        ),
        ({"output_location": "s3://team-a/results-x/"}, "allowed prefixes: s3://team-a/results/"),
        ({"output_location": "s3://team-a/results/../other/"}, "output_location"),
        ({"output_location": "s3://team-b/results/"}, "output_location"),
    ],
)
def test_a_name_outside_the_allow_lists_is_a_400_naming_the_field(
    fields: dict[str, str], message: str
) -> None:
    with pytest.raises(TerminalError) as refusal:
        check_allowed(QueryRequest(**fields), SETTINGS)
    assert refusal.value.status_code == 400
    assert message in refusal.value.message


def test_without_allow_lists_only_the_defaults_pass() -> None:
    defaults = from_environment({})
    check_allowed(QueryRequest(workgroup="primary", database="demo_db"), defaults)
    for fields in ({"workgroup": "analytics"}, {"output_location": "s3://any/"}):
        with pytest.raises(TerminalError):
            check_allowed(QueryRequest(**fields), defaults)


class RecordingAthena:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        assert operation == "StartQueryExecution"
        self.started.append(params)
        return {"QueryExecutionId": "qe-1"}


def started_with(where: StartContext | None) -> dict[str, Any]:
    athena = RecordingAthena()
    queries = AthenaQueries(from_environment({}), transport=athena)  # type: ignore[arg-type]
    asyncio.run(queries.start("SELECT 1", "t" * 64, where))
    return athena.started[0]


def test_a_request_without_the_new_fields_starts_as_before() -> None:
    before = {
        "QueryString": "SELECT 1",
        "ClientRequestToken": "t" * 64,
        "WorkGroup": "primary",
        "QueryExecutionContext": {"Database": "demo_db"},
    }
    assert started_with(None) == before
    assert started_with(StartContext(workgroup="primary", database="demo_db")) == before


def test_the_new_fields_are_sent_as_athena_names_them() -> None:
    where = StartContext(
        workgroup="analytics",
        database="sales_db",
        catalog="lakehouse",
        output_location="s3://team-a/results/",
        execution_parameters=["'x'"],
        result_reuse_minutes=60,
    )
    assert started_with(where) == {
        "QueryString": "SELECT 1",
        "ClientRequestToken": "t" * 64,
        "WorkGroup": "analytics",
        "QueryExecutionContext": {"Database": "sales_db", "Catalog": "lakehouse"},
        "ResultConfiguration": {"OutputLocation": "s3://team-a/results/"},
        "ExecutionParameters": ["'x'"],
        "ResultReuseConfiguration": {
            "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}
        },
    }


def test_athena_error_and_reuse_are_read_from_the_execution() -> None:
    status = _execution_status(
        {
            "QueryExecutionId": "qe-1",
            "WorkGroup": "analytics",
            "QueryExecutionContext": {"Database": "crm_db", "Catalog": "awsdatacatalog"},
            "ExecutionParameters": ["'x'"],
            "Status": {
                "State": "FAILED",
                "StateChangeReason": "SYNTAX_ERROR: line 1:1: ...",
                "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006, "Retryable": False},
            },
            "Statistics": {"ResultReuseInformation": {"ReusedPreviousResult": False}},
        }
    )
    assert (status.workgroup, status.database, status.catalog) == (
        "analytics",
        "crm_db",
        "awsdatacatalog",
    )
    assert (status.error_category, status.error_type, status.error_retryable) == (2, 1006, False)
    assert status.execution_parameters == ["'x'"] and status.result_reused is False
