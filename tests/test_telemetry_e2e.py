"""Metrics and traces from real processes: restate-server, the service, the local Athena.

A few promises, one per ending, are scraped from the service's own metrics port; a promise
resumed by a new service process is not counted as started again. One promise is traced from
the caller's request through restate-server's spans and the service's to the webhook's
`traceparent`, all in one trace, collected by an OTLP receiver of the test's own.
"""

import secrets
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from infra.local.stack import LocalStack
from tests.otlp_receiver import ReceivedSpan, header_keeping_receiver, otlp_receiver
from tests.stack_support import (
    attach,
    configure_athena,
    extra_listener,
    running_execution,
    running_stack,
    send,
    submit,
    tagged,
    wait_until,
)

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...

Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(url: str) -> Samples:
    text = requests.get(url, timeout=10).text
    samples: Samples = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append((sample.labels, sample.value))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(
        number
        for found, number in samples.get(name, [])
        if all(found.get(key) == wanted for key, wanted in labels.items())
    )


def test_metrics_count_promises_by_ending_athena_calls_and_webhook_attempts(
    tmp_path: Path,
) -> None:
    # Athena throttles a share of every call: botocore and the durable steps ride it out.
    with running_stack(tmp_path, athena_args=["--throttle-rate", "0.3"]) as stack:
        gone, gone_url = extra_listener(stack, tmp_path, "--fail-always", "--fail-status", "410")
        gone.start()
        try:
            check_the_counts(stack, f"{gone_url}/callback")
            configure_athena(stack, throttle_rate=0)
            check_a_resumed_promise_is_not_started_again(stack)
        finally:
            gone.stop()


def check_the_counts(stack: LocalStack, gone_url: str) -> None:
    listener = f"{stack.listener_url}/callback"
    bodies = {
        "pushed": {"query": tagged("SELECT 1 AS x"), "callback_url": listener},
        "pulled": {"query": tagged("SELECT 2 AS y")},
        "failed": {"query": tagged('SELECT * FROM "demo_db"."no_such_table"')},
        "gone": {"query": tagged("SELECT 3 AS z"), "callback_url": gone_url},
        "late": {"query": tagged("SELECT 4 AS w", "run_time_s=30"), "timeout_s": 1},
    }
    with ThreadPoolExecutor(len(bodies)) as pool:
        futures = {
            name: pool.submit(submit, stack, body, None, 120) for name, body in bodies.items()
        }
    states = {name: future.result().json()["state"] for name, future in futures.items()}
    assert states == {
        "pushed": "SUCCEEDED",
        "pulled": "SUCCEEDED",
        "failed": "FAILED",
        "gone": "SUCCEEDED",
        "late": "TIMED_OUT",
    }
    (url,) = stack.metrics_urls

    def settled() -> Samples | None:
        # The 410's give-up is counted when the delivery object has taken it in.
        samples = scrape(url)
        return samples if value(samples, "promise_webhook_gave_up_total") >= 1 else None

    samples = wait_until(settled, 30, "the give-up to be counted")
    athena = {"dependency": "Athena"}
    assert value(samples, "promise_started_total", **athena) == 5
    assert value(samples, "promise_ended_total", state="SUCCEEDED", **athena) == 3
    assert value(samples, "promise_ended_total", state="FAILED", **athena) == 1
    assert value(samples, "promise_ended_total", state="TIMED_OUT", **athena) == 1
    assert value(samples, "promise_in_flight", **athena) == 0
    # The kit's calls to the adapter, and every HTTP request to Athena, throttles included.
    calls = "promise_dependency_calls_total"
    assert value(samples, calls, operation="start", outcome="ok", **athena) == 5
    assert value(samples, calls, operation="stop", outcome="ok", **athena) >= 1
    assert value(samples, calls, operation="describe", outcome="ok", **athena) >= 5
    requests_ = "athena_requests_total"
    assert value(samples, requests_, operation="StartQueryExecution", outcome="ok") == 5
    assert value(samples, requests_, operation="StopQueryExecution", outcome="ok") >= 1
    assert value(samples, requests_, operation="GetQueryExecution", outcome="ok") >= 5
    assert value(samples, requests_, operation="GetQueryResults", outcome="ok") >= 3
    assert value(samples, requests_, outcome="throttled") >= 1
    # One webhook delivered at its first POST, one given up on a 410.
    assert value(samples, "promise_webhook_attempts_total", outcome="delivered") == 1
    assert value(samples, "promise_webhook_attempts_total", outcome="give_up") == 1
    assert value(samples, "promise_webhook_gave_up_total") == 1
    assert value(samples, "promise_completion_to_result_seconds_count", **athena) == 5
    assert value(samples, "promise_completion_to_delivery_seconds_count") == 1
    # restate-server's own metrics, beside them.
    (restate_url,) = stack.restate_metrics_urls
    assert "restate_" in requests.get(restate_url, timeout=10).text


def check_a_resumed_promise_is_not_started_again(stack: LocalStack) -> None:
    """A promise the service was SIGKILLed under resumes on a new process, which replays its
    start: that process counts its ending, and neither its start nor an Athena start call."""
    sql, key = tagged("SELECT 5 AS v", "run_time_s=3"), str(uuid.uuid4())
    send(stack, {"query": sql}, key).raise_for_status()
    running_execution(stack, sql)
    stack.restart("service", kill=True)
    assert attach(stack, key, timeout=120).json()["state"] == "SUCCEEDED"
    samples = scrape(stack.metrics_urls[0])
    athena = {"dependency": "Athena"}
    assert value(samples, "promise_started_total", **athena) == 0
    assert value(samples, "promise_ended_total", state="SUCCEEDED", **athena) == 1
    assert value(samples, "athena_requests_total", operation="StartQueryExecution") == 0
    # It was counted in "queued" by the process that died, and out of it by this one: each
    # process holds its share, and only their sum (sum without (instance)) means anything.
    assert value(samples, "promise_in_flight", phase="queued", **athena) == -1


def spans_of(spans: list[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.trace_id == trace_id]


def test_one_promise_is_one_trace_from_the_callers_request_to_the_webhook(
    tmp_path: Path,
) -> None:
    with otlp_receiver() as (collector, traces_url), header_keeping_receiver() as (hooks, hook):
        # The service's spans leave within a fifth of a second, not the SDK's five.
        env = {"OTEL_BSP_SCHEDULE_DELAY": "200"}
        with running_stack(tmp_path, traces_endpoint=traces_url, service_env=env) as stack:
            # The caller starts the trace: its traceparent goes in with the request.
            trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
            answer = requests.post(
                f"{stack.ingress_url}/query/query",
                json={"query": tagged("SELECT 1 AS x"), "callback_url": hook},
                headers={
                    "idempotency-key": str(uuid.uuid4()),
                    "traceparent": f"00-{trace_id}-{caller_span}-01",
                },
                timeout=120,
            )
            result: dict[str, Any] = answer.json()
            assert result["state"] == "SUCCEEDED"

            def whole_trace() -> list[ReceivedSpan] | None:
                # restate-server exports an attempt's span when the attempt is over: wait for
                # the parent of every one of the service's spans.
                mine = spans_of(collector.snapshot(), trace_id)
                ids = {span.span_id for span in mine}
                ours = [span for span in mine if span.service == "athena-promise"]
                posted = any(span.name == "POST webhook" for span in ours)
                joined = all(span.parent_span_id in ids for span in ours)
                front = any(
                    span.attributes.get("restate.invocation.id") == result["invocation_id"]
                    for span in mine
                )
                called = any(span.parent_span_id == caller_span for span in mine)
                return mine if posted and joined and front and called else None

            trace = wait_until(whole_trace, 60, "restate-server's and the service's spans")
    by_id = {span.span_id: span for span in trace}
    service_spans = [span for span in trace if span.service == "athena-promise"]
    restate_spans = [span for span in trace if span.service != "athena-promise"]
    assert {"Athena start", "Athena describe", "POST webhook"} <= {s.name for s in service_spans}
    # restate-server's spans: the ingress request (a child of the caller's) and the
    # invocations of the front and of the promise's run.
    invocations = {span.attributes.get("restate.invocation.id") for span in restate_spans}
    assert result["invocation_id"] in invocations
    assert any(span.parent_span_id == caller_span for span in restate_spans)
    # Each of the service's spans hangs under a span of restate-server's (the attempt).
    for span in service_spans:
        assert span.parent_span_id in by_id, span
        assert by_id[span.parent_span_id].service != "athena-promise"
    # The webhook carried the trace: a receiver can join it, under the POST's own span.
    (hook_post,) = hooks
    _, hook_trace, hook_span, _ = hook_post["headers"]["traceparent"].split("-")
    assert hook_trace == trace_id
    assert by_id[hook_span].name == "POST webhook"
