"""`list`: every promise Restate holds, newest first, from its admin API, no Athena call.

The promise's record (what `status` reads: the `record` key of the `promise` workflow's
state, keyed by the query/query invocation), joined with that invocation's idempotency key
(`sys_invocation`); a direct promise's record is the `queries` workflow's, keyed by the key
itself. Then the Athena state the mailbox or the sweeper last saw, and the delivery
object's status. Each is one small SQL query; the join is done here (restate-server 1.7's
planner fails on several joins over `state` at once).
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from poller.ingress import DIRECT_WORKFLOW
from poller.models import DeliveryStatus, ResultState
from poller.operations import admin_query
from poller.steps import Operation

# The Restate names of Athena's promise (redeliver.py has the same).
FRONT, PROMISE, MAILBOX = "query", "promise", "completion"
SWEEPER, DELIVERY = "sweeper", "webhookDelivery"
WATCH_PREFIX = "watch:"
ATHENA_FINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
# A delivery that has not reached the receiver after a failed attempt.
FAILED_DELIVERY = frozenset({"retrying", "gave_up"})
# Which phases of the record can be shown as each phase: `status` shows a queued or running
# record as running, or fetching, once Athena's state says so.
_RECORDED = {
    "accepted": ("accepted",),
    "queued": ("queued",),
    "running": ("queued", "running"),
    "fetching": ("queued", "running", "fetching"),
    "done": ("done",),
}
_CHUNK = 200


@dataclass(frozen=True)
class ListFilters:
    phase: str | None = None
    state: ResultState | None = None
    since: datetime | None = None
    key_prefix: str | None = None
    failed_delivery: bool = False
    limit: int | None = None


class PromiseEntry(BaseModel):
    """One line of `list`."""

    key: str | None
    invocation_id: str
    phase: str
    athena_state: str | None
    state: ResultState | None
    submitted_at: datetime
    age_s: float
    delivery: str | None
    query_execution_id: str | None = None
    # Came in by the direct entry (`POST /queries/{key}/run`), not by `query/query`.
    direct: bool = False


def list_promises(
    admin: str, filters: ListFilters, timeout: float, now: datetime | None = None
) -> Operation[list[PromiseEntry]]:
    """The promises that pass `filters`, newest first."""
    rows = yield from admin_query(admin, _invocations_sql(filters), timeout)
    keys = {row["id"]: row.get("idempotency_key") for row in rows}
    rows = yield from admin_query(admin, _records_sql(filters, PROMISE), timeout)
    records = {row["service_key"]: _loads(row["value_utf8"]) for row in rows}
    # A record of an invocation outside the key or time filter is left out.
    if filters.key_prefix is not None:
        records = {key: value for key, value in records.items() if key in keys}
    # Keyed by the caller's key, the direct entry's records need no join.
    rows = yield from admin_query(admin, _records_sql(filters, DIRECT_WORKFLOW), timeout)
    direct = {row["service_key"]: _loads(row["value_utf8"]) for row in rows}
    if filters.since is not None:
        since = filters.since
        records = {k: v for k, v in records.items() if _submitted(v) >= since}
        direct = {k: v for k, v in direct.items() if _submitted(v) >= since}
    everything = [*records.values(), *direct.values()]
    athena = yield from _athena_states(admin, everything, timeout)
    deliveries = yield from _deliveries(admin, everything, timeout)
    moment = now or datetime.now(UTC)
    entries = [
        _entry(invocation, record, keys.get(invocation), athena, deliveries, moment)
        for invocation, record in records.items()
    ] + [
        _entry(record["invocation_id"], record, key, athena, deliveries, moment, direct=True)
        for key, record in direct.items()
    ]
    chosen = [entry for entry in entries if _passes(entry, filters)]
    chosen.sort(key=lambda entry: entry.submitted_at, reverse=True)
    return chosen[: filters.limit] if filters.limit is not None else chosen


def _entry(
    invocation: str,
    record: dict[str, Any],
    key: str | None,
    athena: dict[str, str],
    deliveries: dict[str, dict[str, Any]],
    now: datetime,
    direct: bool = False,
) -> PromiseEntry:
    phase, athena_state, job_id = record["phase"], record.get("job_state"), record.get("job_id")
    if phase in ("queued", "running") and job_id and job_id in athena:
        athena_state = athena[job_id]
        if athena_state in ATHENA_FINAL:
            phase = "fetching"
        elif athena_state == "RUNNING":
            phase = "running"
    webhook_id = record.get("webhook_id")
    # The delivery object holds a delivery that retried or was redelivered; else the record.
    held = deliveries.get(webhook_id) if webhook_id else None
    delivery = held or record.get("delivery")
    if webhook_id and delivery is None:
        delivery = {"state": "pending"}
    submitted = _submitted(record)
    return PromiseEntry(
        key=key,
        invocation_id=invocation,
        phase=phase,
        athena_state=athena_state,
        state=record.get("state"),
        submitted_at=submitted,
        age_s=round(max(0.0, (now - submitted).total_seconds()), 1),
        delivery=delivery.get("state") if delivery else None,
        query_execution_id=job_id,
        direct=direct,
    )


def _passes(entry: PromiseEntry, filters: ListFilters) -> bool:
    if filters.phase is not None and entry.phase != filters.phase:
        return False
    return not (filters.failed_delivery and entry.delivery not in FAILED_DELIVERY)


def _invocations_sql(filters: ListFilters) -> str:
    sql = (
        "SELECT id, idempotency_key FROM sys_invocation "
        f"WHERE target_service_name = '{FRONT}' AND target_handler_name = 'query'"
    )
    if filters.key_prefix is not None:
        sql += f" AND starts_with(idempotency_key, {_literal(filters.key_prefix)})"
    if filters.since is not None:
        # A second of slack: the record's own time decides (the invocation is made first).
        since = filters.since.astimezone(UTC).isoformat()
        sql += f" AND created_at >= CAST({_literal(since)} AS TIMESTAMP) - INTERVAL '1 second'"
    return sql


def _records_sql(filters: ListFilters, workflow: str) -> str:
    sql = f"SELECT service_key, value_utf8 FROM state WHERE service_name = '{workflow}'"
    sql += " AND key = 'record'"
    if workflow == DIRECT_WORKFLOW and filters.key_prefix is not None:
        sql += f" AND starts_with(service_key, {_literal(filters.key_prefix)})"
    if filters.phase is not None:
        phases = ", ".join(_literal(phase) for phase in _RECORDED.get(filters.phase, ()))
        sql += f" AND json_get_str(value_utf8, 'phase') IN ({phases or 'NULL'})"
    if filters.state is not None:
        sql += f" AND json_get_str(value_utf8, 'state') = {_literal(filters.state)}"
    return sql


def _athena_states(
    admin: str, records: Iterable[dict[str, Any]], timeout: float
) -> Operation[dict[str, str]]:
    """{job id: the state last seen} for the promises still waiting on Athena."""
    waiting = [r for r in records if r["phase"] in ("queued", "running") and r.get("job_id")]
    seen: dict[str, str] = {}
    by_mailbox = [r["job_id"] for r in waiting if not r.get("watched_by")]
    for chunk in _chunks(by_mailbox):
        sql = f"SELECT service_key, value_utf8 FROM state WHERE service_name = '{MAILBOX}'"
        sql += f" AND key = 'last_state' AND service_key IN ({_literals(chunk)})"
        for row in (yield from admin_query(admin, sql, timeout)):
            seen[row["service_key"]] = _loads(row["value_utf8"])
    watched = [WATCH_PREFIX + r["job_id"] for r in waiting if r.get("watched_by")]
    for chunk in _chunks(watched):
        sql = f"SELECT key, value_utf8 FROM state WHERE service_name = '{SWEEPER}'"
        sql += f" AND key IN ({_literals(chunk)})"
        for row in (yield from admin_query(admin, sql, timeout)):
            state = _loads(row["value_utf8"]).get("last_state")
            if state:
                seen[row["key"].removeprefix(WATCH_PREFIX)] = state
    return seen


def _deliveries(
    admin: str, records: Iterable[dict[str, Any]], timeout: float
) -> Operation[dict[str, dict[str, Any]]]:
    """{webhook-id: the delivery object's status} for the promises that push."""
    webhook_ids = [r["webhook_id"] for r in records if r.get("webhook_id")]
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(webhook_ids):
        sql = f"SELECT service_key, value_utf8 FROM state WHERE service_name = '{DELIVERY}'"
        sql += f" AND key = 'status' AND service_key IN ({_literals(chunk)})"
        for row in (yield from admin_query(admin, sql, timeout)):
            status = _loads(row["value_utf8"])
            if isinstance(status, dict):
                found[row["service_key"]] = DeliveryStatus.model_validate(status).model_dump()
    return found


def _submitted(record: dict[str, Any]) -> datetime:
    when = datetime.fromisoformat(record["submitted_at"])
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _loads(text: str) -> Any:
    return json.loads(text)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _literals(texts: list[str]) -> str:
    return ", ".join(_literal(text) for text in texts)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
