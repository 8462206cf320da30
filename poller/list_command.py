"""``python -m poller list``: the promises Restate holds, newest first, filtered; an
operator's command (it reads Restate's admin API, `--admin`), never a call to Athena."""

import argparse
import os

from poller.arguments import add_connection_arguments
from poller.core import DEFAULT_ADMIN_URL
from poller.exit_codes import ExitCode
from poller.listing import ListFilters, PromiseEntry
from poller.models import PHASES
from poller.redeliver import moment
from poller.sync import Client

STATES = ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT")
_COLUMNS = ("KEY", "INVOCATION", "PHASE", "ATHENA", "STATE", "AGE", "DELIVERY", "ENTRY")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m poller list",
        description="List the promises Restate holds (a day of them), newest first: key, "
        "invocation id, phase, Athena state, result state, age, delivery and entry (front: "
        "query/query; direct: queries/{key}/run). Reads Restate's "
        "admin API only (an operator's command), never Athena.",
    )
    parser.add_argument("--phase", choices=PHASES, help="only promises in this phase")
    parser.add_argument("--state", choices=STATES, help="only results in this state")
    parser.add_argument(
        "--since", metavar="TIME", type=moment, help="submitted at or after (ISO 8601, or 90m, 2h)"
    )
    parser.add_argument("--key-prefix", metavar="TEXT", help="only keys that start with TEXT")
    parser.add_argument(
        "--failed-delivery",
        action="store_true",
        help="only promises whose push failed: retrying or gave up",
    )
    parser.add_argument("--limit", metavar="N", type=_count, help="at most N lines")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--admin",
        metavar="URL",
        default=os.environ.get("RESTATE_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="Restate's admin API (default: $RESTATE_ADMIN_URL or %(default)s)",
    )
    add_connection_arguments(parser)
    return parser


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def run(client: Client, args: argparse.Namespace) -> int:
    filters = ListFilters(
        phase=args.phase,
        state=args.state,
        since=args.since,
        key_prefix=args.key_prefix,
        failed_delivery=args.failed_delivery,
        limit=args.limit,
    )
    entries = client.list(filters)
    if args.json:
        for entry in entries:
            print(entry.model_dump_json())
    else:
        print(table(entries))
    return ExitCode.SUCCEEDED


def table(entries: list[PromiseEntry]) -> str:
    rows = [_COLUMNS, *(_cells(entry) for entry in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _cells(entry: PromiseEntry) -> tuple[str, ...]:
    return (
        entry.key or "-",
        entry.invocation_id,
        entry.phase,
        entry.athena_state or "-",
        entry.state or "-",
        age(entry.age_s),
        entry.delivery or "-",
        "direct" if entry.direct else "front",
    )


def age(seconds: float) -> str:
    """`42s`, `7m05s`, `3h12m`, `1d02h`: short and sortable by eye."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"
