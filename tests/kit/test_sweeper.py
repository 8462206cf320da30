"""The sweeper: many parked jobs checked in batches of the job's own limit, within the calls
per second the deployment allows; one by one where the limit is 1 or the batch call is
missing; and a check that can never succeed is said, then ends the promise."""

import time

import pytest

from tests.kit.support import Kit, Submitted, submit
from tests.stack_support import wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the fake service, the listener

# `fakePoll`: one shard, 4 status calls a second, batches of 5 (tests/kit/fake_service.py).
BUDGET_PER_S, BATCH_LIMIT = 4, 5


def park(kit: Kit, count: int, flavor: str, spec: str, every_s: float = 0) -> list[Submitted]:
    """`count` promises, one every `every_s`: arrivals spread out, as in production."""
    promises = []
    for _ in range(count):
        promises.append(submit(kit, spec, flavor=flavor, push=False))
        time.sleep(every_s)
    return promises


def test_many_parked_jobs_share_batched_checks_within_the_budget(kit: Kit) -> None:
    promises = park(kit, 12, "fakePoll", "states=RUNNING:2.5,SUCCEEDED events=none", 0.1)
    assert {promise.outcome()["state"] for promise in promises} == {"SUCCEEDED"}
    ours = {promise.job().job_id for promise in promises}
    calls = [
        call
        for call in kit.fake.calls_of("describe_many")
        if call.flavor == "fakePoll" and ours & set(call.job_ids)
    ]
    assert max(len(call.job_ids) for call in calls) == BATCH_LIMIT
    assert all(len(call.job_ids) <= BATCH_LIMIT for call in calls)
    checks = sum(len(call.job_ids) for call in calls)
    assert len(calls) * 2 <= checks  # batched: far fewer calls than checks
    # Every call of the shard while ours were parked, whoever's: within the budget, give or
    # take one sweep's batches.
    first, last = calls[0].at, calls[-1].at
    during = [
        call
        for call in kit.fake.calls_of("describe_many")
        if call.flavor == "fakePoll" and first <= call.at <= last
    ]
    one_sweep = -(-len(ours) // BATCH_LIMIT)
    assert len(during) <= BUDGET_PER_S * (last - first) + one_sweep, (len(during), last - first)


def test_a_batch_limit_of_one_checks_one_job_a_call(kit: Kit) -> None:
    promises = park(kit, 3, "fakeSingle", "states=RUNNING:0.5,SUCCEEDED events=none")
    assert {promise.outcome()["state"] for promise in promises} == {"SUCCEEDED"}
    for promise in promises:
        job_id = promise.job().job_id
        assert kit.fake.count("describe", job_id) >= 2  # the sweeper's checks, then the confirm
        assert kit.fake.count("describe_many", job_id) == 0


def test_without_a_batch_describe_the_sweeper_falls_back_to_one_describe_per_job(
    kit: Kit,
) -> None:
    promises = park(kit, 3, "fakeNoBatch", "states=RUNNING:0.5,SUCCEEDED events=none")
    assert {promise.outcome()["state"] for promise in promises} == {"SUCCEEDED"}
    refused = [call for call in kit.fake.calls_of("describe_many") if call.flavor == "fakeNoBatch"]
    assert refused and {call.status for call in refused} == {501}
    for promise in promises:
        assert kit.fake.count("describe", promise.job().job_id) >= 2


def test_checks_failing_for_a_while_are_retried_and_the_promise_resolves(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:0.3,SUCCEEDED events=none describe=fail:4", "fakePoll")
    pulled = promise.result()
    assert pulled.json()["state"] == "SUCCEEDED"
    job_id = promise.job().job_id
    failed = [call for call in kit.fake.calls_of("describe_many", job_id) if call.status == 500]
    assert len(failed) == 4
    assert promise.pushed() == pulled.text


def test_a_check_that_can_never_succeed_is_shown_then_ends_the_promise_failed(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:* events=none describe=fail", flavor="fakePoll")
    status = wait_until(
        lambda: (shown := promise.status_once_started()) and shown["checks_failing"] and shown,
        10,
        "status to say the checks fail",
    )
    assert "HTTP 500" in status["checks_failing"] and status["phase"] in ("queued", "running")
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "FAILED"
    assert "checking the job's state on Fake failed for good" in result["error"]
    job = promise.job()
    assert kit.fake.state_of(job.job_id) == "CANCELLED" and job.stops == 1  # stopped
    assert promise.pushed() == pulled.text
    assert promise.status()["phase"] == "done"
