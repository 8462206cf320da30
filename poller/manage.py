"""``python -m poller status|cancel --key K``: ask where a promise stands, or cancel it.

The key resolves to the promise's invocation over the public ingress, without side effects
(poller.operations.resolve_invocation); the client's `status` and `cancel` do the rest.
"""

import argparse
import json
import sys

from poller.arguments import add_connection_arguments, add_entry_argument, idempotency_key
from poller.exit_codes import ExitCode
from poller.sync import Client


def build_parser(command: str) -> argparse.ArgumentParser:
    descriptions = {
        "status": "Print where the promise of key K stands, as JSON: phase, Athena state, "
        "elapsed time, rows fetched, delivery. Asks Restate only, never Athena.",
        "cancel": "Cancel the promise of key K: the query is stopped, and the result "
        "(state CANCELLED, or Athena's own if it had already finished) is printed and pushed.",
    }
    parser = argparse.ArgumentParser(
        prog=f"python -m poller {command}", description=descriptions[command]
    )
    parser.add_argument("--key", metavar="K", type=idempotency_key, required=True)
    if command == "cancel":
        parser.add_argument("--reason", metavar="TEXT", help="why; recorded in the result")
    add_entry_argument(parser)
    add_connection_arguments(parser)
    return parser


def show_status(client: Client, args: argparse.Namespace) -> int:
    # Printed as the service said it (the typed `client.status` is for programs).
    status = client.run(client.calls.status_json(args.key))
    print(json.dumps(status, indent=2))
    return ExitCode.SUCCEEDED


def request_cancel(client: Client, args: argparse.Namespace) -> dict[str, object]:
    """Ask for the cancel; the answer says whether it came in time."""
    answer = client.run(client.calls.cancel_json(args.key, args.reason))
    print(str(answer.get("message", answer)), file=sys.stderr, flush=True)
    return answer
