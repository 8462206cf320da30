"""The baseline: what a caller would write without Restate. Start, poll every 100 ms, read."""

import time
import uuid
from typing import Any

import boto3
from botocore.config import Config

# One client serves every thread of a row. With boto3's default of 10 pooled connections, the
# throughput row's 100 threads would open (and throw away) a connection for most calls.
MAX_THREADS = 100


def athena_client(endpoint_url: str) -> Any:
    return boto3.client(
        "athena",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(max_pool_connections=MAX_THREADS),
    )


def run_polling_loop(client: Any, sql: str, interval_s: float = 0.1) -> tuple[str, float]:
    """The execution id, and the seconds from the start call to all rows in hand."""
    began = time.perf_counter()
    qid = client.start_query_execution(
        QueryString=sql,
        ClientRequestToken=str(uuid.uuid4()),
        QueryExecutionContext={"Database": "demo_db"},
        WorkGroup="primary",
    )["QueryExecutionId"]
    while True:
        execution = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(interval_s)
    for _ in client.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
        pass
    return qid, time.perf_counter() - began
