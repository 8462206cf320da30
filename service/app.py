"""The Restate endpoint: every service this deployment serves.

- `query` (service): `query/query` is the public entry point, idempotent by the caller's key.
- `promise` (workflow, keyed by that invocation's id): the durable promise itself (`run`), and
  its public `status` and `cancel`.
- `sweeper` (virtual object, keyed by shard): checks many parked queries a call; internal.
- `completion` (virtual object, keyed by queryExecutionId): where news of the end meets the
  waiter; `onEvent` takes EventBridge's events straight from the rule.
- `athenaEvents` (service): receives Athena's EventBridge state-change events.
- `webhookDelivery` (virtual object, keyed by webhook-id): pushes a result; `status` is public.
"""

import restate

from service.completion.events import athena_events
from service.completion.mailbox import completion
from service.completion.sweeper import sweeper
from service.promise import promise
from service.push.delivery import webhook_delivery
from service.query import query
from service.settings import settings

# Request identity: with RESTATE_IDENTITY_KEYS set, the endpoint answers 401 to any request
# not signed by a restate-server holding one of the keys' private halves (health excepted).
SERVICES: list[restate.Service | restate.VirtualObject | restate.Workflow] = [
    query,
    promise,
    sweeper,
    completion,
    athena_events,
    webhook_delivery,
]

app = restate.app(
    services=SERVICES,
    identity_keys=settings().identity_keys,
)
