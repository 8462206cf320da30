"""Promisify anything: a slow dependency's job as a durable promise, with Restate.

The kit knows nothing of the dependency (an import contract checks it): an adapter
implements `Job` (start with a token, describe one or many, stop, what each state means,
read the result, read an event, shape the result) and `DurablePromise` builds the Restate
services around it: the front, the promise workflow, the mailbox, the sweeper, the optional
fixed-path events entry, and push delivery.
"""

from service.promisify.delivery.callback_url import CallbackUrlRefused, check_static
from service.promisify.job import (
    BatchUnsupported,
    Collected,
    EventRefused,
    Job,
    JobDefaults,
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
from service.promisify.validation import describe_validation_error

__all__ = [
    "BatchUnsupported",
    "CallbackUrlRefused",
    "Collected",
    "DurablePromise",
    "EventRefused",
    "Job",
    "JobDefaults",
    "JobRefused",
    "JobStatus",
    "Meaning",
    "News",
    "PromiseSettings",
    "ResultState",
    "ServiceNames",
    "Settled",
    "Steps",
    "check_static",
    "describe_validation_error",
]
