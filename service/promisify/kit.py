"""One dependency's durable promise, assembled: its Restate services, ready to serve.

promise = DurablePromise(MyJob(), NAMES, my_settings)
app = restate.app(services=promise.services)
"""

from collections.abc import Callable
from typing import Generic

import restate
from pydantic import BaseModel

from service.promisify.delivery.delivery import Delivery
from service.promisify.direct import DirectPromise
from service.promisify.events import FixedPathEvents
from service.promisify.front import Front
from service.promisify.job import CollectedT, Job, RequestT, ResultT, StatusT
from service.promisify.mailbox import Mailbox
from service.promisify.settings import PromiseSettings, ServiceNames
from service.promisify.sweeper import Sweeper
from service.promisify.telemetry import instrumented
from service.promisify.workflow import PromiseWorkflow

Service = restate.Service | restate.VirtualObject | restate.Workflow

# What the kit reads of every request, by these names: where to push, and the deadline.
PROMISE_FIELDS = ("callback_url", "timeout_s")


def require_promise_fields(request_type: type[BaseModel]) -> None:
    """A request model without them would silently never push or never time out: refuse it
    when the service is built, not when the first caller notices."""
    missing = [name for name in PROMISE_FIELDS if name not in request_type.model_fields]
    if missing:
        raise TypeError(
            f"{request_type.__name__} needs the fields {', '.join(missing)} (optional, "
            "None by default): the promise reads where to push and its deadline from them"
        )


class DurablePromise(Generic[RequestT, StatusT, CollectedT, ResultT]):
    def __init__(
        self,
        job: Job[RequestT, StatusT, CollectedT, ResultT],
        names: ServiceNames,
        settings: Callable[[], PromiseSettings],
    ) -> None:
        require_promise_fields(job.request_type)
        # Every call to the dependency counted, timed and traced, wherever the kit makes it.
        job = instrumented(job)
        self.job, self.names = job, names
        self.mailbox = Mailbox(names, job, settings)
        self.sweeper = Sweeper(names, job, settings, self.mailbox)
        self.delivery = Delivery(names, settings)
        self.promise = PromiseWorkflow(
            names, job, settings, self.mailbox, self.sweeper, self.delivery
        )
        self.front = Front(names, job, settings)
        self.direct = (
            DirectPromise(names, job, settings, self.mailbox, self.sweeper, self.delivery)
            if names.direct
            else None
        )
        self.events = (
            FixedPathEvents(names.events, names.events_handler, job, self.mailbox)
            if names.events
            else None
        )

    @property
    def services(self) -> list[Service]:
        services: list[Service] = [
            self.front.service,
            self.promise.workflow,
            self.sweeper.object,
            self.mailbox.object,
        ]
        if self.direct is not None:
            services.append(self.direct.workflow)
        if self.events is not None:
            services.append(self.events.service)
        services.append(self.delivery.object)
        return services
