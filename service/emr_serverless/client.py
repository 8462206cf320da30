"""EMR Serverless through boto3: the client, its calls in threads, its answers. No Restate.

A job run is named by two ids, its application's and its own; the kit knows one job id, so
here it is both: `application_id:job_run_id` (EMR's ids are [0-9a-z], never a colon).
"""

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from service.promisify import JobRefused, JobStatus

if TYPE_CHECKING:
    from mypy_boto3_emr_serverless import EMRServerlessClient
    from mypy_boto3_emr_serverless.type_defs import JobRunTypeDef
else:
    EMRServerlessClient = JobRunTypeDef = Any

T = TypeVar("T")
# Retrying cannot help these: the caller can fix the request (400), or the operator (502).
REFUSALS = {"ValidationException": 400, "ResourceNotFoundException": 400}
REFUSALS |= {"ConflictException": 400, "AccessDeniedException": 502}


def job_id_of(application_id: str, job_run_id: str) -> str:
    return f"{application_id}:{job_run_id}"


def split_job_id(job_id: str) -> tuple[str, str]:
    application_id, _, job_run_id = job_id.partition(":")
    return application_id, job_run_id


class JobRunStatus(JobStatus):
    """EMR Serverless's word on one job run (`job_id` is `application_id:job_run_id`)."""

    name: str | None = None
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    execution_s: int | None = None

    @classmethod
    def of(cls, run: "JobRunTypeDef") -> "JobRunStatus":
        return cls(
            job_id=job_id_of(run["applicationId"], run["jobRunId"]),
            state=run["state"],
            reason=run.get("stateDetails") or None,
            heard_at=time.time(),
            name=run.get("name"),
            submitted_at=run.get("createdAt"),
            completed_at=run.get("endedAt"),
            execution_s=run.get("totalExecutionDurationSeconds"),
        )


def emr_client(region: str) -> EMRServerlessClient:
    # boto3 honours AWS_ENDPOINT_URL_EMR_SERVERLESS (moto and its stand-in, in the tests).
    config = Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=20)
    return boto3.client("emr-serverless", region_name=region, config=config)


class EmrRefused(JobRefused):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"EMR Serverless refused the request ({code}): {message}", REFUSALS[code])
        self.code = code


async def call(request: Callable[[], T]) -> T:
    """One blocking boto3 call in a thread; permanent refusals become EmrRefused."""
    try:
        return await asyncio.to_thread(request)
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") in REFUSALS:
            raise EmrRefused(details["Code"], details.get("Message", "")) from error
        raise
