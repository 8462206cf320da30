"""Completion events at one fixed path, for event rules that cannot put the job's id in the
URL; `/{mailbox}/{job id}/onEvent` takes them one hop sooner. One path into the mailbox:
both read the event with the same function."""

from typing import Any

import restate
from restate.serde import BytesSerde

from service.promisify.job import Job
from service.promisify.mailbox import Mailbox, read_event, tells_something

log = restate.getLogger(__name__)


class FixedPathEvents:
    def __init__(
        self, name: str, handler: str, job: Job[Any, Any, Any, Any], mailbox: Mailbox
    ) -> None:
        self.job, self.mailbox = job, mailbox
        self.service = restate.Service(name)
        self.service.handler(handler, accept="*/*", input_serde=BytesSerde())(self.on_event)

    async def on_event(self, ctx: restate.Context, body: bytes) -> None:
        news = read_event(self.job, body)
        if news is None:
            log.info("Ignoring an event that is not a %s state change", self.job.name)
            return
        if tells_something(self.job, news):
            ctx.object_send(self.mailbox.on_forwarded, news.job_id, news.state)
