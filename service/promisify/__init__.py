"""Promisify anything: a slow dependency's job as a durable promise, with Restate.

The kit knows nothing of the dependency (an import contract checks it): an adapter
implements `Job` (start with a token, describe one or many, stop, what each state means,
read the result, read an event, shape the result) and `DurablePromise` builds the Restate
services around it: the front, the promise workflow, the mailbox, the sweeper, the optional
fixed-path events entry, and push delivery.
"""

from service.promisify.job import (
    BatchUnsupported,
    Collected,
    EventRefused,
    Job,
    JobRefused,
    JobStatus,
    Meaning,
    News,
    ResultState,
    Settled,
    Steps,
)
from service.promisify.kit import DurablePromise
from service.promisify.settings import PromiseSettings, ServiceNames

__all__ = [
    "BatchUnsupported",
    "Collected",
    "DurablePromise",
    "EventRefused",
    "Job",
    "JobRefused",
    "JobStatus",
    "Meaning",
    "News",
    "PromiseSettings",
    "ResultState",
    "ServiceNames",
    "Settled",
    "Steps",
]
