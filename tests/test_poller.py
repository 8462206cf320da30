"""Unit tests of the long-polling client, against a mocked ingress (the `responses` library).

End-to-end behaviour against a real Restate server is tested elsewhere; here every
retry path runs instantly with an injected sleep and clock.
"""

import json
import random
import re
from collections.abc import Iterator

import pytest
import requests
import responses

from poller.backoff import BASE_DELAY_S, MAX_DELAY_S, Backoff
from poller.cli import ingress_session, main
from poller.exit_codes import ExitCode

INGRESS = "http://ingress.test:8080"
SUBMIT_URL = f"{INGRESS}/query/query"
KEY = "key-1234"
ATTACH_URL = f"{INGRESS}/restate/invocation/query/query/{KEY}/attach"


def sent_json(call: responses.Call) -> object:
    body = call.request.body
    assert body is not None
    return json.loads(body)


def query_result(state: str = "SUCCEEDED", error: str | None = None) -> bytes:
    return json.dumps({"query_execution_id": "qe-1", "state": state, "error": error}).encode()


class FakeTime:
    """A clock that only moves when the poller sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def ingress() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def run(argv: list[str], fake_time: FakeTime) -> int:
    return main(
        ["--ingress", INGRESS, *argv],
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        rng=random.Random(7),
    )


# --- backoff ---------------------------------------------------------------------------


def test_backoff_ceiling_doubles_from_base_up_to_cap() -> None:
    backoff = Backoff(random.Random(1))
    ceilings = [backoff.ceiling(failures) for failures in range(1, 9)]
    assert ceilings == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert ceilings[0] == BASE_DELAY_S
    assert backoff.ceiling(10_000) == MAX_DELAY_S


def test_backoff_delays_stay_within_full_jitter_bounds_and_grow() -> None:
    backoff = Backoff(random.Random(42))
    means = []
    for failures in range(1, 8):
        draws = [backoff.delay(failures) for _ in range(2000)]
        assert all(0.0 <= draw <= backoff.ceiling(failures) for draw in draws)
        means.append(sum(draws) / len(draws))
    # Full jitter: the mean is about half the ceiling, so it grows until the cap.
    assert means[0] == pytest.approx(BASE_DELAY_S / 2, rel=0.1)
    assert means[:6] == sorted(means[:6])
    assert means[-1] == pytest.approx(MAX_DELAY_S / 2, rel=0.1)


def test_backoff_is_reproducible_with_a_seeded_random() -> None:
    first = [Backoff(random.Random(3)).delay(n) for n in range(1, 6)]
    second = [Backoff(random.Random(3)).delay(n) for n in range(1, 6)]
    assert first == second


# --- submitting and retrying -----------------------------------------------------------


def test_timeout_then_success_prints_the_seed_style_line(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.post(SUBMIT_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    ingress.post(SUBMIT_URL, body=query_result())

    code = run(["--key", KEY, "--query", "SELECT 1", "--timeout", "0.5"], fake_time)

    assert code == ExitCode.SUCCEEDED
    err = capsys.readouterr().err
    assert re.search(
        r"^Attempt #1 failed: timeout of 500ms exceeded\. Backing off for \d+ms\.\.\.$",
        err,
        re.MULTILINE,
    )
    assert "Waiting for the result: attempt #2, " in err
    assert len(fake_time.sleeps) == 1 and 0 <= fake_time.sleeps[0] <= BASE_DELAY_S


def test_503_is_retried_then_the_result_is_printed(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.post(SUBMIT_URL, status=503, json={"message": "unavailable"})
    ingress.post(SUBMIT_URL, status=429, body="slow down")
    ingress.post(SUBMIT_URL, body=query_result())

    assert run(["--key", KEY, "--query", "q"], fake_time) == ExitCode.SUCCEEDED

    err = capsys.readouterr().err
    assert "Attempt #1 failed: HTTP 503 unavailable. Backing off for" in err
    assert "Attempt #2 failed: HTTP 429 slow down. Backing off for" in err
    assert len(ingress.calls) == 3


def test_every_retry_sends_the_same_idempotency_key_and_body(
    ingress: responses.RequestsMock, fake_time: FakeTime
) -> None:
    ingress.post(SUBMIT_URL, status=502)
    ingress.post(SUBMIT_URL, body=requests.exceptions.ReadTimeout())
    ingress.post(SUBMIT_URL, body=requests.exceptions.ConnectionError("Connection refused"))
    ingress.post(SUBMIT_URL, body=query_result())

    assert run(["--key", KEY, "--query", "SELECT 1"], fake_time) == ExitCode.SUCCEEDED

    assert len(ingress.calls) == 4
    assert {call.request.headers["idempotency-key"] for call in ingress.calls} == {KEY}
    assert {call.request.body for call in ingress.calls} == {b'{"query": "SELECT 1"}'}


def test_a_generated_key_is_printed_and_kept_across_retries(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.post(SUBMIT_URL, status=503)
    ingress.post(SUBMIT_URL, body=query_result())

    assert run([], fake_time) == ExitCode.SUCCEEDED

    keys = {call.request.headers["idempotency-key"] for call in ingress.calls}
    assert len(keys) == 1
    (key,) = keys
    assert f"Idempotency key: {key} (re-attach with: python -m poller --key {key})" in (
        capsys.readouterr().err
    )


def test_no_query_submits_an_empty_body(
    ingress: responses.RequestsMock, fake_time: FakeTime
) -> None:
    ingress.post(SUBMIT_URL, body=query_result())

    assert run([], fake_time) == ExitCode.SUCCEEDED

    assert sent_json(ingress.calls[0]) == {}


def test_only_the_given_fields_are_submitted(
    ingress: responses.RequestsMock, fake_time: FakeTime
) -> None:
    ingress.post(SUBMIT_URL, body=query_result())
    argv = ["--query", "SELECT 2", "--callback-url", "http://hook.test/in"]
    argv += ["--max-rows", "10", "--query-timeout", "60"]

    assert run(argv, fake_time) == ExitCode.SUCCEEDED

    assert sent_json(ingress.calls[0]) == {
        "query": "SELECT 2",
        "callback_url": "http://hook.test/in",
        "max_rows": 10,
        "timeout_s": 60.0,
    }


def test_a_row_limit_of_zero_is_sent(ingress: responses.RequestsMock, fake_time: FakeTime) -> None:
    ingress.post(SUBMIT_URL, body=query_result())
    assert run(["--query", "SELECT 3", "--max-rows", "0"], fake_time) == ExitCode.SUCCEEDED
    assert sent_json(ingress.calls[0]) == {"query": "SELECT 3", "max_rows": 0}


def test_stdout_is_exactly_the_response_body(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    # Odd spacing, key order and non-ASCII must survive untouched: the webhook got these bytes.
    body = '{"state":"SUCCEEDED",  "rows": [["Zürich", 42]], "error" : null}'.encode()
    ingress.get(ATTACH_URL, body=body)

    assert run(["--key", KEY], fake_time) == ExitCode.SUCCEEDED

    assert capsys.readouterr().out == body.decode("utf-8") + "\n"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("SUCCEEDED", ExitCode.SUCCEEDED),
        ("FAILED", ExitCode.FAILED),
        ("CANCELLED", ExitCode.CANCELLED),
        ("TIMED_OUT", ExitCode.TIMED_OUT),
        ("SOMETHING_ELSE", ExitCode.ERROR),
    ],
)
def test_exit_code_follows_the_query_state(
    ingress: responses.RequestsMock,
    fake_time: FakeTime,
    capsys: pytest.CaptureFixture[str],
    state: str,
    expected: ExitCode,
) -> None:
    ingress.get(ATTACH_URL, body=query_result(state, error="boom"))

    assert run(["--key", KEY], fake_time) == expected
    # Whatever the state, the result is a result: it is printed.
    assert json.loads(capsys.readouterr().out)["state"] == state


def test_exit_code_values_are_stable() -> None:
    assert [(code.name, code.value) for code in ExitCode][:9] == [
        ("SUCCEEDED", 0),
        ("ERROR", 1),
        ("BAD_INPUT", 2),
        ("FAILED", 3),
        ("CANCELLED", 4),
        ("TIMED_OUT", 5),
        ("NOT_FOUND", 6),
        ("UNREACHABLE", 7),
        ("GAVE_UP", 8),
    ]


# --- errors that end the wait ----------------------------------------------------------


def test_400_is_bad_input_with_the_message_and_no_retry(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.post(SUBMIT_URL, status=400, json={"code": 400, "message": "max_rows must be > 0"})

    assert run(["--key", KEY, "--query", "SELECT 1"], fake_time) == ExitCode.BAD_INPUT

    assert "Invalid request: max_rows must be > 0" in capsys.readouterr().err
    assert len(ingress.calls) == 1 and fake_time.sleeps == []


def test_400_with_a_non_json_body_still_says_something(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.post(SUBMIT_URL, status=400, body="<html>bad  request</html>")

    assert run(["--key", KEY, "--query", "q"], fake_time) == ExitCode.BAD_INPUT

    assert "Invalid request: <html>bad request</html>" in capsys.readouterr().err


def test_post_404_says_the_deployment_is_not_registered(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.post(SUBMIT_URL, status=404, json={"message": "service 'query' not found"})

    assert run(["--key", KEY, "--query", "SELECT 1"], fake_time) == ExitCode.NOT_FOUND

    err = capsys.readouterr().err
    assert "not registered" in err and "python -m infra.local up registers it" in err
    assert len(ingress.calls) == 1


def test_a_terminal_invocation_failure_is_not_retried(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    # Restate returns a handler's terminal error with its code as the HTTP status.
    ingress.post(SUBMIT_URL, status=500, json={"code": 500, "message": "results lost"})

    assert run(["--key", KEY, "--query", "q"], fake_time) == ExitCode.ERROR

    assert "The query invocation failed (HTTP 500): results lost" in capsys.readouterr().err
    assert len(ingress.calls) == 1


def test_other_4xx_is_an_error_without_retry(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.post(SUBMIT_URL, status=403, body="forbidden")

    assert run(["--key", KEY, "--query", "q"], fake_time) == ExitCode.ERROR

    assert "HTTP 403: forbidden" in capsys.readouterr().err
    assert len(ingress.calls) == 1


# --- attaching -------------------------------------------------------------------------


def test_key_alone_attaches_with_get_on_the_attach_url(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.get(ATTACH_URL, body=requests.exceptions.ReadTimeout())
    ingress.get(ATTACH_URL, body=query_result())

    assert run(["--key", KEY], fake_time) == ExitCode.SUCCEEDED

    assert [call.request.method for call in ingress.calls] == ["GET", "GET"]
    assert [call.request.url for call in ingress.calls] == [ATTACH_URL, ATTACH_URL]
    assert ingress.calls[0].request.body is None
    assert "Idempotency key:" not in capsys.readouterr().err


def test_attach_404_is_not_found_without_retrying(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.get(ATTACH_URL, status=404, json={"message": "invocation not found"})

    assert run(["--key", KEY], fake_time) == ExitCode.NOT_FOUND

    err = capsys.readouterr().err
    assert f"No query was submitted with key {KEY}. Submit one with --query, or check the key." in (
        err
    )
    assert len(ingress.calls) == 1 and fake_time.sleeps == []


# --- giving up -------------------------------------------------------------------------


def test_connection_refused_repeatedly_is_unreachable(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    for _ in range(5):
        ingress.post(SUBMIT_URL, body=refused)

    assert run(["--key", KEY, "--query", "SELECT 1"], fake_time) == ExitCode.UNREACHABLE

    err = capsys.readouterr().err
    assert "Attempt #1 failed: connection refused. Backing off for" in err
    assert (
        f"Cannot reach the Restate ingress at {INGRESS}. "
        "Start the local stack with: python -m infra.local up (or make up)."
    ) in err
    assert len(ingress.calls) == 5 and len(fake_time.sleeps) == 4


def test_the_number_of_connect_failures_is_configurable(
    ingress: responses.RequestsMock, fake_time: FakeTime
) -> None:
    for _ in range(2):
        ingress.get(ATTACH_URL, body=requests.exceptions.ConnectionError("Connection refused"))

    assert run(["--key", KEY, "--max-connect-failures", "2"], fake_time) == ExitCode.UNREACHABLE
    assert len(ingress.calls) == 2


def test_a_dropped_connection_does_not_count_as_unreachable(
    ingress: responses.RequestsMock, fake_time: FakeTime
) -> None:
    # A long poll cut mid-way (say, Restate restarting) is retried as long as it takes.
    for _ in range(6):
        ingress.get(ATTACH_URL, body=requests.exceptions.ConnectionError("Connection aborted."))
    ingress.get(ATTACH_URL, body=query_result())

    assert run(["--key", KEY], fake_time) == ExitCode.SUCCEEDED
    assert len(ingress.calls) == 7


def test_max_wait_gives_up_and_names_the_key(
    ingress: responses.RequestsMock, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.get(ATTACH_URL, status=503)

    assert run(["--key", KEY, "--max-wait", "10"], fake_time) == ExitCode.GAVE_UP

    err = capsys.readouterr().err
    assert f"re-attach with: python -m poller --key {KEY}" in err
    assert fake_time.now < 10
    assert len(ingress.calls) > 3


def test_max_wait_caps_the_request_timeout(
    ingress: responses.RequestsMock, fake_time: FakeTime
) -> None:
    only_short_timeouts = responses.matchers.request_kwargs_matcher({"timeout": 2.0})
    ingress.post(SUBMIT_URL, body=query_result(), match=[only_short_timeouts])

    assert run(["--key", KEY, "--query", "q", "--max-wait", "2"], fake_time) == 0


# --- the command line ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--timeout", "-1"],
        ["--timeout", "abc"],
        ["--max-wait", "0"],
        ["--max-rows", "-1"],
        ["--query-timeout", "-5"],
        ["--ingress", "localhost:8080"],
        ["--key", "has space"],
        ["--no-such-flag"],
    ],
)
def test_bad_flags_exit_2_before_any_request(
    ingress: responses.RequestsMock, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == ExitCode.BAD_INPUT
    assert "error:" in capsys.readouterr().err
    assert len(ingress.calls) == 0


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(code.name in out for code in ExitCode)


def test_ingress_url_comes_from_the_environment(
    ingress: responses.RequestsMock, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESTATE_INGRESS_URL", "http://elsewhere.test:1234/")
    ingress.post("http://elsewhere.test:1234/query/query", body=query_result())

    code = main([], sleep=fake_time.sleep, clock=fake_time.clock)

    assert code == ExitCode.SUCCEEDED


def test_a_restate_auth_token_is_sent_as_a_bearer_token() -> None:
    assert ingress_session({"RESTATE_AUTH_TOKEN": "key_123"}).headers["Authorization"] == (
        "Bearer key_123"
    )
    assert "Authorization" not in ingress_session({}).headers
