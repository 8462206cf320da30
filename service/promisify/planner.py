"""What is decided before a promise begins, in one durable step: the request parsed (a bad
one is a 400 naming the field, before anything is journaled), the callback_url checked (a
refusal is a 400 and nothing starts), the adapter's defaults, then the plan. The promise's
workflow takes this step first, whichever entry it came in by: the front parses the request
in its own invocation and hands it over, the direct entry parses it in the workflow's.
"""

import asyncio
from collections.abc import Callable
from typing import Any, Generic

import restate
from restate import RunOptions, TerminalError

from service.promisify.delivery.callback_url import (
    CallbackUrlRefused,
    check_callback_url,
    must_resolve,
)
from service.promisify.job import Job, RequestT
from service.promisify.plan import Planned, plan_promise
from service.promisify.settings import PromiseSettings
from service.promisify.validation import parse_body


class Planner(Generic[RequestT]):
    def __init__(
        self, job: Job[RequestT, Any, Any, Any], settings: Callable[[], PromiseSettings]
    ) -> None:
        self.job, self._settings = job, settings
        self.planned_type = Planned[job.request_type]  # type: ignore[name-defined]

    def check_and_plan(self, request: RequestT) -> Planned[RequestT]:
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

    def parse(self, body: bytes) -> RequestT:
        return parse_body(self.job.request_type, body, f"{self.job.noun} request")

    async def step(self, ctx: restate.Context, request: RequestT) -> Planned[RequestT]:
        # One step: the settings and the callback_url's verdict (DNS answers change) journaled
        # together, so a replay reaches the same ones.
        options = RunOptions(type_hint=self.planned_type)
        return await ctx.run_typed("check and plan", self.checked_plan, options, request)

    async def checked_plan(self, request: RequestT) -> Planned[RequestT]:
        """`check_and_plan` on the event loop, unless the callback_url's host must be resolved:
        getaddrinfo blocks, so that check goes to a thread, as the SDK runs a sync step. A hop
        to a thread and back is a wake-up of each, on the way to every start."""
        if must_resolve(getattr(request, "callback_url", None)):
            return await asyncio.to_thread(self.check_and_plan, request)
        return self.check_and_plan(request)
