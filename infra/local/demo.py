"""The main job, end to end: one query, pulled by the long-polling client and pushed by webhook."""

import json
import shlex
import subprocess
import sys
import urllib.request
import uuid
from typing import Any

from infra.local.athena import local_path_for
from infra.local.stack import LocalStack, StackConfig
from service.models import DEMO_QUERY, webhook_id_for

SHOWN_FIELDS = ("state", "rows", "row_count", "truncated", "query_execution_id", "completed_at")


def poll(stack: LocalStack, key: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "poller", "--ingress", stack.ingress_url, "--key", key, *extra]
    print(f"\n$ {shlex.join(['python', '-m', 'poller', '--key', key, *extra])}", flush=True)
    # stderr (attempts, backoff, progress) goes straight to the terminal; stdout is the result.
    return subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)


def show_side_by_side(pulled: dict[str, Any], pushed: dict[str, Any]) -> None:
    print(f"\n{'':20} {'pulled (long-polling client)':40} {'pushed (signed webhook)':40}")
    for name in SHOWN_FIELDS:
        print(f"{name:20} {json.dumps(pulled[name]):40} {json.dumps(pushed[name]):40}".rstrip())


def run_demo(config: StackConfig) -> int:
    with LocalStack(config) as stack:
        print(f"Local stack is up: ingress {stack.ingress_url}, Athena {stack.athena_url}")
        key = f"demo-{uuid.uuid4()}"
        callback = f"{stack.listener_url}/callback"
        # The demo query, with a 0.5 s request timeout: the retries show while Athena works.
        first = poll(
            stack, key, "--query", DEMO_QUERY, "--callback-url", callback, "--timeout", "0.5"
        )
        print(first.stdout, end="")
        if first.returncode != 0:
            print(f"The demo query did not succeed (exit {first.returncode}).", file=sys.stderr)
            return first.returncode
        pulled = json.loads(first.stdout)
        delivery = stack.wait_for_delivery(webhook_id_for(pulled["invocation_id"]))
        show_side_by_side(pulled, json.loads(delivery["body"]))
        same_bytes = delivery["body"] + "\n" == first.stdout
        verdict = "byte-identical" if same_bytes else "DIFFERENT"
        print(f"\nPushed and pulled results are {verdict} ({len(delivery['body'])} bytes).")
        print(f"The answer is {pulled['rows'][0][0]:g}.")
        results_file = local_path_for(pulled["output_location"], stack.athena_results_dir)
        print(f"Athena's result file (CSV): {results_file}")

        # The same key again: Restate answers from the finished invocation, Athena runs nothing.
        again = poll(
            stack, key, "--query", DEMO_QUERY, "--callback-url", callback, "--timeout", "0.5"
        )
        cached = again.stdout == first.stdout
        print(f"Second run with the same key: {'the same' if cached else 'a DIFFERENT'} result.")
        print(f"Queries Athena ran for this key: {athena_executions(stack, DEMO_QUERY)}.")
        return 0 if same_bytes and cached else 1


def athena_executions(stack: LocalStack, sql: str) -> int:
    with urllib.request.urlopen(f"{stack.athena_url}/_local/stats", timeout=5) as response:
        executions = json.load(response)["executions"].values()
    return sum(1 for execution in executions if execution["query"] == sql)
