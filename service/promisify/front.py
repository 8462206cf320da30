"""The public entry point: `POST /{front}/{handler}` with an idempotency key.

Idempotent by the caller's key (Restate keeps the answer for a day). It checks the request
before anything is journaled and hands it to the promise workflow keyed by its own invocation
id, which checks the callback_url and plans in its first step: a caller's key resolves to
that id, so attach by key and status by id reach the same promise. The plan is the
workflow's step whichever entry a promise came in by, so the two entries share one path and
the workflow's `run` takes nothing that was not checked: only this front may start it.
"""

from collections.abc import Callable
from typing import Any, Generic

import restate
from restate import TerminalError
from restate.serde import BytesSerde

from service.promisify.awaiting import outcome_of
from service.promisify.endings import RESTATE_CANCEL, is_cancellation
from service.promisify.job import Job, RequestT
from service.promisify.plan import Handed
from service.promisify.planner import Planner
from service.promisify.record import RETENTION, CancelRequest
from service.promisify.settings import PromiseSettings, ServiceNames


class Front(Generic[RequestT]):
    def __init__(
        self,
        names: ServiceNames,
        job: Job[RequestT, Any, Any, Any],
        settings: Callable[[], PromiseSettings],
    ) -> None:
        self._promise = names.promise
        self.planner = Planner(job, settings)
        self.service = restate.Service(names.front)
        self.service.handler(
            names.front_handler,
            # Any content type: the body is parsed as JSON whatever curl's default says it is.
            accept="*/*",
            input_serde=BytesSerde(),
            output_serde=BytesSerde(),
            # How long an idempotency key keeps answering with its result: re-attach in a day.
            idempotency_retention=RETENTION,
        )(self.submit)

    async def submit(self, ctx: restate.Context, body: bytes) -> bytes:
        handed: Handed[RequestT] = Handed(request=self.planner.parse(body))
        invocation_id = ctx.request().id
        # The promise is keyed by this invocation: a caller's key resolves to it. A refusal
        # of its plan (the callback_url) comes back as the 400 it raised, and is answered.
        call = ctx.generic_call(
            self._promise, "run", handed.model_dump_json().encode(), key=invocation_id
        )
        try:
            return await outcome_of(call)
        except TerminalError as error:
            if not is_cancellation(error):
                raise
        # Restate's own cancel reached this invocation: end the promise as a cancel by key
        # does, then answer with its result like any other ending.
        reason = CancelRequest(reason=RESTATE_CANCEL).model_dump_json().encode()
        ctx.generic_send(self._promise, "cancel", reason, key=invocation_id)
        attached = ctx.attach_invocation(await call.invocation_id(), serde=BytesSerde())
        return await outcome_of(attached)
