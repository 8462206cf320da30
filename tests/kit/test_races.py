"""Races the durable promise must win whatever the order: news before the waiter, news twice,
false news, the deadline against the job's end, a cancel against the result's read."""

import time

import pytest
import requests

from infra.local.stack import admin_sql
from tests.kit.support import Kit, submit
from tests.stack_support import wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the fake service, the listener


def test_an_event_before_the_waiter_registers_completes_the_promise(kit: Kit) -> None:
    """`events=early`: Restate took the final event before the start answered, so the mailbox
    held it before the promise could register its waiter."""
    promise = submit(kit, "states=SUCCEEDED events=early", flavor="fakeEvents")
    result = promise.outcome()
    assert result["state"] == "SUCCEEDED" and result["row_count"] == 3
    job = promise.job()
    assert job.events_sent == [("SUCCEEDED", 200)]
    assert kit.fake.count("describe", job.job_id) == 1  # the news confirmed once
    assert kit.fake.count("describe_many", job.job_id) == 0


def test_a_waiter_that_came_after_early_news_outlasts_its_clean_up(kit: Kit) -> None:
    """The running event lands before the waiter registers, so the mailbox schedules the
    clean-up of unclaimed news (1 s here, an hour in production); the job runs longer than
    that. The waiter who registered meanwhile keeps the mailbox: the end still reaches it."""
    promise = submit(kit, "states=RUNNING:2.5,SUCCEEDED events=early", flavor="fakeEvents")
    running = promise.wait_for_phase("running")
    assert running["job_state"] == "RUNNING"  # the early event, shown while the job runs
    result = promise.outcome()
    assert result["state"] == "SUCCEEDED" and result["row_count"] == 3
    job = promise.job()
    assert job.events_sent == [("RUNNING", 200), ("SUCCEEDED", 200)]
    # The end came with its event: not at the deadline (30 s), where the job is stopped first.
    assert kit.fake.count("stop", job.job_id) == 0
    assert kit.fake.count("describe", job.job_id) == 1


def test_duplicate_events_change_nothing(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:0.2,SUCCEEDED duplicates=3", flavor="fakeEvents")
    pulled = promise.result()
    job = promise.job()
    assert [state for state, _ in job.events_sent] == ["RUNNING"] * 3 + ["SUCCEEDED"] * 3
    assert {status for _, status in job.events_sent} == {200}
    # Late ones too: taken (200), and the result stays what it was.
    assert kit.fake.emit(job.job_id, "SUCCEEDED") == 200
    assert kit.fake.emit(job.job_id, "FAILED") == 200
    assert promise.result().content == pulled.content
    assert kit.fake.count("describe", job.job_id) == 1
    assert promise.pushed() == pulled.text


def test_a_forged_final_event_gives_no_result_while_the_job_runs(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:*")
    promise.wait_for_phase("running")
    job = promise.job()
    assert kit.fake.emit(job.job_id, "SUCCEEDED") == 200
    wait_until(lambda: kit.fake.count("describe", job.job_id) >= 1, 10, "the news checked")
    # Once an event was false, events are not trusted: only the dependency's word counts.
    assert kit.fake.emit(job.job_id, "FAILED") == 200
    time.sleep(0.5)
    status = promise.status()
    assert status["phase"] in ("queued", "running") and status["state"] is None
    assert kit.fake.count("result", job.job_id) == 0  # nothing read of a job that runs
    kit.fake.set_state(job.job_id, "SUCCEEDED")
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["row_count"] == 3
    assert promise.pushed() == pulled.text
    # The sweeper brought the real end, briskly (poll intervals of 0.05 to 0.2 s).
    assert kit.fake.count("describe_many", job.job_id) >= 1


def test_malformed_and_misaddressed_events_are_refused(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:*")
    job = promise.job()
    mailbox = "fakeJobMailbox"
    assert kit.fake.post_event(mailbox, job.job_id, b'{"kind": 1}') == 400
    assert kit.fake.post_event(mailbox, job.job_id, b"not json") == 400
    # An event under another job's path is not forwarded to this one.
    assert kit.fake.emit(job.job_id, "SUCCEEDED", mailbox=mailbox) == 200
    other = submit(kit, "states=RUNNING:*")
    assert kit.fake.post_event(mailbox, other.job().job_id, _event(job.job_id)) == 400
    # An event of another kind is ignored; one for an unknown job changes nothing.
    assert kit.fake.post_event(mailbox, job.job_id, _event(job.job_id, kind="other")) == 200
    assert kit.fake.emit("never-started", "SUCCEEDED", mailbox=mailbox) == 200
    for each in (promise, other):
        assert each.cancel()["outcome"] == "cancelling"
        assert each.outcome()["state"] == "CANCELLED"


def _event(job_id: str, kind: str = "fake.state-change") -> bytes:
    return f'{{"kind": "{kind}", "job_id": "{job_id}", "state": "SUCCEEDED"}}'.encode()


def test_the_deadline_at_the_moment_of_completion_gives_one_consistent_ending(kit: Kit) -> None:
    """Whichever wins, the result agrees with the dependency: rows if the job got there, else
    TIMED_OUT with the job stopped before it finished."""
    promises = [
        submit(kit, "states=RUNNING:1,SUCCEEDED", timeout_s=timeout_s)
        for timeout_s in (0.9, 0.95, 0.98, 1.0, 1.0, 1.02, 1.05, 1.1)
    ]
    endings = set()
    for promise in promises:
        pulled = promise.result()
        result = pulled.json()
        job = promise.job()
        expected = {"SUCCEEDED": "SUCCEEDED", "TIMED_OUT": "CANCELLED"}[result["state"]]
        assert kit.fake.state_of(job.job_id) == expected
        assert result["row_count"] == (3 if result["state"] == "SUCCEEDED" else 0)
        assert promise.pushed() == pulled.text
        endings.add(result["state"])
    # Which won depends on the moment (both do, run after run); each was one whole ending.
    assert endings <= {"SUCCEEDED", "TIMED_OUT"}


def test_a_cancel_by_key_while_the_result_is_read_comes_too_late(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:0.1,SUCCEEDED rows=6 page_size=2 page_delay_s=0.4")
    job = promise.job()
    wait_until(lambda: kit.fake.count("result", job.job_id) >= 1, 10, "the first page read")
    promise.wait_for_phase("fetching")
    answer = promise.cancel("changed my mind")
    assert answer["outcome"] == "too_late", answer
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["row_count"] == 6
    assert job.stops == 0
    assert promise.pushed() == pulled.text


def test_restates_cancel_while_the_result_is_read_leaves_the_result_standing(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:0.1,SUCCEEDED rows=6 page_size=2 page_delay_s=0.4")
    job = promise.job()
    wait_until(lambda: kit.fake.count("result", job.job_id) >= 1, 10, "the first page read")
    rows = admin_sql(
        kit.stack.admin_url,
        "SELECT id FROM sys_invocation WHERE target_service_name = 'fakeJobPromise' "
        f"AND target_service_key = '{promise.invocation_id}' AND target_handler_name = 'run'",
    )
    (run,) = [row["id"] for row in rows]
    cancel = requests.patch(f"{kit.stack.admin_url}/invocations/{run}/cancel", timeout=10)
    assert cancel.status_code in (200, 202), cancel.text
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["row_count"] == 6
    assert job.stops == 0
    assert promise.pushed() == pulled.text
