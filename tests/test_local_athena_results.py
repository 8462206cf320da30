"""Result files: the CSV Athena writes, at the local path its OutputLocation maps to."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from infra.local.athena import local_path_for
from infra.local.athena.config import parse_args
from infra.local.athena.results import csv_line

from .local_athena_support import REPO_ROOT, running_local_athena

if TYPE_CHECKING:  # the stubs are a dev dependency, needed by mypy only
    from mypy_boto3_athena import AthenaClient


def finished(client: AthenaClient, sql: str, **extra: Any) -> dict[str, Any]:
    execution_id = client.start_query_execution(QueryString=sql, **extra)["QueryExecutionId"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        if execution["Status"]["State"] in {"SUCCEEDED", "FAILED", "CANCELLED"}:
            return dict(execution)
        time.sleep(0.02)
    raise AssertionError(f"{sql!r} did not finish within 20 s")


def test_output_locations_map_to_folders_per_bucket(tmp_path: Path) -> None:
    assert local_path_for("s3://local-athena-results/abc.csv", tmp_path) == (
        tmp_path / "local-athena-results" / "abc.csv"
    )
    assert local_path_for("s3://my-bucket/results/q/abc.csv", str(tmp_path)) == (
        tmp_path / "my-bucket" / "results" / "q" / "abc.csv"
    )
    for bad in ("https://bucket/x.csv", "s3://", "s3://bucket/../../etc/passwd", "/tmp/x"):
        with pytest.raises(ValueError):
            local_path_for(bad, tmp_path)


def test_csv_lines_quote_everything_but_null() -> None:
    assert csv_line(["a", None, "", 'say "hi"', "x,y"]) == '"a",,"","say ""hi""","x,y"\n'


@pytest.mark.e2e
def test_a_successful_query_writes_athenas_csv() -> None:
    flags = ("--queue-delay", "0", "--run-time", "0")
    with running_local_athena(REPO_ROOT / "data", *flags) as athena:
        client = athena.client()
        sql = (
            'SELECT id, "date", "value", NULL AS nothing, \'say "hi", ok\' AS quoted,'
            ' ARRAY[1, 2] FROM "demo_db"."table" ORDER BY id'
        )
        execution = finished(
            client, sql, ResultConfiguration={"OutputLocation": "s3://my-bucket/runs/"}
        )
        assert execution["Status"]["State"] == "SUCCEEDED"
        location = execution["ResultConfiguration"]["OutputLocation"]
        assert location == f"s3://my-bucket/runs/{execution['QueryExecutionId']}.csv"
        path = local_path_for(location, athena.results_dir)
        assert path.read_text(encoding="utf-8") == (
            '"id","date","value","nothing","quoted","_col5"\n'
            '"a","2024-01-01","17.0",,"say ""hi"", ok","[1, 2]"\n'
            '"b","2024-01-02","75.0",,"say ""hi"", ok","[1, 2]"\n'
            '"c","2024-01-03","-50.0",,"say ""hi"", ok","[1, 2]"\n'
        )
        failed = finished(client, "SELECT nope")
        assert failed["Status"]["State"] == "FAILED"
        default_place = local_path_for(
            failed["ResultConfiguration"]["OutputLocation"], athena.results_dir
        )
        assert not default_place.exists()
        assert not list(athena.results_dir.rglob("*.partial"))


def test_results_dir_comes_from_flag_over_environment(tmp_path: Path) -> None:
    environ = {"LOCAL_ATHENA_RESULTS_DIR": str(tmp_path / "env")}
    assert parse_args([], environ).results_dir == tmp_path / "env"
    flagged = parse_args(["--results-dir", str(tmp_path / "flag")], environ)
    assert flagged.results_dir == tmp_path / "flag"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOCAL_ATHENA_PORT", "70000"),
        ("LOCAL_ATHENA_PORT", "-1"),
        ("LOCAL_ATHENA_QUEUE_DELAY", "soon"),
        ("LOCAL_ATHENA_THROTTLE_RATE", "2"),
        ("LOCAL_ATHENA_EVENTS_RETRY_WINDOW", "-5"),
    ],
)
def test_a_bad_setting_is_one_sentence_naming_the_variable(variable: str, value: str) -> None:
    command = [sys.executable, "-m", "infra.local.athena"]
    done = subprocess.run(
        command, cwd=REPO_ROOT, env={variable: value}, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert f"{variable}={value!r}" in done.stderr
    assert "Traceback" not in done.stderr
