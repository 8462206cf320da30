"""The three ways news of the end reaches a promise: events, the sweeper's polls, or events
with the safety net that catches a lost one."""

import time

import pytest
import requests

from infra.local.stack import admin_sql
from tests.kit.support import Kit, submit

pytestmark = pytest.mark.e2e  # real processes: restate-server, the fake service, the listener


def test_events_mode_asks_the_dependency_once_after_the_news(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:0.3,SUCCEEDED", flavor="fakeEvents")
    running = promise.wait_for_phase("running")
    assert running["job_state"] == "RUNNING"  # what the RUNNING event said
    assert promise.outcome()["state"] == "SUCCEEDED"
    job = promise.job()
    assert kit.fake.count("describe", job.job_id) == 1
    assert kit.fake.count("describe_many", job.job_id) == 0


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_poll_mode_completes_without_any_event(kit: Kit, direct: bool) -> None:
    spec = "states=RUNNING:0.6,SUCCEEDED events=none"
    promise = submit(kit, spec, flavor="fakePoll", direct=direct)
    running = promise.wait_for_phase("running")
    assert running["job_state"] == "RUNNING"  # what the sweeper's last check said
    assert promise.outcome()["state"] == "SUCCEEDED"
    job = promise.job()
    assert kit.fake.count("describe_many", job.job_id) >= 2
    assert job.events_sent == []


def test_poll_mode_takes_events_that_still_flow_at_no_cost_beyond_their_call(kit: Kit) -> None:
    """A deployment that polls with its event rule still in place: every event is taken
    (200, so the rule does not retry it) and leaves nothing: no state, no clean-up."""
    promise = submit(kit, "states=RUNNING:0.3,SUCCEEDED", flavor="fakePoll")
    assert promise.outcome()["state"] == "SUCCEEDED"
    job = promise.job()
    assert job.events_sent == [("RUNNING", 200), ("SUCCEEDED", 200)]
    assert kit.fake.emit(job.job_id, "SUCCEEDED") == 200  # a late one too
    kept = admin_sql(
        kit.stack.admin_url,
        "SELECT key FROM state WHERE service_name = 'fakePollMailbox' "
        f"AND service_key = '{job.job_id}'",
    )
    assert kept == []
    clean_ups = admin_sql(
        kit.stack.admin_url,
        "SELECT id FROM sys_invocation WHERE target_service_name = 'fakePollMailbox' "
        f"AND target_service_key = '{job.job_id}' AND target_handler_name = 'forget'",
    )
    assert clean_ups == []


def test_both_mode_catches_a_lost_event_with_the_safety_net(kit: Kit) -> None:
    began = time.monotonic()
    promise = submit(kit, "states=RUNNING:0.2,SUCCEEDED events=none")
    pulled = promise.result()
    assert pulled.json()["state"] == "SUCCEEDED"
    assert time.monotonic() - began >= 1.0  # the safety net's interval passed first
    assert kit.fake.count("describe_many", promise.job().job_id) >= 1
    assert promise.pushed() == pulled.text


def test_both_mode_never_checks_a_job_whose_event_came_in_time(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:0.2,SUCCEEDED")
    assert promise.outcome()["state"] == "SUCCEEDED"
    time.sleep(1.2)  # past the safety net's interval: it was never armed for nothing
    assert kit.fake.count("describe_many", promise.job().job_id) == 0


def test_an_event_at_the_fixed_path_completes_the_promise(kit: Kit) -> None:
    """For event rules that cannot put the job's id in the path: `/{events}/onStateChange`."""
    promise = submit(kit, "states=RUNNING:0.1,SUCCEEDED events=none")
    job = promise.job()
    time.sleep(0.2)
    body = {"kind": "fake.state-change", "job_id": job.job_id, "state": "SUCCEEDED"}
    posted = requests.post(f"{kit.ingress_url}/fakeJobEvents/onStateChange", json=body, timeout=10)
    assert posted.status_code == 200, posted.text
    assert promise.outcome()["state"] == "SUCCEEDED"
    assert kit.fake.count("describe_many", job.job_id) == 0  # before the safety net
