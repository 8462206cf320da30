"""Athena's state-change events at one fixed path, for rules that cannot put the query's id
in the URL; `completion/{queryExecutionId}/onEvent` takes them one hop sooner."""

import restate
from restate.serde import BytesSerde

from service.completion import mailbox
from service.completion.envelope import parse_event

athena_events = restate.Service("athenaEvents")

log = restate.getLogger(__name__)


@athena_events.handler("onStateChange", accept="*/*", input_serde=BytesSerde())
async def on_state_change(ctx: restate.Context, body: bytes) -> None:
    event = parse_event(body)
    if not event.is_athena_state_change:
        log.info("Ignoring event %s: %s from %s", event.id, event.detail_type, event.source)
        return
    if event.completes_or_informs:
        state = event.detail.current_state
        ctx.object_send(mailbox.on_state_change, event.query_execution_id, state)
