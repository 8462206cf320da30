"""Athena's "Athena Query State Change" events, from EventBridge or the local Athena."""

import restate
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from restate import TerminalError
from restate.serde import BytesSerde

from service.athena.client import FINAL_STATES
from service.completion import mailbox
from service.models import describe_validation_error

athena_events = restate.Service("athenaEvents")

log = restate.getLogger(__name__)


class StateChangeDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    query_execution_id: str = Field(alias="queryExecutionId")
    current_state: str = Field(alias="currentState")
    previous_state: str | None = Field(None, alias="previousState")
    workgroup_name: str | None = Field(None, alias="workgroupName")
    sequence_number: str | None = Field(None, alias="sequenceNumber")


class StateChangeEvent(BaseModel):
    """The EventBridge envelope; only the fields this service reads are required."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    source: str
    detail_type: str = Field(alias="detail-type")
    detail: StateChangeDetail


def parse_event(body: bytes) -> StateChangeEvent:
    # A malformed event is a 400: EventBridge does not retry it, and it lands in the DLQ.
    try:
        return StateChangeEvent.model_validate_json(body)
    except ValidationError as error:
        message = describe_validation_error(error, "Athena state-change event")
        raise TerminalError(message, 400) from None


@athena_events.handler("onStateChange", input_serde=BytesSerde())
async def on_state_change(ctx: restate.Context, body: bytes) -> None:
    event = parse_event(body)
    if event.source != "aws.athena" or event.detail_type != "Athena Query State Change":
        log.info("Ignoring event %s: %s from %s", event.id, event.detail_type, event.source)
        return
    detail = event.detail
    # A final state completes the promise; RUNNING is what status shows meanwhile. QUEUED
    # tells nothing new: the promise knows it started the query.
    if detail.current_state not in (*FINAL_STATES, "RUNNING"):
        return
    ctx.object_send(mailbox.on_state_change, detail.query_execution_id, detail.current_state)
