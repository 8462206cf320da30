"""An Execution in Athena's QueryExecution shape; JSON 1.1 sends timestamps as epoch seconds."""

import time
from typing import Any

from .execution import Execution


def statistics(execution: Execution) -> dict[str, Any]:
    """Athena's timings: queue, then engine (planning included), then service processing.

    Each is a difference of whole milliseconds, so the parts add up to the total exactly.
    """
    now = time.time()
    ended = _ms(execution.completed_at or now)
    running = _ms(execution.running_at) if execution.running_at else ended
    engine_done = _ms(execution.engine_done_at) if execution.engine_done_at else ended
    return {
        "EngineExecutionTimeInMillis": engine_done - running,
        "DataScannedInBytes": execution.data_scanned,
        "TotalExecutionTimeInMillis": ended - _ms(execution.submitted_at),
        "QueryQueueTimeInMillis": running - _ms(execution.submitted_at),
        "QueryPlanningTimeInMillis": execution.planning_ms,
        "ServicePreProcessingTimeInMillis": 0,
        "ServiceProcessingTimeInMillis": ended - engine_done,
        "ResultReuseInformation": {"ReusedPreviousResult": execution.reused_from is not None},
    }


def _ms(timestamp: float) -> int:
    return round(timestamp * 1000)


def query_execution(execution: Execution) -> dict[str, Any]:
    status: dict[str, Any] = {
        "State": execution.state,
        "SubmissionDateTime": execution.submitted_at,
    }
    if execution.reason is not None:
        status["StateChangeReason"] = execution.reason
    if execution.completed_at is not None:
        status["CompletionDateTime"] = execution.completed_at
    if execution.athena_error is not None:
        status["AthenaError"] = execution.athena_error
    reuse: dict[str, Any] = {"Enabled": execution.reuse_max_age_minutes is not None}
    if execution.reuse_max_age_minutes is not None:
        reuse["MaxAgeInMinutes"] = execution.reuse_max_age_minutes
    shape = {
        "QueryExecutionId": execution.id,
        "Query": execution.query,
        "StatementType": execution.statement_type,
        "ResultConfiguration": {"OutputLocation": execution.output_location},
        "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": reuse},
        "QueryExecutionContext": execution.context,
        "Status": status,
        "Statistics": statistics(execution),
        "WorkGroup": execution.work_group,
        "EngineVersion": {
            "SelectedEngineVersion": "AUTO",
            "EffectiveEngineVersion": "Athena engine version 3",
        },
    }
    if execution.execution_parameters:
        shape["ExecutionParameters"] = execution.execution_parameters
    return shape
