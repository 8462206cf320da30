"""Exit codes of ``python -m poller``, stable so that scripts can branch on them.

  0  SUCCEEDED    the query succeeded; the QueryResult is on stdout
  1  ERROR        an unexpected HTTP error, or the invocation itself failed
  2  BAD_INPUT    the request was refused as invalid (by the flags or the service)
  3  FAILED       Athena ran the query and it failed; the QueryResult is on stdout
  4  CANCELLED    the query was cancelled; the QueryResult is on stdout
  5  TIMED_OUT    the query hit its time limit; the QueryResult is on stdout
  6  NOT_FOUND    no invocation with that key, or the service is not registered
  7  UNREACHABLE  the Restate ingress could not be reached
  8  GAVE_UP      --max-wait passed before the result arrived; the query keeps running
130  INTERRUPTED  stopped with Ctrl+C; the query keeps running
"""

from enum import IntEnum


class ExitCode(IntEnum):
    SUCCEEDED = 0
    ERROR = 1
    BAD_INPUT = 2
    FAILED = 3
    CANCELLED = 4
    TIMED_OUT = 5
    NOT_FOUND = 6
    UNREACHABLE = 7
    GAVE_UP = 8
    # The shell convention for SIGINT, so Ctrl+C looks the same as for any other tool.
    INTERRUPTED = 130


# A QueryResult's final state, as an exit code.
_BY_STATE = {
    "SUCCEEDED": ExitCode.SUCCEEDED,
    "FAILED": ExitCode.FAILED,
    "CANCELLED": ExitCode.CANCELLED,
    "TIMED_OUT": ExitCode.TIMED_OUT,
}


def exit_code_for_state(state: object) -> ExitCode:
    """The exit code for a QueryResult ``state``; anything unknown is an ERROR."""
    return _BY_STATE.get(state, ExitCode.ERROR) if isinstance(state, str) else ExitCode.ERROR


def epilog() -> str:
    """The exit codes for ``--help``: the table in this module's docstring, kept in one place."""
    table = (__doc__ or "").split("\n\n", 1)[1].rstrip()
    return "exit codes:\n" + table
