"""The registry of executions and the lifecycle each one walks: QUEUED, RUNNING, final."""

import asyncio
import logging
import time
from collections.abc import Iterator

from .config import LocalAthenaConfig
from .engine import QueryEngine
from .events import EventPublisher
from .execution import Execution, State
from .failures import SYSTEM, QueryFailure, internal_failure
from .protocol import RESULTS_PAGE_LIMIT, StartQueryExecutionRequest, invalid_request
from .rendering import row_data
from .results import local_path_for, write_csv
from .sqltext import parse_hints, statement_type
from .workgroups import WorkGroups

log = logging.getLogger(__name__)


class Executions:
    def __init__(
        self,
        config: LocalAthenaConfig,
        engine: QueryEngine,
        events: EventPublisher,
        workgroups: WorkGroups | None = None,
    ) -> None:
        self._config = config
        self.workgroups = workgroups or WorkGroups.load(config.workgroups_file)
        # How many queries the engine itself ran (a reused result runs none).
        self.engine_runs = 0
        self._engine = engine
        self._events = events
        self._by_id: dict[str, Execution] = {}
        self._by_token: dict[str, str] = {}
        self._lifecycles: dict[str, asyncio.Task[None]] = {}
        # Held queries (the `hold` hint) wait for this; `release_held` sets it once for all.
        self._released = asyncio.Event()
        self._holding = 0

    def start(self, request: StartQueryExecutionRequest) -> tuple[Execution, bool]:
        """The execution for this request, and whether it is new (a repeated token is not)."""
        token = request.client_request_token
        if token is not None and token in self._by_token:
            existing = self._by_id[self._by_token[token]]
            if (existing.query, existing.execution_parameters, existing.work_group) != (
                request.query_string,
                request.execution_parameters,
                request.work_group,
            ):
                raise invalid_request(
                    "Idempotent parameters do not match: this ClientRequestToken was used "
                    "with a different QueryString, ExecutionParameters or WorkGroup."
                )
            return existing, False
        workgroup = self.workgroups.startable(request.work_group)
        client_location = request.result_configuration.get("OutputLocation")
        context = dict(request.query_execution_context)
        execution = Execution(
            query=request.query_string,
            statement_type=statement_type(request.query_string),
            work_group=workgroup.name,
            context=context,
            output_prefix=workgroup.output_for(str(client_location or "") or None),
            hints=parse_hints(request.query_string),
            execution_parameters=request.execution_parameters,
            reuse_max_age_minutes=request.reuse_max_age_minutes,
        )
        execution.reused_from = self._reusable(execution)
        self._by_id[execution.id] = execution
        if token is not None:
            self._by_token[token] = execution.id
        execution.record_call("StartQueryExecution")
        self._events.state_changed(execution, None)
        self._lifecycles[execution.id] = asyncio.create_task(self._walk(execution))
        return execution, True

    def _reusable(self, execution: Execution) -> Execution | None:
        """The newest succeeded execution with the same workgroup, context, SQL and
        parameters, finished within the asked age: its result serves this one."""
        if execution.reuse_max_age_minutes is None or execution.statement_type != "DML":
            return None
        oldest = time.time() - execution.reuse_max_age_minutes * 60
        key = execution.reuse_key()
        candidates = [
            earlier
            for earlier in self._by_id.values()
            if earlier.state == "SUCCEEDED"
            and earlier.result is not None
            and (earlier.completed_at or 0) >= oldest
            and earlier.reuse_key() == key
        ]
        return max(candidates, key=lambda e: e.completed_at or 0, default=None)

    def find(self, execution_id: str) -> Execution | None:
        return self._by_id.get(execution_id)

    def get(self, execution_id: str) -> Execution:
        execution = self._by_id.get(execution_id)
        if execution is None:
            raise invalid_request(f"QueryExecution {execution_id} was not found")
        return execution

    def all(self) -> list[Execution]:
        return list(self._by_id.values())

    def stop(self, execution: Execution) -> None:
        """Cancel a queued or running query; a finished one stays as it is."""
        if execution.is_final:
            return
        execution.reason = "Query was cancelled by user"
        self._transition(execution, "CANCELLED")
        self._engine.interrupt(execution.id)
        lifecycle = self._lifecycles.pop(execution.id, None)
        if lifecycle is not None:
            lifecycle.cancel()

    async def settle(self, execution: Execution) -> None:
        """Wait until the execution is final and every event sent so far was delivered."""
        lifecycle = self._lifecycles.get(execution.id)
        if lifecycle is not None:
            await asyncio.gather(lifecycle, return_exceptions=True)
        await self._events.drain()

    async def close(self) -> None:
        for lifecycle in self._lifecycles.values():
            lifecycle.cancel()
        await asyncio.gather(*self._lifecycles.values(), return_exceptions=True)

    @property
    def held(self) -> int:
        """How many queries wait for `release_held` now."""
        return self._holding

    def release_held(self) -> int:
        """End the wait of every held query, and of any held later: they finish together.
        Returns how many were waiting."""
        self._released.set()
        return self._holding

    async def _hold(self) -> None:
        self._holding += 1
        try:
            await self._released.wait()
        finally:
            self._holding -= 1

    async def _walk(self, execution: Execution) -> None:
        hints, config = execution.hints, self._config
        queue_delay = config.queue_delay_s if hints.queue_delay_s is None else hints.queue_delay_s
        run_time = config.run_time_s if hints.run_time_s is None else hints.run_time_s
        try:
            await asyncio.sleep(queue_delay)
            execution.running_at = time.time()
            self._transition(execution, "RUNNING")
            outcome: State = "SUCCEEDED"
            try:
                if hints.fail == "internal":
                    raise internal_failure("the fail=internal hint")
                if execution.reused_from is not None:
                    # Reused: the earlier result, nothing scanned, no file written.
                    execution.result = execution.reused_from.result
                else:
                    await self._run(execution)
            except Exception as error:  # a failed query is an outcome, never a server error
                outcome = "FAILED"
                execution.fail(error)
            # Athena never answers in an instant; pad the run to the configured minimum.
            await asyncio.sleep(max(0.0, execution.running_at + run_time - time.time()))
            if hints.hold:
                await self._hold()
            execution.engine_done_at = time.time()
            self._transition(execution, outcome)
        except asyncio.CancelledError:
            if not execution.is_final:  # the server is shutting down, not a user's stop
                raise
        finally:
            self._lifecycles.pop(execution.id, None)

    async def _run(self, execution: Execution) -> None:
        self.engine_runs += 1
        context = execution.context
        summary = await asyncio.to_thread(
            self._engine.run,
            execution.id,
            execution.query,
            context.get("Database"),
            context.get("Catalog"),
            execution.execution_parameters,
        )
        execution.result, execution.planning_ms = summary, summary.planning_ms
        execution.data_scanned = summary.scanned_bytes
        # Athena writes the result file before it reports SUCCEEDED.
        await asyncio.to_thread(self._write_result_file, execution)

    def _write_result_file(self, execution: Execution) -> None:
        result = execution.result
        if execution.statement_type != "DML" or result is None or not result.columns:
            return
        try:
            path = local_path_for(execution.output_location, self._config.results_dir)
            header = [column["Name"] for column in result.columns]
            pages = self._rendered_pages(execution.id, result.athena_types)
            write_csv(path, header, self._keeping_first_page(execution, pages))
        except (OSError, ValueError) as error:
            raise QueryFailure(
                "GENERIC_INTERNAL_ERROR",
                f"Failed to write query results to {execution.output_location}",
                category=SYSTEM,
                error_type=401,  # Athena's "Failed to write query results to Amazon S3"
                detail=str(error),
            ) from error

    @staticmethod
    def _keeping_first_page(
        execution: Execution, pages: Iterator[list[list[str | None]]]
    ) -> Iterator[list[list[str | None]]]:
        """The pages, on their way to the file; the first one's leading rows kept as well."""
        for number, page in enumerate(pages):
            if number == 0:
                execution.first_page = page[:RESULTS_PAGE_LIMIT]
            yield page

    def _rendered_pages(
        self, execution_id: str, types: list[str]
    ) -> Iterator[list[list[str | None]]]:
        offset, size = 0, 10_000
        while rows := self._engine.rows(execution_id, offset, size):
            yield [[d.get("VarCharValue") for d in row_data(row, types)] for row in rows]
            offset += size

    def _transition(self, execution: Execution, state: State) -> None:
        previous, execution.state = execution.state, state
        if execution.is_final:
            execution.completed_at = time.time()
        log.info("%s %s -> %s", execution.id, previous, state)
        self._events.state_changed(execution, previous)
