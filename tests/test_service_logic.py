"""Pure logic of the service: request validation, value decoding, tokens, backoff."""

import itertools
import uuid

import pytest
from pydantic import ValidationError

from service.app import athena_promise, promise_settings
from service.athena.decode import decode_cell, decode_rows
from service.models import (
    DEMO_QUERY,
    Column,
    QueryRequest,
    describe_request_error,
    invocation_id_of,
    webhook_id_for,
)
from service.promisify.backoff import backoff_delay
from service.promisify.delivery.models import (
    MAX_KEY_BYTES,
    Attempt,
    DeliveryPolicy,
    DeliveryStatus,
    WebhookOrigin,
    backoff_s,
    count_attempt,
    origin_of,
)
from service.promisify.delivery.webhook import signed_headers
from service.promisify.plan import Handed, PromiseStart, start_token
from service.promisify.sweeper import GROWTH, shard_of
from service.settings import SettingsError, from_environment, settings
from webhooks.signature import verify


def test_an_empty_request_is_the_demo_query() -> None:
    assert QueryRequest.model_validate({}).query == DEMO_QUERY
    assert QueryRequest.model_validate({"request": "SELECT 1"}).query == "SELECT 1"
    assert QueryRequest.model_validate({"query": "SELECT 2"}).query == "SELECT 2"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"query": ""}, "query: must not be empty"),
        ({"max_rows": -5}, "max_rows: Input should be greater than or equal to 0"),
        ({"timeout_s": -1}, "timeout_s: Input should be greater than 0"),
        ({"colour": "red"}, "colour: is not a known field"),
        ({"callback_url": "ftp://x.example/"}, "callback_url: must use http or https"),
        ({"callback_url": "http://a..b/"}, "callback_url: host 'a..b' has an empty label"),
        ({"max_rows": "10"}, "max_rows: Input should be a valid integer"),
        ({"max_rows": True}, "max_rows: Input should be a valid integer"),
        ({"timeout_s": "5"}, "timeout_s: Input should be a valid number"),
        ({"timeout_s": float("nan")}, "timeout_s: nan is not a number of seconds"),
        ({"timeout_s": float("inf")}, "timeout_s: inf is not a number of seconds"),
        ({"query": 42}, "query: Input should be a valid string"),
        ({"callback_url": 42}, "callback_url: Input should be a valid string"),
    ],
)
def test_validation_errors_name_the_field(body: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        QueryRequest.model_validate(body)
    assert expected in describe_request_error(caught.value)


@pytest.mark.parametrize(
    ("athena_type", "text", "value"),
    [
        ("integer", "7", 7),
        ("bigint", "-9007199254740993", -9007199254740993),
        ("double", "42.0", 42.0),
        ("double", "NaN", "NaN"),
        ("double", "Infinity", "Infinity"),
        ("boolean", "true", True),
        ("boolean", "false", False),
        ("varchar", "hello", "hello"),
        ("date", "2024-01-01", "2024-01-01"),
        ("timestamp", "2024-01-01 00:00:00.000", "2024-01-01 00:00:00.000"),
        ("decimal", "12345678901234567890.12", "12345678901234567890.12"),
        ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("integer", "not a number", "not a number"),
        ("integer", None, None),
    ],
)
def test_cells_are_decoded_by_athena_type(
    athena_type: str, text: str | None, value: object
) -> None:
    assert decode_cell(athena_type, text) == value


def test_rows_decode_column_by_column() -> None:
    columns = [Column(name="id", type="varchar"), Column(name="value", type="double")]
    assert decode_rows(columns, [["a", "17"], ["b", None]]) == [["a", 17.0], ["b", None]]


def test_the_start_token_is_stable_per_invocation_and_fits_athena() -> None:
    token = start_token("inv_1abc")
    assert token == start_token("inv_1abc")
    assert token != start_token("inv_1abd")
    assert 32 <= len(token) <= 128


def test_sweeper_checks_grow_from_first_to_max_and_shards_spread_queries() -> None:
    delays = [backoff_delay(0.25, 5, check, growth=GROWTH) for check in range(12)]
    assert delays[0] == 0.25
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert max(delays) == 5
    shards = {shard_of(str(uuid.uuid4()), 16) for _ in range(400)}
    assert shards == {str(n) for n in range(16)}  # every one of 16 shards gets some
    assert shard_of("a", 16) == shard_of("a", 16)


def webhook_policy(retry_window_s: float = 86400) -> DeliveryPolicy:
    return DeliveryPolicy(
        attempt_timeout_s=15,
        retry_window_s=retry_window_s,
        first_backoff_s=1,
        max_backoff_s=600,
        allow_private=False,
        started_at=0.0,
    )


def test_webhook_backoff_is_capped_jittered_and_honours_retry_after() -> None:
    policy = webhook_policy()
    assert backoff_s(policy, 1, 0.0, None) == 0.5
    assert backoff_s(policy, 1, 1.0, None) == 1.0
    assert backoff_s(policy, 20, 1.0, None) == 600
    assert backoff_s(policy, 1, 0.0, 120) == 120


@pytest.mark.parametrize(
    ("verdict", "finished_at", "state", "waits"),
    [
        ("delivered", 1.0, "delivered", False),
        ("give_up", 1.0, "gave_up", False),
        ("retry", 1.0, "retrying", True),
        ("retry", 99.9, "gave_up", False),  # the next try would fall outside the window
    ],
)
def test_each_attempt_is_counted_and_decides_what_comes_next(
    verdict: str, finished_at: float, state: str, waits: bool
) -> None:
    status = DeliveryStatus(webhook_id="msg_x", callback_url="https://x.example", attempts=1)
    outcome = Attempt.model_validate(
        {"verdict": verdict, "status": 503, "error": "HTTP 503", "finished_at": finished_at}
    )
    delay = count_attempt(status, outcome, webhook_policy(retry_window_s=100), jitter=1.0)
    assert (status.state, status.attempts, status.last_status) == (state, 2, 503)
    assert (delay is not None) == waits
    if delay is not None:
        assert delay == 2.0  # the second retry of a 1 s first backoff, full jitter


def test_a_webhook_id_leads_back_to_its_promise() -> None:
    # `webhookDelivery/status` asks the promise for a delivery its first attempt settled.
    assert invocation_id_of(webhook_id_for("inv_1abc")) == "inv_1abc"
    assert invocation_id_of("msg_") is None
    assert invocation_id_of("inv_1abc") is None


@pytest.mark.parametrize("key", ["k", "my key/é?#", "a~b.c", "x" * MAX_KEY_BYTES, "=="])
def test_a_direct_promises_webhook_id_leads_back_to_its_key_and_its_run(key: str) -> None:
    # A direct promise is the workflow of the caller's key; its run's invocation keeps the
    # id unique if the key is used again after its retention.
    webhook_id = webhook_id_for("inv_1abc", key)
    assert origin_of(webhook_id) == WebhookOrigin("inv_1abc", key)
    assert invocation_id_of(webhook_id) == "inv_1abc"
    assert webhook_id != webhook_id_for("inv_2xyz", key)
    # Safe in a URL path and a header as it is, and what receivers take (no `.` or `/`).
    assert all(c.isalnum() or c in "_-~" for c in webhook_id)


def test_the_longest_direct_key_makes_a_webhook_id_receivers_verify() -> None:
    invocation_id = "inv_" + "1" * 34  # as long as Restate's ids are
    webhook_id = webhook_id_for(invocation_id, "é" * (MAX_KEY_BYTES // 2))
    body, now = b'{"state":"SUCCEEDED"}', 1_700_000_000
    headers = signed_headers(settings().webhook_secret, webhook_id, now, body)
    verified = verify(settings().webhook_secret, headers, body, now=now)
    assert verified.webhook_id == webhook_id


@pytest.mark.parametrize(
    "webhook_id", ["msg_inv_1~!!", "msg_inv_1~YQ=", "msg_~YQ", "msg_inv_1~__8"]
)
def test_a_webhook_id_no_promise_made_leads_nowhere(webhook_id: str) -> None:
    assert origin_of(webhook_id) is None


def test_the_plan_fills_the_defaults_and_snapshots_the_delivery_policy() -> None:
    # Journaled in the promise's first step: a replay after a redeploy runs with the same values.
    planned = athena_promise.promise.planner.check_and_plan(QueryRequest(query="SELECT 1"))
    assert planned.request.max_rows == settings().default_max_rows
    assert planned.plan.timeout_s == settings().default_timeout_s
    assert planned.plan.delivery.retry_window_s == settings().webhook_retry_window_s
    assert planned.plan.completion.mode == promise_settings().completion_mode
    asked = athena_promise.promise.planner.check_and_plan(QueryRequest(max_rows=3, timeout_s=9))
    assert (asked.request.max_rows, asked.plan.timeout_s) == (3, 9)


def test_the_promise_takes_what_a_front_of_either_version_hands_it() -> None:
    # Today's front hands the parsed request; the promise plans it in its own first step.
    handed = Handed[QueryRequest].model_validate_json(
        Handed(request=QueryRequest(query="SELECT 1")).model_dump_json()
    )
    assert (handed.request.query, handed.plan) == ("SELECT 1", None)
    # The previous front planned in its own step and handed the plan (and its id) along: a
    # promise it started during an upgrade runs with that plan, not a second one.
    planned = athena_promise.promise.planner.check_and_plan(QueryRequest(max_rows=3))
    earlier: PromiseStart[QueryRequest] = PromiseStart(
        request=planned.request, invocation_id="inv_1", plan=planned.plan
    )
    handed = Handed[QueryRequest].model_validate_json(earlier.model_dump_json())
    assert (handed.request.max_rows, handed.plan) == (3, planned.plan)


def test_service_types_stay_what_running_systems_registered() -> None:
    # Restate refuses a deployment that changes a service's type (META0006, seen on 1.7.12
    # when webhookDelivery briefly became a workflow): a change here blocks every upgrade.
    from service.app import SERVICES

    assert {service.name: type(service).__name__ for service in SERVICES} == {
        "query": "Service",
        "promise": "Workflow",
        "queries": "Workflow",  # the direct entry, added beside the front
        "sweeper": "VirtualObject",
        "completion": "VirtualObject",
        "athenaEvents": "Service",
        "webhookDelivery": "VirtualObject",
    }


def test_handler_names_stay_what_running_systems_call() -> None:
    # A promise pinned to the previous deployment calls these by name on the newest one (the
    # front its workflow's run, the workflow its mailbox, the sweeper, the delivery): a
    # renamed handler strands it (RT0018, "handler not found"), retried forever.
    from service.app import SERVICES

    workflow = ["cancel", "delivery", "redeliver", "run", "status"]
    assert {service.name: sorted(service.handlers) for service in SERVICES} == {
        "query": ["query"],
        "promise": workflow,
        "queries": workflow,
        "sweeper": ["sweep", "watch", "watchView"],
        "completion": [
            *["athenaState", "awaitEvent", "forget", "onAthenaState", "onChecksFailed"],
            *["onEvent", "onStateChange", "rearm"],
        ],
        "athenaEvents": ["onStateChange"],
        "webhookDelivery": ["deliver", "forget", "held", "publicKeys", "status"],
    }


def test_a_bad_setting_is_a_sentence_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        from_environment({"COMPLETION_MODE": "sometimes", "SAFETY_NET_INTERVAL_S": "-1"})
    message = str(caught.value)
    assert "COMPLETION_MODE='sometimes': Input should be 'events', 'poll' or 'both'" in message
    assert "SAFETY_NET_INTERVAL_S='-1': Input should be greater than 0" in message


def test_json_numbers_are_numbers_and_nan_is_named() -> None:
    assert QueryRequest.model_validate_json('{"timeout_s": 60, "max_rows": 0}').timeout_s == 60
    with pytest.raises(ValidationError) as caught:
        QueryRequest.model_validate_json('{"timeout_s": NaN}')
    assert "timeout_s: nan is not a number of seconds" in describe_request_error(caught.value)


def test_a_webhook_secret_that_is_not_a_whsec_key_is_a_settings_error() -> None:
    with pytest.raises(SettingsError) as caught:
        from_environment({"WEBHOOK_SECRET": "whsec_!!not-base64!!"})
    assert "WEBHOOK_SECRET=(hidden): webhook secret #1 is not whsec_" in str(caught.value)
    assert "not-base64" not in str(caught.value)


def test_settings_come_from_the_environment_with_local_defaults() -> None:
    current = from_environment({"AWS_DEFAULT_REGION": "eu-west-1", "COMPLETION_MODE": "events"})
    assert current.aws_region == "eu-west-1" and current.completion_mode == "events"
    assert from_environment({}).athena_workgroup == "primary"
