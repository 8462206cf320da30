"""EMR Serverless's "EMR Serverless Job Run State Change" event, as EventBridge sends it.

The events endpoints are public: the ids become a Restate key, so they are checked first.
"""

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.emr_serverless.client import job_id_of
from service.emr_serverless.models import ID
from service.promisify import EventRefused, News, describe_validation_error

SOURCE = "aws.emr-serverless"
STATE_CHANGE = "EMR Serverless Job Run State Change"


class JobRunDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_run_id: str = Field(alias="jobRunId", pattern=ID)
    application_id: str = Field(alias="applicationId", pattern=ID)
    state: str = Field(max_length=32)


class JobRunEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str = Field(max_length=256)
    detail_type: str = Field(alias="detail-type", max_length=256)
    detail: JobRunDetail


def read_job_run_event(body: bytes) -> News | None:
    """The run and its state; None for another kind of event; EventRefused if malformed."""
    try:
        event = JobRunEvent.model_validate_json(body)
    except ValidationError as error:
        subject = "EMR Serverless state-change event"
        raise EventRefused(describe_validation_error(error, subject, JobRunEvent)) from None
    if event.source != SOURCE or event.detail_type != STATE_CHANGE:
        return None
    detail = event.detail
    return News(job_id=job_id_of(detail.application_id, detail.job_run_id), state=detail.state)
