"""One dependency's durable promise, assembled: its Restate services, ready to serve.

promise = DurablePromise(MyJob(), NAMES, my_settings)
app = restate.app(services=promise.services)
"""

from collections.abc import Callable
from typing import Generic

import restate

from service.promisify.delivery.delivery import Delivery
from service.promisify.events import FixedPathEvents
from service.promisify.front import Front
from service.promisify.job import CollectedT, Job, RequestT, ResultT, StatusT
from service.promisify.mailbox import Mailbox
from service.promisify.settings import PromiseSettings, ServiceNames
from service.promisify.sweeper import Sweeper
from service.promisify.workflow import PromiseWorkflow

Service = restate.Service | restate.VirtualObject | restate.Workflow


class DurablePromise(Generic[RequestT, StatusT, CollectedT, ResultT]):
    def __init__(
        self,
        job: Job[RequestT, StatusT, CollectedT, ResultT],
        names: ServiceNames,
        settings: Callable[[], PromiseSettings],
    ) -> None:
        self.job, self.names = job, names
        self.mailbox = Mailbox(names, job)
        self.sweeper = Sweeper(names, job, settings, self.mailbox)
        self.delivery = Delivery(names, settings)
        self.promise = PromiseWorkflow(
            names, job, settings, self.mailbox, self.sweeper, self.delivery
        )
        self.front = Front(names, job, settings)
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
        if self.events is not None:
            services.append(self.events.service)
        services.append(self.delivery.object)
        return services
