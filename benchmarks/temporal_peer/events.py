"""`python -m benchmarks.temporal_peer.events`: Athena's state-change events as signals.

Where EventBridge's rule (here, the local Athena) POSTs each "Athena Query State Change"
event. The event names only Athena's execution id, so the bridge finds the workflow by the
search attribute the workflow set (`AthenaQueryExecutionId`) and signals it. Temporal's
visibility is eventually consistent: the bridge looks again for up to 2.6 s, then answers an
event it still cannot place with a 503, and the sender retries it (as EventBridge retries an
API destination), so the bridge keeps nothing in memory and any number of them can run.
"""

import argparse
import asyncio
import uuid
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from benchmarks.temporal_peer import QUERY_EXECUTION_ID
from benchmarks.temporal_peer.workflows import AthenaQueryWorkflow
from service.athena.events import StateChangeEvent

CLIENT = web.AppKey("client", Client)
STATS = web.AppKey("stats", dict[str, int])
# A workflow is indexed a few ms after it set the attribute: look again for up to ~2.6 s
# (within the sender's 5 s timeout) before answering 503; a zero-time query's event often
# comes before its workflow has even set it.
LOOKUP_BACKOFF_S = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5, 0.5)
routes = web.RouteTableDef()


@routes.post("/events")
async def athena_event(request: web.Request) -> web.Response:
    try:
        event = StateChangeEvent.model_validate_json(await request.read())
        qid = str(uuid.UUID(event.query_execution_id))  # a UUID, so safe in the query below
    except (ValidationError, ValueError):
        return web.Response(status=400, text="Not an Athena state-change event.")
    if not event.is_athena_state_change:
        return web.Response(status=204)
    client, stats = request.app[CLIENT], request.app[STATS]
    stats["events"] += 1
    for wait_s in LOOKUP_BACKOFF_S:
        stats["lookups"] += 1
        async for found in client.list_workflows(f"{QUERY_EXECUTION_ID} = '{qid}'", limit=1):
            await signal(client.get_workflow_handle(found.id), event.detail.current_state)
            return web.Response(status=204)
        await asyncio.sleep(wait_s)
    stats["unfound"] += 1
    return web.Response(status=503, text=f"No workflow is indexed for {qid} yet; retry.")


async def signal(handle: WorkflowHandle[Any, Any], state: str) -> None:
    try:
        await handle.signal(AthenaQueryWorkflow.query_state_changed, state)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it has already ended
            raise


@routes.get("/stats")
async def show_stats(request: web.Request) -> web.Response:
    """Events taken, visibility look-ups made, and events answered 503 (retried later)."""
    return web.json_response(request.app[STATS])


@routes.get("/health")
async def health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(client: Client) -> web.Application:
    app = web.Application()
    app[CLIENT] = client
    app[STATS] = {"events": 0, "lookups": 0, "unfound": 0}
    app.add_routes(routes)
    return app


async def serve(target: str) -> web.Application:
    return create_app(await Client.connect(target, data_converter=pydantic_data_converter))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="localhost:7233", help="the Temporal frontend")
    parser.add_argument("--port", type=int, default=9300)
    args = parser.parse_args()
    web.run_app(serve(args.target), host="127.0.0.1", port=args.port, print=None)
