"""`python -m poller redeliver`: by key over the public ingress; every give-up since a time from
Restate's admin API (the delivery object's status wins over the promise's record); and the
status that keeps every attempt."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses

from poller.cli import main
from poller.redeliver import moment
from service.promisify.delivery.models import (
    MAX_HISTORY,
    Attempt,
    DeliveryPolicy,
    DeliveryStatus,
    count_attempt,
)

INGRESS = "http://ingress.test:8080"
ADMIN = "http://admin.test:9070"
KEY = "key-1234"
SINCE = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def restate() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def delivery(state: str, finished: datetime, redeliveries: int = 0) -> dict[str, Any]:
    attempt = {"attempt": 1, "redelivery": redeliveries, "verdict": "give_up"}
    history = [{**attempt, "finished_at": finished.isoformat()}]
    return {"webhook_id": "", "callback_url": "https://x", "state": state, "history": history}


def rows(values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"rows": [{"service_key": k, "value_utf8": json.dumps(v)} for k, v in values.items()]}


def answer_sql(restate: responses.RequestsMock, *answers: dict[str, Any]) -> list[str]:
    """Answer the admin queries in order; the SQL they asked is collected."""
    asked: list[str] = []
    queue = list(answers)

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        asked.append(json.loads(request.body)["query"])
        return 200, {}, json.dumps(queue.pop(0))

    restate.add_callback(responses.POST, f"{ADMIN}/query", callback=reply)
    return asked


def test_every_give_up_since_the_time_is_redelivered_and_counted(
    restate: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    after, before = SINCE + timedelta(minutes=5), SINCE - timedelta(minutes=5)
    objects = {"msg_a": delivery("gave_up", after), "msg_old": delivery("gave_up", before)}
    records = {
        "b": {"webhook_id": "msg_b", "delivery": delivery("gave_up", after + timedelta(1))},
        # Given up at its first attempt, then redelivered: the object's status is newer.
        "c": {"webhook_id": "msg_c", "delivery": delivery("gave_up", after)},
    }
    # A direct promise (`queries/order-7`): its webhook-id carries the key, base64url.
    direct = {"order-7": {"webhook_id": "msg_d~b3JkZXItNw", "delivery": delivery("gave_up", after)}}
    taken = {"msg_c": delivery("delivered", after, redeliveries=1)}
    asked = answer_sql(restate, rows(objects), rows(records), rows(direct), rows(taken))
    for path, outcome in (("promise/a", "redelivering"), ("promise/b", "under_way")):
        restate.post(
            f"{INGRESS}/{path}/redeliver",
            json={"outcome": outcome, "message": f"{path}: {outcome}"},
        )
    restate.post(f"{INGRESS}/queries/order-7/redeliver", json={"outcome": "redelivering"})

    argv = ["redeliver", "--gave-up-since", SINCE.isoformat(), "--ingress", INGRESS]
    assert main([*argv, "--admin", ADMIN]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "gave_up_since": SINCE.isoformat(),
        "gave_up": 3,
        "redelivering": 2,
        "under_way": 1,
        "failed": 0,
    }
    assert "service_name = 'webhookDelivery' AND key = 'status'" in asked[0]
    assert "service_name = 'promise' AND key = 'record'" in asked[1]
    assert "service_name = 'queries' AND key = 'record'" in asked[2]
    assert "service_key IN ('msg_b', 'msg_c', 'msg_d~b3JkZXItNw')" in asked[3]


def test_a_give_up_under_a_webhook_id_no_promise_made_is_counted_failed_with_a_sentence(
    restate: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    # A delivery object whose key is not `msg_` + an invocation (+ `~` and a key): nothing
    # to call, and nothing is called.
    objects = {"msg_inv_1~!!": delivery("gave_up", SINCE + timedelta(minutes=1))}
    answer_sql(restate, rows(objects), rows({}), rows({}), rows({}))
    argv = ["redeliver", "--gave-up-since", SINCE.isoformat(), "--ingress", INGRESS]
    assert main([*argv, "--admin", ADMIN]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["failed"] == 1
    assert "msg_inv_1~!!: not redelivered: not a webhook-id of this service's promises" in (
        captured.err
    )


def test_redeliver_by_key_resolves_it_and_prints_the_answer(
    restate: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    output = f"{INGRESS}/restate/invocation/query/query/{KEY}/output"
    restate.get(output, status=200, headers={"x-restate-id": "inv_1"}, body=b"{}")
    answer = {"outcome": "redelivering", "redelivery": 1, "message": "Redelivering msg_inv_1"}
    restate.post(f"{INGRESS}/promise/inv_1/redeliver", json=answer)
    assert main(["redeliver", "--key", KEY, "--ingress", INGRESS]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out) == answer and "Redelivering msg_inv_1" in printed.err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-02T08:00:00Z", SINCE),
        ("2026-12-02T08:00:00", SINCE),
        ("2026-12-02T09:00:00+01:00", SINCE),
    ],
)
def test_since_is_a_time(text: str, expected: datetime) -> None:
    assert moment(text) == expected


def test_since_is_a_span_ago() -> None:
    assert abs(moment("90m") - (datetime.now(UTC) - timedelta(minutes=90))) < timedelta(seconds=5)
    with pytest.raises(Exception, match="not a time"):
        moment("yesterday")


def test_the_status_keeps_every_attempt_numbered_by_redelivery() -> None:
    policy = DeliveryPolicy(
        attempt_timeout_s=1,
        retry_window_s=10**9,
        first_backoff_s=1,
        max_backoff_s=1,
        allow_private=False,
        started_at=0,
    )
    status = DeliveryStatus(webhook_id="msg_x", callback_url="https://x.example")
    retry = Attempt(verdict="retry", status=503, error="HTTP 503", finished_at=1.0)
    count_attempt(status, retry, policy, jitter=0.5)
    status.redeliveries = 1
    count_attempt(status, Attempt(verdict="delivered", status=200, finished_at=2.0), policy, 0.5)
    assert [(a.attempt, a.redelivery, a.verdict, a.status) for a in status.history] == [
        (1, 0, "retry", 503),
        (2, 1, "delivered", 200),
    ]
    for _ in range(MAX_HISTORY):
        count_attempt(status, retry, policy, jitter=0.5)
    assert len(status.history) == MAX_HISTORY and status.attempts == MAX_HISTORY + 2
    assert status.history[-1].attempt == MAX_HISTORY + 2
