"""The public entry point: `POST /{front}/{handler}` with an idempotency key.

Idempotent by the caller's key (Restate keeps the answer for a day). It checks the request
before anything is journaled, checks the callback_url and plans in one step, and hands the
request to the promise workflow keyed by its own invocation id: a caller's key resolves to
that id, so attach by key and status by id reach the same promise.
"""

from collections.abc import Callable
from typing import Any, Generic

import restate
from restate import RunOptions, TerminalError
from restate.serde import BytesSerde

from service.promisify.delivery.callback_url import CallbackUrlRefused, check_callback_url
from service.promisify.endings import RESTATE_CANCEL, is_cancellation
from service.promisify.job import Job, RequestT
from service.promisify.plan import Planned, PromiseStart, plan_promise
from service.promisify.record import RETENTION, CancelRequest
from service.promisify.settings import PromiseSettings, ServiceNames
from service.promisify.validation import parse_body


class Front(Generic[RequestT]):
    def __init__(
        self,
        names: ServiceNames,
        job: Job[RequestT, Any, Any, Any],
        settings: Callable[[], PromiseSettings],
    ) -> None:
        self.job, self._settings, self._promise = job, settings, names.promise
        self.planned_type = Planned[job.request_type]  # type: ignore[name-defined]
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

    def check_and_plan(self, request: RequestT) -> Planned[RequestT]:
        """Everything decided before the promise begins: the callback_url checked (a refusal
        is a 400 and nothing starts), the adapter's defaults, then the plan."""
        settings = self._settings()
        callback_url: str | None = getattr(request, "callback_url", None)
        if callback_url:
            try:
                check_callback_url(callback_url, allow_private=settings.allow_private_callbacks)
            except CallbackUrlRefused as refusal:
                message = f"Invalid {self.job.noun} request. callback_url: {refusal}"
                raise TerminalError(message, 400) from None
        return self.planned_type(
            request=self.job.prepare(request), plan=plan_promise(settings, request)
        )

    async def submit(self, ctx: restate.Context, body: bytes) -> bytes:
        request = parse_body(self.job.request_type, body, f"{self.job.noun} request")
        # One step: the settings and the callback_url's verdict (DNS answers change) journaled
        # together, so a replay reaches the same ones.
        options = RunOptions(type_hint=self.planned_type)
        planned = await ctx.run_typed("check and plan", self.check_and_plan, options, request)
        invocation_id = ctx.request().id
        start: PromiseStart[RequestT] = PromiseStart(
            request=planned.request, invocation_id=invocation_id, plan=planned.plan
        )
        # The promise is keyed by this invocation: a caller's key resolves to it.
        call = ctx.generic_call(
            self._promise, "run", start.model_dump_json().encode(), key=invocation_id
        )
        try:
            return await call
        except TerminalError as error:
            if not is_cancellation(error):
                raise
        # Restate's own cancel reached this invocation: end the promise as a cancel by key
        # does, then answer with its result like any other ending.
        reason = CancelRequest(reason=RESTATE_CANCEL).model_dump_json().encode()
        ctx.generic_send(self._promise, "cancel", reason, key=invocation_id)
        return await ctx.attach_invocation(await call.invocation_id(), serde=BytesSerde())
