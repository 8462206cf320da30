"""The Restate endpoint: every service this deployment serves."""

import restate

from service.completion import completion
from service.delivery import webhook_delivery
from service.events import athena_events
from service.query import query
from service.watcher import watcher

app = restate.app(services=[query, watcher, completion, athena_events, webhook_delivery])
