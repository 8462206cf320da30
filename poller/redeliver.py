"""``python -m poller redeliver``: POST a result again, by key or every give-up since a time.

`--key K` resolves the key like status and cancel do and calls
`POST /promise/{invocation_id}/redeliver` on the public ingress (`POST /queries/K/redeliver`
with `--direct`). `--gave-up-since T` is the
operator's: it asks Restate's admin API (SQL over the services' state) which deliveries gave
up since T, the ones still retrying in the delivery object and the ones the promise's own
first attempt settled, and redelivers each; it prints what it sent, and a count.
"""

import argparse
import json
import os
import re
import sys
from base64 import urlsafe_b64decode
from datetime import UTC, datetime, timedelta
from typing import Any

from poller.arguments import add_connection_arguments, add_entry_argument, idempotency_key
from poller.core import DEFAULT_ADMIN_URL
from poller.exit_codes import ExitCode
from poller.ingress import DIRECT_WORKFLOW
from poller.operations import admin_query, promise_call
from poller.sync import Client
from poller.verdicts import PollFailure

# The Restate names of Athena's promise and its delivery object, and the webhook-id's prefix;
# a direct promise's webhook-id goes on with the mark and its key (base64url).
PROMISE_SERVICE, DELIVERY_SERVICE, WEBHOOK_ID_PREFIX = "promise", "webhookDelivery", "msg_"
KEY_MARK = "~"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_AGO = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def moment(text: str) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise), or a span ago: `90m`, `2h`, `1d`."""
    if match := _AGO.fullmatch(text.strip()):
        ago = timedelta(**{_UNITS[match[2]]: float(match[1])})
        return datetime.now(UTC) - ago
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (give ISO 8601, e.g. 2026-12-02T08:00Z, or 90m, 2h, 1d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m poller redeliver",
        description="POST the result of key K to its callback_url again (after a success or a "
        "give-up): the same webhook-id, signed now, the same checks and retry schedule. Or, "
        "with --gave-up-since, every delivery that gave up since then (an operator's command: "
        "it reads Restate's admin API).",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--key", metavar="K", type=idempotency_key)
    which.add_argument("--gave-up-since", metavar="TIME", type=moment)
    parser.add_argument(
        "--admin",
        metavar="URL",
        default=os.environ.get("RESTATE_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="Restate's admin API, for --gave-up-since (default: $RESTATE_ADMIN_URL or "
        "%(default)s)",
    )
    add_entry_argument(parser)
    add_connection_arguments(parser)
    return parser


def promise_of(webhook_id: str) -> tuple[str, str] | None:
    """(workflow, key) of the promise that pushed `webhook_id`; None for an id the service
    never made."""
    invocation_id, marked, encoded = webhook_id.removeprefix(WEBHOOK_ID_PREFIX).partition(KEY_MARK)
    if not invocation_id or not webhook_id.startswith(WEBHOOK_ID_PREFIX):
        return None
    if not marked:
        return PROMISE_SERVICE, invocation_id
    if not _BASE64URL.fullmatch(encoded):
        return None
    try:
        return DIRECT_WORKFLOW, urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError:  # a length base64 cannot have, or not UTF-8
        return None


def run(client: Client, args: argparse.Namespace) -> int:
    if args.key is not None:
        answer = client.run(client.calls.redeliver_json(args.key))
        print(str(answer.get("message", "")), file=sys.stderr, flush=True)
        print(json.dumps(answer))
        return ExitCode.SUCCEEDED
    return redeliver_gave_up(client, args)


def redeliver_gave_up(client: Client, args: argparse.Namespace) -> int:
    since: datetime = args.gave_up_since
    found = gave_up_since(client, args.admin, since, args.timeout)
    counts = {"redelivering": 0, "under_way": 0, "failed": 0}
    for webhook_id in found:
        promise = promise_of(webhook_id)
        if promise is None:
            counts["failed"] += 1
            print(
                f"{webhook_id}: not redelivered: not a webhook-id of this service's promises",
                file=sys.stderr,
            )
            continue
        workflow, key = promise
        try:
            answer = client.run(
                promise_call(args.ingress, key, "redeliver", args.timeout, workflow=workflow)
            )
        except PollFailure as failure:
            counts["failed"] += 1
            print(f"{webhook_id}: not redelivered: {failure.message}", file=sys.stderr)
            continue
        outcome = str(answer.get("outcome"))
        counts[outcome if outcome in counts else "failed"] += 1
        print(f"{webhook_id}: {answer.get('message', outcome)}", file=sys.stderr, flush=True)
    summary = {"gave_up_since": since.isoformat(), "gave_up": len(found), **counts}
    print(json.dumps(summary))
    return ExitCode.ERROR if counts["failed"] else ExitCode.SUCCEEDED


def gave_up_since(client: Client, admin: str, since: datetime, timeout: float) -> list[str]:
    """The webhook-ids whose delivery gave up at `since` or later, oldest first. The object's
    status wins over the promise's record: it holds any retries and redeliveries since."""
    like = 'value_utf8 LIKE \'%"state":"gave_up"%\''
    objects = _state(client, admin, DELIVERY_SERVICE, "status", like, timeout)
    records = [
        record
        for workflow in (PROMISE_SERVICE, DIRECT_WORKFLOW)
        for record in _state(client, admin, workflow, "record", like, timeout).values()
    ]
    statuses = dict(objects)
    held_by_promise = {
        record["webhook_id"]: record["delivery"]
        for record in records
        if record.get("webhook_id") and record.get("delivery")
    }
    elsewhere = sorted(set(held_by_promise) - set(statuses))
    # Held by the promise, unless the object has taken it on since (a redelivery).
    taken = _state(client, admin, DELIVERY_SERVICE, "status", _keys_in(elsewhere), timeout)
    for webhook_id in elsewhere:
        if webhook_id not in taken:
            statuses[webhook_id] = held_by_promise[webhook_id]
    ended = {key: _gave_up_at(status) for key, status in statuses.items()}
    chosen = [(at, key) for key, at in ended.items() if at is not None and at >= since]
    return [key for _, key in sorted(chosen)]


def _gave_up_at(status: dict[str, Any]) -> datetime | None:
    history = status.get("history") or []
    if status.get("state") != "gave_up" or not history:
        return None
    return datetime.fromisoformat(history[-1]["finished_at"])


def _keys_in(keys: list[str]) -> str:
    quoted = ", ".join("'" + key.replace("'", "''") + "'" for key in keys)
    return f"service_key IN ({quoted})" if keys else "false"


def _state(
    client: Client,
    admin: str,
    service: str,
    key: str,
    condition: str,
    timeout: float,
) -> dict[str, dict[str, Any]]:
    """{service_key: the JSON value} of one state key of `service`, where `condition` holds."""
    sql = (
        "SELECT service_key, value_utf8 FROM state "
        f"WHERE service_name = '{service}' AND key = '{key}' AND {condition}"
    )
    rows = client.run(admin_query(admin, sql, timeout))
    return {row["service_key"]: json.loads(row["value_utf8"]) for row in rows}
