"""The service process SIGKILLed mid-step, and starts retried: the job is started once, the
promise completes, and its result is pushed under one webhook-id."""

import pytest

from service.promisify.plan import start_token
from tests.kit.support import Kit, submit
from tests.stack_support import wait_until

pytestmark = pytest.mark.e2e  # real processes: restate-server, the fake service, the listener


@pytest.mark.parametrize("fault", ["throttle:2", "lose:2"])
def test_a_start_retried_starts_the_job_once(kit: Kit, fault: str) -> None:
    """Throttled twice (nothing started), or started with its answer lost twice: three calls
    with one token, one job."""
    promise = submit(kit, f"start={fault} states=RUNNING:0.1,SUCCEEDED")
    pulled = promise.result()
    assert pulled.json()["state"] == "SUCCEEDED"
    (job,) = kit.fake.jobs_tagged(promise.tag)
    assert job.token == start_token(promise.invocation_id)
    assert kit.fake.count("start", token=job.token) == 3
    assert promise.pushed() == pulled.text


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_the_service_killed_while_starting_the_job_starts_it_once(kit: Kit, direct: bool) -> None:
    """The fake started the job but holds its answer back; the service dies meanwhile. The
    start runs again on the new process, with the same token: the same job."""
    promise = submit(kit, "start=slow:2 states=RUNNING:0.3,SUCCEEDED", direct=direct)
    job = promise.job()
    kit.stack.restart("service", kill=True)
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["job_id"] == job.job_id
    assert kit.fake.jobs_tagged(promise.tag) == [job]
    assert kit.fake.count("start", token=job.token) >= 2
    assert promise.pushed() == pulled.text


def test_the_service_killed_while_reading_the_result_completes_it(kit: Kit) -> None:
    promise = submit(kit, "states=RUNNING:0.1,SUCCEEDED rows=6 page_size=2 page_delay_s=1")
    job = promise.job()
    wait_until(lambda: kit.fake.count("result", job.job_id) >= 1, 10, "the first page read")
    kit.stack.restart("service", kill=True)
    pulled = promise.result()
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["row_count"] == 6
    assert kit.fake.count("start", token=job.token) == 1
    assert kit.fake.count("result", job.job_id) >= 4  # the page cut short was read again
    assert promise.pushed() == pulled.text


@pytest.mark.parametrize("direct", [False, True], ids=["front", "direct"])
def test_the_service_killed_while_the_job_is_parked_completes_it(kit: Kit, direct: bool) -> None:
    promise = submit(kit, "states=RUNNING:*", direct=direct)
    promise.wait_for_phase("running")
    job = promise.job()
    kit.stack.restart("service", kill=True)
    kit.fake.set_state(job.job_id, "SUCCEEDED")
    pulled = promise.result()
    assert pulled.json()["state"] == "SUCCEEDED"
    assert kit.fake.count("start", token=job.token) == 1
    assert promise.pushed() == pulled.text
