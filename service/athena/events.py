"""Athena's "Athena Query State Change" event, as EventBridge (or the local Athena) sends it.

Hostile input is expected here: the events endpoint is public. Fields are checked before any
of them is used as a key: Athena's ids are UUIDs and its states a short list.
"""

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.promisify import EventRefused, News
from service.promisify.validation import describe_validation_error

ATHENA_SOURCE = "aws.athena"
STATE_CHANGE = "Athena Query State Change"


class StateChangeDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    query_execution_id: str = Field(alias="queryExecutionId", max_length=64)
    current_state: str = Field(alias="currentState", max_length=32)
    previous_state: str | None = Field(None, alias="previousState", max_length=32)
    workgroup_name: str | None = Field(None, alias="workgroupName", max_length=128)
    sequence_number: str | None = Field(None, alias="sequenceNumber", max_length=32)


class StateChangeEvent(BaseModel):
    """The EventBridge envelope; only the fields this service reads are required."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(None, max_length=128)
    source: str = Field(max_length=256)
    detail_type: str = Field(alias="detail-type", max_length=256)
    detail: StateChangeDetail

    @property
    def is_athena_state_change(self) -> bool:
        return self.source == ATHENA_SOURCE and self.detail_type == STATE_CHANGE

    @property
    def query_execution_id(self) -> str:
        return self.detail.query_execution_id


def read_state_change(body: bytes) -> News | None:
    """The event's query and state; None for an event that is not Athena's state change.
    A malformed one is refused with a sentence naming the field."""
    try:
        event = StateChangeEvent.model_validate_json(body)
    except ValidationError as error:
        subject = "Athena state-change event"
        raise EventRefused(describe_validation_error(error, subject, StateChangeEvent)) from None
    if not event.is_athena_state_change:
        return None
    if not _is_uuid(event.query_execution_id):
        raise EventRefused(
            "Invalid Athena state-change event. detail.queryExecutionId: is not a UUID"
        )
    return News(job_id=event.query_execution_id, state=event.detail.current_state)


_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _is_uuid(text: str) -> bool:
    return _UUID.fullmatch(text) is not None
