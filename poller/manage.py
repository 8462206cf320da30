"""``python -m poller status|cancel --key K``: ask where a promise stands, or cancel it.

A caller knows its idempotency key; the promise is addressed by the invocation that key
started. The key resolves over the public ingress without side effects: `.../K/output` says
whether the key is known (404 if not) and, once done, names the invocation; while it runs,
re-sending with the same key is de-duplicated by Restate and answers with the invocation id.
"""

import argparse
import json
import sys
from urllib.parse import quote

import requests

from poller.arguments import add_connection_arguments, idempotency_key
from poller.exit_codes import ExitCode
from poller.ingress import QUERY_HANDLER_PATH, error_message
from poller.verdicts import PollFailure, unreachable_message

PROMISE_PATH = "promise"


def resolve_invocation(session: requests.Session, ingress: str, key: str, timeout: float) -> str:
    """The invocation id that idempotency key `key` started, or PollFailure."""
    base = ingress.rstrip("/")
    path = f"{base}/restate/invocation/{QUERY_HANDLER_PATH}/{quote(key, safe='')}/output"
    output = _request(session, "GET", path, ingress, timeout)
    if output.status_code == 404:
        raise PollFailure(
            ExitCode.NOT_FOUND,
            f"No query was submitted with key {key} (or it ended more than a day ago). "
            "Check the key.",
        )
    if output.headers.get("x-restate-id"):
        return output.headers["x-restate-id"]
    if output.status_code != 470:  # 470: known, not completed yet
        raise PollFailure(
            ExitCode.BAD_INPUT if output.status_code == 400 else ExitCode.ERROR,
            f"The query with key {key} ended without a promise (HTTP {output.status_code}): "
            f"{error_message(output.content)}",
        )
    # The key is known, so this send starts nothing: Restate answers with its invocation.
    sent = _request(
        session,
        "POST",
        f"{base}/{QUERY_HANDLER_PATH}/send",
        ingress,
        timeout,
        headers={"idempotency-key": key, "content-type": "application/json"},
        data=b"{}",
    )
    invocation_id = sent.json().get("invocationId") if sent.status_code < 300 else None
    if not isinstance(invocation_id, str):
        raise PollFailure(ExitCode.ERROR, f"Cannot resolve key {key}: HTTP {sent.status_code}")
    return invocation_id


def promise_call(
    session: requests.Session,
    ingress: str,
    invocation_id: str,
    handler: str,
    timeout: float,
    body: dict[str, object] | None = None,
) -> dict[str, object]:
    """POST /promise/{invocation_id}/{handler}; the JSON answer or PollFailure."""
    url = f"{ingress.rstrip('/')}/{PROMISE_PATH}/{quote(invocation_id, safe='')}/{handler}"
    response = _request(
        session,
        "POST",
        url,
        ingress,
        timeout,
        headers={"content-type": "application/json"},
        data=json.dumps(body or {}).encode(),
    )
    if response.status_code == 404:
        raise PollFailure(ExitCode.NOT_FOUND, error_message(response.content))
    if response.status_code != 200:
        raise PollFailure(
            ExitCode.ERROR,
            f"The ingress answered HTTP {response.status_code}: {error_message(response.content)}",
        )
    answer = response.json()
    return answer if isinstance(answer, dict) else {"answer": answer}


def _request(
    session: requests.Session,
    method: str,
    url: str,
    ingress: str,
    timeout: float,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
) -> requests.Response:
    try:
        return session.request(method, url, timeout=timeout, headers=headers, data=data)
    except requests.ConnectionError:
        raise PollFailure(ExitCode.UNREACHABLE, unreachable_message(ingress)) from None
    except requests.Timeout:
        raise PollFailure(ExitCode.ERROR, f"No answer from {url} within {timeout:g}s.") from None


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
    add_connection_arguments(parser)
    return parser


def show_status(session: requests.Session, args: argparse.Namespace) -> int:
    invocation_id = resolve_invocation(session, args.ingress, args.key, args.timeout)
    status = promise_call(session, args.ingress, invocation_id, "status", args.timeout)
    print(json.dumps(status, indent=2))
    return ExitCode.SUCCEEDED


def request_cancel(session: requests.Session, args: argparse.Namespace) -> dict[str, object]:
    """Ask for the cancel; the answer says whether it came in time."""
    invocation_id = resolve_invocation(session, args.ingress, args.key, args.timeout)
    body = {"reason": args.reason} if args.reason else {}
    answer = promise_call(session, args.ingress, invocation_id, "cancel", args.timeout, body)
    print(str(answer.get("message", answer)), file=sys.stderr, flush=True)
    return answer
