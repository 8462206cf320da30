"""An EMR Serverless job run as a job of the kit: started with the kit's token as its
clientToken, described with GetJobRun (there is no batch get: one id a call), cancelled
with CancelJobRun. Its output is wherever the Spark job wrote it: there is nothing to read."""

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from service.emr_serverless.client import (
    EmrRefused,
    EMRServerlessClient,
    JobRunStatus,
    call,
    emr_client,
    job_id_of,
    split_job_id,
)
from service.emr_serverless.events import read_job_run_event
from service.emr_serverless.models import JobRunRequest, JobRunResult
from service.emr_serverless.settings import settings
from service.promisify import Collected, JobDefaults, Meaning, News, Settled

if TYPE_CHECKING:
    from mypy_boto3_emr_serverless.type_defs import SparkSubmitTypeDef, StartJobRunRequestTypeDef

# Every JobRunState of botocore's service model (a test checks it), and what it means.
MEANINGS: dict[str, Meaning] = {
    **dict.fromkeys(["SUBMITTED", "PENDING", "SCHEDULED", "QUEUED"], "waiting"),
    # A run being cancelled still runs (and costs) until it is CANCELLED.
    **dict.fromkeys(["RUNNING", "CANCELLING"], "running"),
    "SUCCESS": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}


class EmrServerlessJob(JobDefaults):
    name = "EMR Serverless"
    noun = "job run"
    initial_state = "SUBMITTED"
    request_type = JobRunRequest
    status_type = JobRunStatus
    result_type = JobRunResult
    status_names: Mapping[str, str] = MappingProxyType(
        {"job_id": "job_run", "job_state": "job_run_state"}
    )

    @functools.cached_property
    def client(self) -> EMRServerlessClient:
        return emr_client(settings().region)  # one per process, built from the settings

    def subject(self, request: JobRunRequest) -> str:
        return request.name or request.entry_point

    def meaning(self, state: str) -> Meaning:
        return MEANINGS.get(state, "waiting")

    async def start(self, request: JobRunRequest, token: str) -> str:
        spark: SparkSubmitTypeDef = {"entryPoint": request.entry_point}
        if request.entry_point_arguments:
            spark["entryPointArguments"] = request.entry_point_arguments
        if request.spark_submit_parameters:
            spark["sparkSubmitParameters"] = request.spark_submit_parameters
        run: StartJobRunRequestTypeDef = {
            "applicationId": request.application_id,
            "clientToken": token,  # the same token never starts a second run
            "executionRoleArn": request.execution_role_arn,
            "jobDriver": {"sparkSubmit": spark},
        }
        if request.name:
            run["name"] = request.name
        started = await call(lambda: self.client.start_job_run(**run))
        return job_id_of(request.application_id, started["jobRunId"])

    async def describe(
        self, job_id: str, news: str | None = None, request: JobRunRequest | None = None
    ) -> JobRunStatus:
        app, run_id = split_job_id(job_id)
        get = self.client.get_job_run
        return JobRunStatus.of(
            (await call(lambda: get(applicationId=app, jobRunId=run_id)))["jobRun"]
        )

    async def stop(self, job_id: str) -> None:
        app, run_id = split_job_id(job_id)
        try:
            await call(lambda: self.client.cancel_job_run(applicationId=app, jobRunId=run_id))
        except EmrRefused as refusal:
            # A run that has ended cannot be cancelled (a ValidationException): it stays so.
            if refusal.code != "ValidationException":
                raise

    def read_event(self, body: bytes) -> News | None:
        return read_job_run_event(body)

    def result(
        self,
        settled: Settled,
        request: JobRunRequest,
        status: JobRunStatus | None,
        collected: Collected | None,
    ) -> JobRunResult:
        known = status or JobRunStatus(job_id="", state="")
        return JobRunResult(
            invocation_id=settled.invocation_id,
            application_id=request.application_id,
            job_run_id=split_job_id(settled.job_id)[1] if settled.job_id else None,
            name=known.name or request.name,
            state=settled.state,
            job_run_state=known.state or None,
            error=settled.error,
            submitted_at=known.submitted_at,
            completed_at=known.completed_at or settled.ended_at,
            execution_s=known.execution_s,
        )
