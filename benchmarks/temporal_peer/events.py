"""`python -m benchmarks.temporal_peer.events`: Athena's state-change events as signals.

Where EventBridge's rule (here, the local Athena) POSTs each "Athena Query State Change"
event. The event names only Athena's execution id, so the bridge finds the workflow by the
search attribute the workflow set (`AthenaQueryExecutionId`) and signals it. Temporal's
visibility is eventually consistent: an event that arrives before the workflow is indexed
gets a 503, and the sender retries it (as EventBridge retries an API destination), so the
bridge keeps nothing in memory and any number of them can run.
"""

import argparse
import uuid

from aiohttp import web
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from benchmarks.temporal_peer import QUERY_EXECUTION_ID
from benchmarks.temporal_peer.workflows import AthenaQueryWorkflow
from service.athena.events import StateChangeEvent

CLIENT = web.AppKey("client", Client)
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
    client = request.app[CLIENT]
    found = client.list_workflows(f"{QUERY_EXECUTION_ID} = '{qid}'", limit=1)
    async for execution in found:
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            await handle.signal(AthenaQueryWorkflow.query_state_changed, event.detail.current_state)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it has already ended
                raise
        return web.Response(status=204)
    return web.Response(status=503, text=f"No workflow is indexed for {qid} yet; retry.")


@routes.get("/health")
async def health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(client: Client) -> web.Application:
    app = web.Application()
    app[CLIENT] = client
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
