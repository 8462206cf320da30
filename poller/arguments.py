"""The command line of ``python -m poller``: flags, checked before anything is sent."""

import argparse
import json
import os
from urllib.parse import urlsplit

from poller.client import DEFAULT_MAX_CONNECT_FAILURES, DEFAULT_TIMEOUT_S
from poller.exit_codes import epilog

DEFAULT_INGRESS_URL = "http://localhost:8080"
# Athena's longest result reuse: 7 days.
MAX_REUSE_MINUTES = 10_080


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _row_limit(text: str) -> int:
    # 0 is a valid limit: the columns without rows, as the service allows.
    return _whole_number(text, 0)


def query_parameter(text: str) -> bool | int | float | str:
    """`42` and `1.5` are numbers, `true` and `false` booleans, `"42"` the string 42; any
    other text is itself a string (`O'Brien` needs no quoting: the service quotes it)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float | str) else text


def _reuse_minutes(text: str) -> int:
    value = _whole_number(text, 0)
    if value > MAX_REUSE_MINUTES:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_REUSE_MINUTES}, got {text!r}")
    return value


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text.rstrip("/")


def idempotency_key(text: str) -> str:
    # It travels in an HTTP header and a URL path: visible ASCII only, no spaces.
    if not text or not all("!" <= char <= "~" for char in text):
        raise argparse.ArgumentTypeError(
            f"an idempotency key is visible ASCII without spaces, got {text!r}"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m poller",
        description="Submit an Athena query to the Restate query service, or attach to one\n"
        "submitted earlier with the same --key, and wait for its QueryResult.\n"
        "Progress goes to stderr, the QueryResult (JSON) to stdout.\n\n"
        "  python -m poller status --key K    where the promise stands (JSON), no Athena call\n"
        "  python -m poller cancel --key K [--reason TEXT]\n"
        "                                     stop it; prints the result (CANCELLED: exit 4)\n"
        "  python -m poller redeliver --key K | --gave-up-since TIME\n"
        "                                     POST the result to its callback_url again",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    query = parser.add_argument_group("the query (any of these submits; none with --key attaches)")
    query.add_argument("--query", metavar="SQL", help="Athena SQL (default: the demo query)")
    query.add_argument("--callback-url", metavar="URL", type=_http_url, help="also push here")
    query.add_argument("--max-rows", metavar="N", type=_row_limit, help="row limit")
    query.add_argument(
        "--query-timeout", metavar="S", type=_positive_float, help="Athena time limit (s)"
    )
    query.add_argument("--catalog", metavar="NAME", help="data catalog (default: the service's)")
    query.add_argument("--database", metavar="NAME", help="database (default: the service's)")
    query.add_argument("--workgroup", metavar="NAME", help="workgroup (default: the service's)")
    query.add_argument("--output-location", metavar="S3_URL", help="where Athena writes results")
    query.add_argument(
        "--param",
        metavar="VALUE",
        dest="parameters",
        action="append",
        type=query_parameter,
        help="value for the next ? (repeat in order); a JSON number, true, false or "
        '"quoted string" is sent as that, anything else as text; the service quotes it',
    )
    query.add_argument(
        "--reuse-minutes",
        metavar="M",
        type=_reuse_minutes,
        help="reuse Athena's result of the same query if at most M minutes old (0 to 10080)",
    )
    parser.add_argument(
        "--key", metavar="K", type=idempotency_key, help="idempotency key (default: a new uuid)"
    )
    add_entry_argument(parser)
    add_connection_arguments(parser)
    return parser


def add_entry_argument(parser: argparse.ArgumentParser) -> None:
    """Which entry the key's promise comes in by: every command that takes --key."""
    parser.add_argument(
        "--direct",
        action="store_true",
        help="the direct entry: the promise is the workflow of the key, POST /queries/K/run "
        "(default: POST /query/query with K as its idempotency-key)",
    )


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the ingress is and how long to wait for it: shared by every command."""
    parser.add_argument(
        "--ingress",
        metavar="URL",
        type=_http_url,
        default=os.environ.get("RESTATE_INGRESS_URL", DEFAULT_INGRESS_URL),
        help="Restate ingress (default: $RESTATE_INGRESS_URL or %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=_positive_float,
        default=DEFAULT_TIMEOUT_S,
        help="timeout of each HTTP request in seconds (default: %(default)g)",
    )
    parser.add_argument(
        "--max-wait", metavar="S", type=_positive_float, help="give up after S seconds in all"
    )
    parser.add_argument(
        "--max-connect-failures",
        metavar="N",
        type=_positive_int,
        default=DEFAULT_MAX_CONNECT_FAILURES,
        help="consecutive failures to connect before giving up (default: %(default)s)",
    )
