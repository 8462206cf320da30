"""`python -m benchmarks.temporal_peer.worker`: the workflow and its activities on one worker.

Sized for the benchmark's 100 queries in flight: 100 workflow-task and 100 activity slots
(the SDK's defaults, said out loud), pollers that scale with the backlog, a thread for every
Athena call the activities may make at once, one boto3 client and one HTTP session shared by
every activity. Athena is reached
the standard way, through `AWS_ENDPOINT_URL_ATHENA`.
"""

import argparse
import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import boto3
from botocore.config import Config
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import PollerBehaviorAutoscaling, Worker

from benchmarks.temporal_peer import TASK_QUEUE
from benchmarks.temporal_peer.activities import AthenaActivities
from benchmarks.temporal_peer.workflows import AthenaQueryWorkflow

IN_FLIGHT = 100
# Each activity makes at most two Athena calls at once (the status and the first page).
ATHENA_THREADS = 2 * IN_FLIGHT


async def main(client: Client | None = None, *, target: str = "localhost:7233") -> None:
    if client is None:
        client = await Client.connect(target, data_converter=pydantic_data_converter)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(ATHENA_THREADS))
    athena = boto3.client(
        "athena",
        config=Config(retries={"mode": "standard"}, max_pool_connections=ATHENA_THREADS),
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        activities = AthenaActivities(athena, session, os.environ["WEBHOOK_SECRET"])
        worker = Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[AthenaQueryWorkflow],
            activities=[
                activities.start_query,
                activities.get_query_state,
                activities.read_result,
                activities.deliver_webhook,
            ],
            max_concurrent_workflow_tasks=IN_FLIGHT,
            max_concurrent_activities=IN_FLIGHT,
            # Temporal's advice when tasks wait in the queue: let the pollers scale with the
            # backlog (the default is 5 fixed, of which 1 takes new workflows' first tasks).
            workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
            activity_task_poller_behavior=PollerBehaviorAutoscaling(),
        )
        await worker.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="localhost:7233", help="the Temporal frontend")
    asyncio.run(main(target=parser.parse_args().target))
