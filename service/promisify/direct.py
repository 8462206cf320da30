"""The direct entry: `POST /{direct}/{key}/run`, the promise as a workflow keyed by the caller.

Beside the front (`POST /{front}/{front_handler}` with an idempotency key), the same promise
without the front's own invocation in between: the caller's key is the workflow's key, so
Restate runs it once. A second run under the key starts nothing: Restate answers it with a
409, and the caller attaches (`GET /restate/workflow/{direct}/{key}/attach`). Status, cancel
and redelivery are `/{direct}/{key}/...`. About 2 ms of restate-server's and the service's
CPU a pushed query fewer than through the front: one invocation fewer (docs/benchmarks.md).

The request is checked and planned in the promise's first step, as a promise from the front
is: a refusal is a 400 naming the field and nothing starts, and the key keeps that answer
for its retention (a fixed request needs a new key, as through the front).
"""

from typing import Any, Generic

import restate
from restate import TerminalError
from restate.serde import BytesSerde

from service.promisify.delivery.models import MAX_KEY_BYTES, webhook_id_for
from service.promisify.job import CollectedT, RequestT, ResultT, StatusT
from service.promisify.plan import PromiseStart
from service.promisify.record import RETENTION
from service.promisify.settings import ServiceNames
from service.promisify.workflow import PromiseWorkflow, ResultSerde


class DirectPromise(
    PromiseWorkflow[RequestT, StatusT, CollectedT, ResultT],
    Generic[RequestT, StatusT, CollectedT, ResultT],
):
    def workflow_name(self, names: ServiceNames) -> str:
        assert names.direct is not None
        return names.direct

    def entry(self, names: ServiceNames) -> str:
        return f"run of {names.direct} with this key"

    def register_main(self, wf: restate.Workflow) -> None:
        wf.main(
            "run",
            # Any content type, as the front takes: the body is parsed as JSON.
            accept="*/*",
            input_serde=BytesSerde(),
            output_serde=ResultSerde(self.job.result_type),
            workflow_retention=RETENTION,
        )(self.submit)

    def webhook_id(self, ctx: restate.WorkflowContext, start: PromiseStart[RequestT]) -> str:
        # The key too: the delivery's status finds this workflow by it.
        return webhook_id_for(start.invocation_id, ctx.key())

    async def submit(self, ctx: restate.WorkflowContext, body: bytes) -> Any:
        size = len(ctx.key().encode())
        if size > MAX_KEY_BYTES:
            raise TerminalError(
                f"The key is {size} bytes; the direct entry takes at most {MAX_KEY_BYTES}, "
                "because the webhook-id carries it. Use a shorter key, or submit through "
                f"POST /{self.names.front}/{self.names.front_handler} with it as the "
                "idempotency-key.",
                400,
            )
        # Parsed here, where the front parses in its own invocation; planned as any promise is.
        planned = await self.planner.step(ctx, self.planner.parse(body))
        # This run's own invocation id stands where the front's would: the start token and
        # the webhook-id come from it, stable across retries.
        start: PromiseStart[RequestT] = PromiseStart(
            request=planned.request, invocation_id=ctx.request().id, plan=planned.plan
        )
        return await self.run(ctx, start)
