"""The Restate endpoint: Athena's durable promise, every service it is made of.

- `query` (service): `query/query` is the public entry point, idempotent by the caller's key.
- `promise` (workflow, keyed by that invocation's id): the durable promise itself (`run`), and
  its public `status` and `cancel`.
- `sweeper` (virtual object, keyed by shard): checks many parked queries a call; internal.
- `completion` (virtual object, keyed by queryExecutionId): where news of the end meets the
  waiter; `onEvent` takes EventBridge's events straight from the rule.
- `athenaEvents` (service): Athena's EventBridge state-change events at one fixed path.
- `webhookDelivery` (virtual object, keyed by webhook-id): pushes a result; `status` is public.
"""

import functools

import restate

from service.athena.client import ExecutionStatus
from service.athena.job import AthenaJob
from service.athena.results import Rows
from service.models import QueryRequest, QueryResult
from service.promisify import DurablePromise, PromiseSettings, ServiceNames
from service.settings import settings

# The names the first deployment registered: they are ingress paths and running services.
ATHENA_NAMES = ServiceNames(
    front="query",
    front_handler="query",
    promise="promise",
    mailbox="completion",
    sweeper="sweeper",
    delivery="webhookDelivery",
    events="athenaEvents",
    direct="queries",
    mailbox_checked_handler="onAthenaState",
    last_state_handler="athenaState",
)


@functools.lru_cache(maxsize=1)
def promise_settings() -> PromiseSettings:
    return settings().promise_settings()


athena_promise: DurablePromise[QueryRequest, ExecutionStatus, Rows, QueryResult] = DurablePromise(
    AthenaJob(), ATHENA_NAMES, promise_settings
)
SERVICES = athena_promise.services

# Request identity: with RESTATE_IDENTITY_KEYS set, the endpoint answers 401 to any request
# not signed by a restate-server holding one of the keys' private halves (health excepted).
app = restate.app(services=SERVICES, identity_keys=settings().identity_keys)
