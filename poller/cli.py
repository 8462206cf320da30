"""``python -m poller``: submit an Athena query to Restate, or attach to one, and wait;
``python -m poller status|cancel|redeliver --key K``: where a promise stands, cancel it, or
push its result again.

Progress and errors go to stderr; the QueryResult goes to stdout exactly as the ingress
sent it, so that it can be compared byte for byte with the pushed webhook body.
"""

import argparse
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import requests

from poller import list_command, manage, redeliver
from poller.arguments import build_parser
from poller.exit_codes import ExitCode, exit_code_for_state
from poller.ingress import IngressCall, attach_call, submit_call
from poller.sync import Client
from poller.verdicts import PollFailure


def _query_request(args: argparse.Namespace) -> dict[str, Any] | None:
    """The QueryRequest to submit, or None when the user only wants to attach."""
    fields = {
        "query": args.query,
        "callback_url": args.callback_url,
        "max_rows": args.max_rows,
        "timeout_s": args.query_timeout,
        "catalog": args.catalog,
        "database": args.database,
        "workgroup": args.workgroup,
        "output_location": args.output_location,
        "parameters": args.parameters,
        "result_reuse_minutes": args.reuse_minutes,
    }
    given = {name: value for name, value in fields.items() if value is not None}
    if not given and args.key is not None:
        return None
    # An empty request is valid: the service then runs its demo query.
    return given


def _ingress_call(args: argparse.Namespace, say: Callable[[str], None]) -> IngressCall:
    request = _query_request(args)
    if request is None:
        return attach_call(args.ingress, args.key, args.direct)
    key = args.key
    if key is None:
        key = str(uuid.uuid4())
    call = submit_call(args.ingress, key, request, args.direct)
    if args.key is None:
        say(f"Idempotency key: {key} (re-attach with: {call.reattach})")
    return call


def _report_result(body: bytes, say: Callable[[str], None]) -> ExitCode:
    """Print the QueryResult untouched; its state decides the exit code."""
    sys.stdout.write(body.decode("utf-8", errors="replace") + "\n")
    sys.stdout.flush()
    try:
        result = json.loads(body)
    except ValueError:
        say("The answer is not a QueryResult (not JSON).")
        return ExitCode.ERROR
    state = result.get("state") if isinstance(result, dict) else None
    code = exit_code_for_state(state)
    if code is ExitCode.ERROR:
        say(f"The answer is not a QueryResult with a known state (state: {state!r}).")
    elif code is not ExitCode.SUCCEEDED:
        say(f"The query ended {state}: {result.get('error')}")
        if result.get("error_category"):
            say(athena_error_line(result))
    return code


def athena_error_line(result: dict[str, Any]) -> str:
    """What Athena's AthenaError says a caller can do about the failure."""
    category, retryable = result.get("error_category"), result.get("error_retryable")
    if retryable:
        advice = "a retry may help (resubmit with a new --key)"
    elif category == "USER":
        advice = "a retry will not help: the query or its parameters must change"
    else:
        advice = "Athena does not expect a retry to help"
    return f"Athena's error: category {category}, type {result.get('error_type')}; {advice}."


def ingress_session(environ: Mapping[str, str]) -> requests.Session:
    """A session for the ingress; with RESTATE_AUTH_TOKEN (a Restate Cloud API key) it is sent."""
    session = requests.Session()
    token = environ.get("RESTATE_AUTH_TOKEN")
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


COMMANDS = ("status", "cancel", "redeliver", "list")


def split_command(argv: list[str]) -> tuple[str | None, list[str]]:
    """A command (`status`, `cancel`, `redeliver`, `list`), wherever it stands among the flags (each
    flag takes a value)."""
    index = 0
    while index < len(argv):
        token = argv[index]
        if token in COMMANDS:
            return token, argv[:index] + argv[index + 1 :]
        if not token.startswith("-"):
            break
        index += 1 if "=" in token or token in ("-h", "--help") else 2
    return None, argv


def main(
    argv: list[str] | None = None,
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> int:
    """Run the poller; returns the exit code. Tests inject the session, sleep and clock."""
    argv = sys.argv[1:] if argv is None else argv
    command, rest = split_command(argv)
    if command == "redeliver":
        parser = redeliver.build_parser()
    elif command == "list":
        parser = list_command.build_parser()
    else:
        parser = manage.build_parser(command) if command else build_parser()
    try:
        args = parser.parse_args(rest)
    except SystemExit as exit_:
        # argparse has already printed its message (or --help); keep its code.
        return exit_.code if isinstance(exit_.code, int) else ExitCode.BAD_INPUT
    own_session = session is None
    session = session or ingress_session(os.environ)
    client = Client(
        args.ingress,
        admin_url=getattr(args, "admin", None),
        timeout_s=args.timeout,
        max_wait_s=args.max_wait,
        max_connect_failures=args.max_connect_failures,
        session=session,
        rng=rng,
        progress=_say,
        sleep=sleep,
        clock=clock,
        direct=getattr(args, "direct", False),
    )
    try:
        if command == "status":
            return manage.show_status(client, args)
        if command == "redeliver":
            return redeliver.run(client, args)
        if command == "list":
            return list_command.run(client, args)
        if command == "cancel":
            manage.request_cancel(client, args)
            # The promise ends by its own ending path; wait for that one result.
            return _wait_and_report(client, attach_call(args.ingress, args.key, args.direct))
        return _wait_and_report(client, _ingress_call(args, _say))
    except PollFailure as failure:
        _say(failure.message)
        return failure.exit_code
    finally:
        if own_session:
            session.close()


def _wait_and_report(client: Client, call: IngressCall) -> int:
    """Long-poll `call` until the QueryResult comes, print it, and exit by its state."""
    try:
        body = client.fetch(call)
    except KeyboardInterrupt:
        _say(f"Interrupted. The query keeps running; re-attach with: {call.reattach}")
        return ExitCode.INTERRUPTED
    return _report_result(body, _say)
