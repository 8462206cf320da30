"""One Lambda execution environment: imports the handler once, then runs one event at a time.

Started by the pool as `python -m infra.local.lambda_endpoint.worker HANDLER` with the
function's environment (the endpoint's own plus `AWS_LAMBDA_FUNCTION_NAME` and friends, so
the SDK builds its Lambda handler). It reads one JSON job per line on stdin and writes one JSON
line per job on the original stdout; whatever the handler prints goes to stderr, as Lambda
sends it to CloudWatch Logs.
"""

import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass
class LambdaContext:
    """The attributes and method Lambda's Python runtime gives a handler as `context`."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def load_handler(spec: str) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = spec.partition(":")
    handler = getattr(importlib.import_module(module_name), attribute or "handler")
    if not callable(handler):
        raise TypeError(f"{spec} is not callable")
    return handler  # type: ignore[no-any-return]


def error_payload(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """An uncaught exception as Lambda's Python runtime reports it."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def context_for(job: dict[str, Any]) -> LambdaContext:
    return LambdaContext(
        function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        function_version=os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        invoked_function_arn=job["invoked_function_arn"],
        memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")),
        aws_request_id=job["request_id"],
        log_group_name=os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
        log_stream_name=os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
        deadline_ms=job["deadline_ms"],
    )


def run_job(handler: Callable[[Any, Any], Any], job: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        payload = json.dumps(handler(job["event"], context_for(job)))
        outcome: dict[str, Any] = {"payload": payload}
    except Exception as error:
        outcome = {"error": error_payload(error)}
    except BaseException as error:  # SystemExit and the like: the runtime dies with them
        outcome = {"error": error_payload(error, "Runtime.ExitError"), "exit": True}
    outcome["duration_ms"] = (time.perf_counter() - started) * 1000
    outcome["request_id"] = job["request_id"]
    return outcome


def serve(spec: str, jobs: TextIO, answers: TextIO) -> None:
    started = time.perf_counter()
    try:
        handler = load_handler(spec)
    except Exception as error:
        answers.write(json.dumps({"ready": False, "error": error_payload(error)}) + "\n")
        answers.flush()
        return
    init_ms = (time.perf_counter() - started) * 1000
    answers.write(json.dumps({"ready": True, "init_ms": init_ms}) + "\n")
    answers.flush()
    # stdin closing means the endpoint is gone: so is this environment.
    for line in jobs:
        outcome = run_job(handler, json.loads(line))
        answers.write(json.dumps(outcome) + "\n")
        answers.flush()
        if outcome.get("exit"):
            return


def main() -> None:
    # The protocol keeps the real stdout; the handler's prints go to stderr (the logs).
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.argv[1], sys.stdin, answers)


if __name__ == "__main__":
    main()
