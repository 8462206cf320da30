"""The Restate endpoint: every service this deployment serves.

- `query` (service): the durable promise; `query/query` is the public entry point.
- `watcher` (service): polls Athena until a query is final; internal.
- `completion` (virtual object, keyed by queryExecutionId): where events meet waiters; internal.
- `athenaEvents` (service): receives Athena's EventBridge state-change events.
- `webhookDelivery` (virtual object, keyed by webhook-id): pushes a result; `status` is public.
"""

import restate

from service.completion import completion
from service.delivery import webhook_delivery
from service.events import athena_events
from service.query import query
from service.watcher import watcher

app = restate.app(services=[query, watcher, completion, athena_events, webhook_delivery])
