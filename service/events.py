"""Athena's "Athena Query State Change" events, from EventBridge or the local Athena."""

import restate
from pydantic import BaseModel, ConfigDict, Field

from service.athena import FINAL_STATES
from service.completion import on_final_state

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


@athena_events.handler("onStateChange")
async def on_state_change(ctx: restate.Context, event: StateChangeEvent) -> None:
    if event.source != "aws.athena" or event.detail_type != "Athena Query State Change":
        log.info("Ignoring event %s: %s from %s", event.id, event.detail_type, event.source)
        return
    detail = event.detail
    # Only a final state completes a promise; QUEUED and RUNNING, in whatever order, are noise.
    if detail.current_state not in FINAL_STATES:
        return
    ctx.object_send(on_final_state, detail.query_execution_id, detail.current_state)
