"""`python -m benchmarks.temporal_peer.starter [--query SQL] [--callback-url URL]`: one query.

The caller's side: start the workflow under an id of the caller's choosing (the idempotency
key: a second start with the same id is refused, never a second query) and wait for its
result, the `QueryResult`, printed as JSON.
"""

import argparse
import asyncio
import uuid

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from benchmarks.temporal_peer import TASK_QUEUE
from benchmarks.temporal_peer.shared import QueryInput, QueryResult
from benchmarks.temporal_peer.workflows import AthenaQueryWorkflow


async def connect(target: str) -> Client:
    return await Client.connect(target, data_converter=pydantic_data_converter)


async def run_query(client: Client, request: QueryInput, key: str | None = None) -> QueryResult:
    return await client.execute_workflow(
        AthenaQueryWorkflow.run,
        request,
        id=key or f"athena-query-{uuid.uuid4()}",
        task_queue=TASK_QUEUE,
    )


async def main(client: Client | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="localhost:7233", help="the Temporal frontend")
    parser.add_argument("--query", default=QueryInput().query)
    parser.add_argument("--callback-url")
    parser.add_argument("--key", help="the workflow id (default: a fresh one)")
    args = parser.parse_args()
    client = client or await connect(args.target)
    request = QueryInput(query=args.query, callback_url=args.callback_url)
    print((await run_query(client, request, args.key)).model_dump_json(indent=2))


if __name__ == "__main__":
    asyncio.run(main())
