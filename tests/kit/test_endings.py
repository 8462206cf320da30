"""Every ending of a promise around the fake dependency becomes one result, pulled and pushed
as the same bytes: the job's own end (succeeded, failed, cancelled by the dependency), the
deadline, a cancel by key, Restate's own cancel, a start refused, a result that cannot be read."""

import json
import time
from datetime import datetime

import pytest
import requests

from infra.local.stack import admin_sql
from service.promisify.plan import start_token
from tests.kit.support import Kit, submit

pytestmark = pytest.mark.e2e  # real processes: restate-server, the fake service, the listener


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_a_job_that_succeeds_gives_its_rows_on_both_paths(kit: Kit, direct: bool) -> None:
    promise = submit(
        kit, "states=QUEUED:0.1,RUNNING:0.2,SUCCEEDED rows=5 page_size=2", direct=direct
    )
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["error"] is None
    assert result["row_count"] == 5 and result["rows"][4] == {"n": 4, "label": "rangée 4 ✓"}
    assert promise.pushed() == pulled.text
    job = promise.job()
    assert result["job_id"] == job.job_id
    assert kit.fake.count("result", job.job_id) == 3  # three pages, each read once
    assert kit.fake.count("stop", job.job_id) == 0
    status = promise.status()
    assert status["phase"] == "done" and status["state"] == "SUCCEEDED"
    assert status["progress"] == 5 and status["delivery"]["state"] == "delivered"


@pytest.mark.parametrize(
    ("end", "state"), [("FAILED", "FAILED"), ("CANCELLED", "CANCELLED")], ids=str.lower
)
def test_a_job_the_dependency_ends_badly_is_a_result_with_its_reason(
    kit: Kit, end: str, state: str
) -> None:
    promise = submit(kit, f"states=RUNNING:0.2,{end} reason=the_table_was_dropped")
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == state and result["error"] == "the table was dropped"
    assert result["rows"] == [] and result["job_id"] == promise.job().job_id
    assert promise.pushed() == pulled.text
    assert kit.fake.count("result", promise.job().job_id) == 0


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_the_deadline_gives_timed_out_and_stops_the_job(kit: Kit, direct: bool) -> None:
    promise = submit(kit, "states=RUNNING:*", timeout_s=0.5, direct=direct)
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "TIMED_OUT"
    assert result["error"] == "The job did not finish within 0.5 s and was stopped."
    job = promise.job()
    assert kit.fake.state_of(job.job_id) == "CANCELLED" and job.stops == 1
    assert promise.pushed() == pulled.text


def test_a_deadline_past_the_safety_net_still_ends_the_promise_on_time(kit: Kit) -> None:
    """The safety net (1 s here) is the only timer at first; the deadline is armed when it
    fires, for what is left of timeout_s."""
    promise = submit(kit, "states=RUNNING:* events=none", timeout_s=2.5)
    began = time.monotonic()
    pulled = promise.result()
    took = time.monotonic() - began
    result = pulled.json()
    assert result["state"] == "TIMED_OUT"
    assert result["error"] == "The job did not finish within 2.5 s and was stopped."
    job = promise.job()
    assert kit.fake.state_of(job.job_id) == "CANCELLED" and job.stops == 1
    # The sweeper took over when the safety net fired, and the deadline came after it.
    assert kit.fake.count("describe_many", job.job_id) >= 1
    assert took < 30  # only catches a hang
    assert promise.pushed() == pulled.text
    # One timer at a time: the deadline armed when the safety net fired, for what was left.
    rows = admin_sql(
        kit.stack.admin_url,
        "SELECT name, entry_json, appended_at FROM sys_journal "
        "WHERE entry_type = 'Command: Sleep' "
        f"AND id IN (SELECT id FROM sys_invocation WHERE target_service_key = "
        f"'{promise.invocation_id}') ORDER BY index",
    )
    assert [row["name"] for row in rows] == ["safety net", "deadline"]
    net, deadline = (json.loads(row["entry_json"])["Command"]["Sleep"] for row in rows)
    armed_at = datetime.fromisoformat(rows[1]["appended_at"].replace("Z", "+00:00"))
    assert armed_at.timestamp() * 1000 >= net["wake_up_time"]  # once the net had fired
    after_the_net_s = (deadline["wake_up_time"] - net["wake_up_time"]) / 1000
    assert 1.5 <= after_the_net_s < 2.5  # 2.5 s - the 1 s net, plus the moment it took


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_a_cancel_by_key_gives_cancelled_and_stops_the_job(kit: Kit, direct: bool) -> None:
    promise = submit(kit, "states=RUNNING:*", direct=direct)
    running = promise.wait_for_phase("running")
    assert running["job_state"] == "RUNNING"
    assert promise.cancel("no longer needed")["outcome"] == "cancelling"
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "CANCELLED"
    assert result["error"] == "Cancelled by request: no longer needed."
    job = promise.job()
    assert kit.fake.state_of(job.job_id) == "CANCELLED" and job.stops == 1
    assert promise.pushed() == pulled.text
    assert promise.cancel()["outcome"] == "already_ended"


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_restates_own_cancel_gives_cancelled_and_stops_the_job(kit: Kit, direct: bool) -> None:
    promise = submit(kit, "states=RUNNING:*", direct=direct)
    promise.wait_for_phase("running")
    # What `restate invocations cancel <id>` does, to the invocation the caller's key started.
    admin = kit.stack.admin_url
    cancel = requests.patch(f"{admin}/invocations/{promise.invocation_id}/cancel", timeout=10)
    assert cancel.status_code in (200, 202), cancel.text
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "CANCELLED" and "cancelled through Restate" in result["error"]
    assert kit.fake.state_of(promise.job().job_id) == "CANCELLED"
    assert promise.pushed() == pulled.text


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_a_start_refused_for_good_is_failed_with_no_job_id(kit: Kit, direct: bool) -> None:
    promise = submit(kit, "start=refuse", direct=direct)
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "FAILED" and result["job_id"] is None
    refused = "The promise could not go on (Fake did not start the job: The fake refuses this job.)"
    assert result["error"].startswith(refused)
    assert kit.fake.jobs_tagged(promise.tag) == []
    # Refused for good: asked once, never retried.
    assert kit.fake.count("start", token=start_token(promise.invocation_id)) == 1
    assert promise.pushed() == pulled.text


@pytest.mark.parametrize("fault", ["refuse", "fail"])
def test_a_result_that_cannot_be_read_is_failed(kit: Kit, fault: str) -> None:
    """Refused (403) at once, or failing (500) until the 3 s retry window closes."""
    promise = submit(kit, f"states=RUNNING:0.1,SUCCEEDED results={fault}")
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "FAILED" and result["rows"] == []
    assert result["error"].startswith("The promise could not go on (reading the results failed")
    assert promise.pushed() == pulled.text
    reads = kit.fake.count("result", promise.job().job_id)
    assert reads == 1 if fault == "refuse" else reads > 3


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_restates_own_cancel_while_the_job_starts_stops_the_job_it_started(
    kit: Kit, direct: bool
) -> None:
    """The dependency has started the job but holds its answer back when the cancel comes:
    the job must not be left running, and the promise ends CANCELLED, not FAILED."""
    promise = submit(kit, "start=slow:2 states=RUNNING:*", direct=direct)
    job = promise.job()  # started on the dependency; its answer still on the way
    admin = kit.stack.admin_url
    cancel = requests.patch(f"{admin}/invocations/{promise.invocation_id}/cancel", timeout=10)
    assert cancel.status_code in (200, 202), cancel.text
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "CANCELLED", result
    assert result["job_id"] == job.job_id
    assert kit.fake.state_of(job.job_id) == "CANCELLED" and job.stops == 1
    assert promise.pushed() == pulled.text
