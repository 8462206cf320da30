"""EMR Serverless job runs as durable promises: the kit, with a second real dependency.

Real processes on free ports: restate-server, moto's server (EMR Serverless through boto3),
the stand-in for what moto lacks in front of it (tests/emr_serverless_standin.py: run states,
clientToken, a lost answer), `python -m service.emr_serverless` and the listener.
"""

import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import pytest
import requests

from infra.local.components import define_restate
from infra.local.identity import request_identity
from infra.local.processes import ManagedProcess, free_port
from infra.local.stack import LocalStack, Ports, StackConfig
from service.emr_serverless.job import MEANINGS
from tests.stack_support import extra_listener, wait_until

ROLE = "arn:aws:iam::123456789012:role/emr-job"  # moto's account
SAFETY_NET_S = 3.0
AWS_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
AWS_ENV |= {"AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class EmrStack:
    restate: LocalStack  # restate-server alone: its ingress, admin and registration
    moto_url: str
    standin_url: str
    listener_url: str
    application_id: str

    @property
    def ingress(self) -> str:
        return self.restate.ingress_url

    def send(self, key: str, **body: Any) -> str:
        """Submit by key, fire and forget: the invocation id the key resolves to."""
        request = {"application_id": self.application_id, "execution_role_arn": ROLE}
        request |= {"entry_point": "s3://jobs/wordcount.py"} | body
        sent = requests.post(
            f"{self.ingress}/emrJobRun/run/send",
            json=request,
            headers={"idempotency-key": key},
            timeout=30,
        )
        assert sent.status_code == 202, sent.text
        return str(sent.json()["invocationId"])

    def attach(self, key: str) -> requests.Response:
        url = f"{self.ingress}/restate/invocation/emrJobRun/run/{key}/attach"
        return requests.get(url, timeout=60)

    def promise(self, invocation_id: str, handler: str, body: Any = None) -> Any:
        """The promise's `status` or `cancel`; None while it has not begun (a 404)."""
        url = f"{self.ingress}/emrJobRunPromise/{invocation_id}/{handler}"
        answer = requests.post(url, json=body or {}, timeout=30)
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.text
        return answer.json()

    def runs(self) -> dict[str, dict[str, Any]]:
        return dict(requests.get(f"{self.standin_url}/_standin/runs", timeout=10).json())

    def end_run(self, job_run_id: str, state: str, details: str | None = None) -> None:
        url = f"{self.standin_url}/_standin/runs/{job_run_id}"
        requests.post(url, json={"state": state, "details": details}, timeout=10)

    def started_run(self, invocation_id: str, state: str = "RUNNING") -> str:
        """The job run's id, once the promise has started it and it reached `state`."""

        def started() -> str | None:
            job_run = (self.promise(invocation_id, "status") or {}).get("job_run")
            if job_run and self.runs()[job_run.split(":")[1]]["state"] == state:
                return str(job_run.split(":")[1])
            return None

        return str(wait_until(started, 30, f"the job run to be {state}"))

    def post_event(self, job_run_id: str, state: str, path: str | None = None) -> int:
        detail = {"jobRunId": job_run_id, "applicationId": self.application_id, "state": state}
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "EMR Serverless Job Run State Change",
            "source": "aws.emr-serverless",
            "detail": detail,
        }
        key = f"{self.application_id}:{job_run_id}"
        url = f"{self.ingress}{path or f'/emrJobRunCompletion/{key}/onEvent'}"
        return requests.post(url, json=event, timeout=10).status_code

    def pushed(self, invocation_id: str) -> dict[str, Any]:
        def stored() -> Any:
            answer = requests.get(f"{self.listener_url}/deliveries/msg_{invocation_id}", timeout=10)
            return answer.json() if answer.status_code == 200 else None

        return dict(wait_until(stored, 30, "the pushed result"))


def moto_client(url: str) -> Any:
    return boto3.client(
        "emr-serverless",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="module")
def emr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmrStack]:
    tmp = tmp_path_factory.mktemp("emr")
    config = StackConfig(base_dir=tmp / "restate", data_dir=tmp, ports=Ports.free())
    restate = LocalStack(config)
    restate.log_dir.mkdir(parents=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    identity = request_identity(config.base_dir)
    moto_port, standin_port = free_port(), free_port()
    moto_url, standin_url = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{standin_port}"
    python = sys.executable
    service_env = env | AWS_ENV
    service_env |= {
        "AWS_ENDPOINT_URL_EMR_SERVERLESS": standin_url,
        "EMR_SERVERLESS_PORT": str(config.ports.service),
        "EMR_SERVERLESS_ALLOW_PRIVATE_CALLBACKS": "true",
        "EMR_SERVERLESS_SAFETY_NET_INTERVAL_S": str(SAFETY_NET_S),
        "EMR_SERVERLESS_POLL_INITIAL_S": "0.2",
        "EMR_SERVERLESS_POLL_MAX_S": "0.5",
        "WEBHOOK_SECRET": config.webhook_secret,
        "RESTATE_IDENTITY_KEYS": identity.public_key,
    }
    log_dir = restate.log_dir
    standin = [python, "-m", "tests.emr_serverless_standin", "--moto", moto_url]
    standin += ["--port", str(standin_port)]
    processes = [
        *define_restate(config, log_dir, identity, env),
        ManagedProcess(
            "moto",
            [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            env,
            log_dir,
            f"{moto_url}/moto-api/",
            ports=[moto_port],
        ),
        ManagedProcess(
            "standin",
            standin,
            env,
            log_dir,
            f"{standin_url}/_standin/health",
            ports=[standin_port],
        ),
        ManagedProcess(
            "service",
            [python, "-m", "service.emr_serverless"],
            service_env,
            log_dir,
            f"http://127.0.0.1:{config.ports.service}/health",
            ports=[config.ports.service],
        ),
    ]
    listener, listener_url = extra_listener(restate, tmp)
    processes.append(listener)
    try:
        for process in processes:
            process.start(timeout_s=120)
        restate.register_deployment()
        application = moto_client(moto_url).create_application(
            name="wordcount", releaseLabel="emr-7.5.0", type="SPARK"
        )
        yield EmrStack(restate, moto_url, standin_url, listener_url, application["applicationId"])
    finally:
        for process in reversed(processes):
            process.stop()


def test_every_job_run_state_of_the_service_model_has_a_meaning() -> None:
    model = botocore.session.get_session().get_service_model("emr-serverless")
    states: Any = model.shape_for("JobRunState")
    assert set(MEANINGS) == set(states.enum)


@pytest.mark.e2e
def test_moto_alone_ignores_the_client_token_and_finishes_every_run_at_once(
    emr: EmrStack,
) -> None:
    # Why the stand-in exists: these are the two things it adds in front of moto.
    client = moto_client(emr.moto_url)
    run: Any = {"applicationId": emr.application_id, "executionRoleArn": ROLE}
    run |= {"clientToken": "same", "jobDriver": {"sparkSubmit": {"entryPoint": "s3://x.py"}}}
    first, second = client.start_job_run(**run), client.start_job_run(**run)
    assert first["jobRunId"] != second["jobRunId"]
    state = client.get_job_run(applicationId=emr.application_id, jobRunId=first["jobRunId"])
    assert state["jobRun"]["state"] == "SUCCESS"


@pytest.mark.e2e
def test_a_bad_request_is_refused_before_anything_starts(emr: EmrStack) -> None:
    answer = requests.post(
        f"{emr.ingress}/emrJobRun/run",
        json={"application_id": "NOT AN ID", "execution_role_arn": ROLE, "entry_point": "x.py"},
        headers={"idempotency-key": str(uuid.uuid4())},
        timeout=30,
    )
    assert answer.status_code == 400 and "application_id" in answer.text


@pytest.mark.e2e
def test_a_run_started_under_retries_runs_once_and_its_event_resolves_push_and_pull(
    emr: EmrStack,
) -> None:
    key = str(uuid.uuid4())
    before = len(
        moto_client(emr.moto_url).list_job_runs(applicationId=emr.application_id)["jobRuns"]
    )
    # The first two answers to StartJobRun are lost: boto3 retries with the kit's token.
    requests.post(f"{emr.standin_url}/_standin/faults", json={"failed_start_answers": 2}, timeout=5)
    callback = {"callback_url": f"{emr.listener_url}/callback", "name": "wordcount"}
    invocation_id = emr.send(key, **callback)
    assert emr.send(key, **callback) == invocation_id  # the same key: the same promise

    job_run_id = emr.started_run(invocation_id)
    run = emr.runs()[job_run_id]
    assert run["start_calls"] == 3 and len(run["token"]) == 64
    after = moto_client(emr.moto_url).list_job_runs(applicationId=emr.application_id)["jobRuns"]
    assert len(after) == before + 1  # one job run in moto, for three start calls

    # Events park nothing and call nothing: status shows what the event said.
    assert emr.post_event(job_run_id, "RUNNING") == 200
    status = wait_until(
        lambda: (found := emr.promise(invocation_id, "status"))["phase"] == "running" and found,
        10,
        "status to say running",
    )
    assert status["job_run_state"] == "RUNNING" and status["subject"] == "wordcount"

    emr.end_run(job_run_id, "SUCCESS")
    assert emr.post_event(job_run_id, "SUCCESS") == 200
    pulled = emr.attach(key)
    assert pulled.status_code == 200, pulled.text
    result = pulled.json()
    assert result["state"] == "SUCCEEDED" and result["job_run_state"] == "SUCCESS"
    assert result["job_run_id"] == job_run_id and result["error"] is None
    # One GetJobRun, to confirm the event: no sweeper, no polling.
    assert emr.runs()[job_run_id]["gets"] == 1
    pushed = emr.pushed(invocation_id)
    assert pushed["body"].encode() == pulled.content and pushed["attempts"] == 1


@pytest.mark.e2e
def test_the_rules_fixed_path_completes_a_run_and_refuses_a_malformed_event(
    emr: EmrStack,
) -> None:
    key = str(uuid.uuid4())
    invocation_id = emr.send(key)
    job_run_id = emr.started_run(invocation_id)
    emr.end_run(job_run_id, "SUCCESS")
    assert emr.post_event("NOT/AN/ID", "SUCCESS", "/emrJobRunEvents/onStateChange") == 400
    assert emr.post_event(job_run_id, "SUCCESS", "/emrJobRunEvents/onStateChange") == 200
    assert emr.attach(key).json()["state"] == "SUCCEEDED"


@pytest.mark.e2e
def test_without_an_event_the_safety_net_finds_the_failed_run(emr: EmrStack) -> None:
    key = str(uuid.uuid4())
    started = time.monotonic()
    invocation_id = emr.send(key)
    job_run_id = emr.started_run(invocation_id)
    emr.end_run(job_run_id, "FAILED", "Job failed: the Spark driver exited with code 1.")
    result = emr.attach(key).json()
    assert result["state"] == "FAILED" and result["job_run_state"] == "FAILED"
    assert result["error"] == "Job failed: the Spark driver exited with code 1."
    assert time.monotonic() - started >= SAFETY_NET_S
    assert emr.runs()[job_run_id]["cancels"] == 0


@pytest.mark.e2e
def test_past_its_deadline_the_run_is_cancelled_and_the_result_timed_out(emr: EmrStack) -> None:
    key = str(uuid.uuid4())
    invocation_id = emr.send(key, timeout_s=1.5, callback_url=f"{emr.listener_url}/callback")
    pulled = emr.attach(key)
    result = pulled.json()
    assert result["state"] == "TIMED_OUT", result
    assert result["error"] == "The job run did not finish within 1.5 s and was stopped."
    run = emr.runs()[result["job_run_id"]]
    assert run["cancels"] == 1
    wait_until(lambda: emr.runs()[result["job_run_id"]]["state"] == "CANCELLED", 5, "CANCELLED")
    assert emr.pushed(invocation_id)["body"].encode() == pulled.content


@pytest.mark.e2e
def test_a_cancel_by_key_cancels_the_run_and_status_by_key_shows_the_end(emr: EmrStack) -> None:
    key = str(uuid.uuid4())
    invocation_id = emr.send(key, callback_url=f"{emr.listener_url}/callback")
    job_run_id = emr.started_run(invocation_id)
    # By key: a send with the key starts nothing and names the promise's invocation.
    by_key = emr.send(key)
    answer = emr.promise(by_key, "cancel", {"reason": "no longer needed"})
    assert answer["outcome"] == "cancelling", answer
    pulled = emr.attach(key)
    result = pulled.json()
    assert (
        result["state"] == "CANCELLED"
        and result["error"] == "Cancelled by request: no longer needed."
    )
    assert emr.runs()[job_run_id]["cancels"] == 1
    status = emr.promise(by_key, "status")
    assert status["phase"] == "done" and status["state"] == "CANCELLED"
    assert status["cancel_reason"] == "no longer needed"
    assert emr.pushed(invocation_id)["body"].encode() == pulled.content
    assert json.loads(pulled.content) == result
