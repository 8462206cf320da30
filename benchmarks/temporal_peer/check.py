"""`python -m benchmarks.temporal_peer.check`: one query through the Temporal peer, end to end.

Not under `tests/`: `make test` installs no `bench` extra, so there the dev server and the
SDK are absent and such a test could only be skipped. This runs the real processes instead
(the local stack's Athena and listener, Temporal's dev server, the worker and the bridge)
and exits non-zero if any check fails:
- the result is the service's QueryResult, SUCCEEDED with the demo query's answer (42);
- the workflow learned of the end from Athena's event (a signal in its history), not a poll;
- the webhook the listener verified carries the same bytes the caller pulled;
- Athena was called three times (start, status, one page);
- a second run of the same workflow id starts nothing new: the same execution comes back.
"""

import shutil
import sys

from benchmarks.measure import athena_calls, scratch_workdir
from benchmarks.temporal_peer.bench import QUICK, ClientLoop, athena_config, history
from benchmarks.temporal_peer.processes import TemporalPeer
from benchmarks.temporal_peer.shared import QueryInput
from benchmarks.temporal_peer.starter import run_query
from infra.local.stack import LocalStack, Ports, StackConfig
from service.models import webhook_id_for


def check(stack: LocalStack, peer: TemporalPeer, client: ClientLoop) -> list[str]:
    """What went wrong; empty when every check passed."""
    athena_config(stack, events_url=peer.events_url, events_states="SUCCEEDED,FAILED,CANCELLED")
    key = "athena-query-check"
    request = QueryInput(callback_url=f"{stack.listener_url}/callback")
    result = client.run(run_query(client.client, request, key))
    problems = []
    if result.state != "SUCCEEDED" or result.rows != [[42]] or result.invocation_id != key:
        problems.append(f"unexpected result: {result.model_dump_json()}")
    _, signalled = client.run(history(client.client, key))
    if signalled is None:
        problems.append("the workflow was never signalled: Athena's event did not reach it")
    pushed = stack.wait_for_delivery(webhook_id_for(key))["body"]
    if pushed != result.model_dump_json():
        problems.append(f"pushed and pulled differ: {pushed} vs {result.model_dump_json()}")
    assert result.query_execution_id is not None
    calls, _ = athena_calls(stack, result.query_execution_id)
    if calls != 3:
        problems.append(f"{calls} Athena calls, not 3 (start, status, one page)")
    again = client.run(run_query(client.client, QueryInput(), key))
    if again.query_execution_id != result.query_execution_id:
        problems.append(f"a second run started {again.query_execution_id}, a new query")
    athena_config(stack, **QUICK)
    return problems


def main() -> int:
    workdir = scratch_workdir("temporal-check-")
    config = StackConfig(
        base_dir=workdir / "restate", data_dir=workdir / "data", ports=Ports.free()
    )
    try:
        with LocalStack(config) as stack, TemporalPeer(stack, stack.log_dir) as peer:
            client = ClientLoop(peer.target)
            try:
                problems = check(stack, peer, client)
            finally:
                client.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    print("1 passed, 0 failed" if not problems else "0 passed, 1 failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
