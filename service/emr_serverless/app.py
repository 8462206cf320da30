"""The Restate endpoint of EMR Serverless job runs as durable promises.

- `emrJobRun/run`: the public entry point, idempotent by the caller's key.
- `emrJobRunPromise/{invocation id}`: the promise (`run`), and its `status` and `cancel`.
- `emrJobRunCompletion/{application_id}:{job_run_id}/onEvent`: where an event meets the waiter.
- `emrJobRunEvents/onStateChange`: the EventBridge rule's fixed path (it cannot build that key).
- `emrJobRunSweeper`, `emrJobRunWebhookDelivery`: the checks, and push delivery.
"""

import functools
import re

import restate

from service.emr_serverless.client import JobRunStatus
from service.emr_serverless.job import EmrServerlessJob
from service.emr_serverless.models import JobRunRequest, JobRunResult
from service.emr_serverless.settings import settings
from service.promisify import Collected, DurablePromise, PromiseSettings, ServiceNames

NAMES = ServiceNames(
    front="emrJobRun",
    front_handler="run",
    promise="emrJobRunPromise",
    mailbox="emrJobRunCompletion",
    sweeper="emrJobRunSweeper",
    delivery="emrJobRunWebhookDelivery",
    events="emrJobRunEvents",
)


@functools.lru_cache(maxsize=1)
def promise_settings() -> PromiseSettings:
    return settings().promise_settings()


emr_promise: DurablePromise[JobRunRequest, JobRunStatus, Collected, JobRunResult] = DurablePromise(
    EmrServerlessJob(), NAMES, promise_settings
)

keys = [key for key in re.split(r"[\s,]+", settings().identity_keys) if key]
app = restate.app(services=emr_promise.services, identity_keys=keys)
