"""The Restate endpoint: every service this deployment serves.

- `query` (service): the durable promise; `query/query` is the public entry point.
- `watcher` (service): polls Athena until a query is final; internal.
- `completion` (virtual object, keyed by queryExecutionId): where events meet waiters; internal.
- `athenaEvents` (service): receives Athena's EventBridge state-change events.
- `webhookDelivery` (virtual object, keyed by webhook-id): pushes a result; `status` is public.
"""

import restate

from service.completion.events import athena_events
from service.completion.mailbox import completion
from service.completion.watcher import watcher
from service.push.delivery import webhook_delivery
from service.query import query
from service.settings import settings

# Request identity: with RESTATE_IDENTITY_KEYS set, the endpoint answers 401 to any request
# not signed by a restate-server holding one of the keys' private halves (health excepted).
app = restate.app(
    services=[query, watcher, completion, athena_events, webhook_delivery],
    identity_keys=settings().identity_keys,
)
