"""What a caller submits to run a Spark job on EMR Serverless, and the one result it gets.

Strict types, as for Athena's QueryRequest: the contract is JSON, so `"10"` is not a number.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictStr, field_validator

from service.promisify import CallbackUrlRefused, ResultState, check_static

MAX_TIMEOUT_S = 24 * 3600
ID = r"^[0-9a-z]{1,64}$"
ROLE_ARN = r"^arn:aws[a-zA-Z0-9-]*:iam::[0-9]{12}:role/\S+$"


class JobRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application_id: StrictStr = Field(pattern=ID, description="The EMR Serverless application.")
    execution_role_arn: StrictStr = Field(pattern=ROLE_ARN, description="The job's IAM role.")
    entry_point: StrictStr = Field(min_length=1, max_length=4096, description="Spark script.")
    entry_point_arguments: list[StrictStr] = Field(default_factory=list, max_length=1024)
    spark_submit_parameters: StrictStr | None = Field(None, min_length=1, max_length=102_400)
    name: StrictStr | None = Field(None, min_length=1, max_length=256)
    callback_url: StrictStr | None = Field(None, description="Where to POST the signed result.")
    timeout_s: StrictFloat | None = Field(None, gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)

    @field_validator("callback_url")
    @classmethod
    def _callback_url_is_well_formed(cls, url: str | None) -> str | None:
        # Addresses are checked in the kit's planning step; the form is checked here, at once.
        try:
            if url is not None:
                check_static(url)
        except CallbackUrlRefused as refusal:
            raise ValueError(str(refusal)) from None
        return url


class JobRunResult(BaseModel):
    """One JSON document, byte-identical on the pull and the push path."""

    invocation_id: str
    application_id: str
    job_run_id: str | None  # None only when EMR Serverless refused to start the run
    name: str | None
    state: ResultState
    job_run_state: str | None  # EMR Serverless's own last word (SUCCESS, FAILED, ...)
    error: str | None
    submitted_at: datetime | None
    completed_at: datetime | None
    execution_s: int | None
