"""`python -m poller status|cancel`: the key resolved over the public ingress, no side effects."""

import json
from collections.abc import Iterator

import pytest
import responses

from poller.cli import main, split_command
from poller.exit_codes import ExitCode

INGRESS = "http://ingress.test:8080"
KEY = "key-1234"
INVOCATION = "inv_1abc"
OUTPUT_URL = f"{INGRESS}/restate/invocation/query/query/{KEY}/output"
SEND_URL = f"{INGRESS}/query/query/send"
STATUS_URL = f"{INGRESS}/promise/{INVOCATION}/status"
CANCEL_URL = f"{INGRESS}/promise/{INVOCATION}/cancel"
ATTACH_URL = f"{INGRESS}/restate/invocation/query/query/{KEY}/attach"


@pytest.fixture
def ingress() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.mark.parametrize(
    ("argv", "command", "rest"),
    [
        (["status", "--key", "k"], "status", ["--key", "k"]),
        (
            ["--ingress", "http://x", "cancel", "--key", "k"],
            "cancel",
            ["--ingress", "http://x", "--key", "k"],
        ),
        (["--key", "status"], None, ["--key", "status"]),  # a key may be called "status"
        (["--query=SELECT 1", "--key", "k"], None, ["--query=SELECT 1", "--key", "k"]),
    ],
)
def test_the_command_is_found_among_the_flags(
    argv: list[str], command: str | None, rest: list[str]
) -> None:
    assert split_command(argv) == (command, rest)


def test_status_of_a_running_promise_resolves_the_key_without_starting_anything(
    ingress: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.get(OUTPUT_URL, status=470, json={"message": "not completed"})
    ingress.post(SEND_URL, json={"invocationId": INVOCATION, "status": "PreviouslyAccepted"})
    ingress.post(STATUS_URL, json={"phase": "running", "athena_state": "RUNNING"})
    assert main(["status", "--key", KEY, "--ingress", INGRESS]) == ExitCode.SUCCEEDED
    assert json.loads(capsys.readouterr().out)["phase"] == "running"
    assert ingress.calls[1].request.headers["idempotency-key"] == KEY


def test_status_of_a_finished_promise_takes_the_id_from_the_output(
    ingress: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.get(OUTPUT_URL, status=200, json={}, headers={"x-restate-id": INVOCATION})
    ingress.post(STATUS_URL, json={"phase": "done", "state": "SUCCEEDED"})
    assert main(["status", "--key", KEY, "--ingress", INGRESS]) == ExitCode.SUCCEEDED
    assert json.loads(capsys.readouterr().out)["state"] == "SUCCEEDED"


def test_an_unknown_key_exits_6_and_sends_nothing(
    ingress: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.get(OUTPUT_URL, status=404, json={"message": "not found"})
    assert main(["cancel", "--key", KEY, "--ingress", INGRESS]) == ExitCode.NOT_FOUND
    assert "No query was submitted with key key-1234" in capsys.readouterr().err
    assert len(ingress.calls) == 1  # in particular, no /send that would start a query


def test_status_of_a_refused_request_says_why_and_exits_2(
    ingress: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Restate names the invocation on a failed output too: the refusal is the answer.
    reason = "Invalid query request. callback_url: resolves to 169.254.169.254, a metadata address"
    headers = {"x-restate-id": INVOCATION}
    ingress.get(OUTPUT_URL, status=400, json={"code": 400, "message": reason}, headers=headers)
    assert main(["status", "--key", KEY, "--ingress", INGRESS]) == ExitCode.BAD_INPUT
    assert reason in capsys.readouterr().err
    assert len(ingress.calls) == 1  # no status call to a promise that never began


def test_cancel_prints_the_answer_then_the_result_and_exits_4(
    ingress: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    ingress.get(OUTPUT_URL, status=470, json={"message": "not completed"})
    ingress.post(SEND_URL, json={"invocationId": INVOCATION, "status": "PreviouslyAccepted"})
    ingress.post(CANCEL_URL, json={"outcome": "cancelling", "message": "Cancelling: stopped."})
    ingress.get(ATTACH_URL, json={"state": "CANCELLED", "error": "Cancelled by request: x."})
    argv = ["cancel", "--key", KEY, "--reason", "x", "--ingress", INGRESS]
    assert main(argv) == ExitCode.CANCELLED
    assert json.loads(ingress.calls[2].request.body or b"") == {"reason": "x"}
    out, err = capsys.readouterr()
    assert json.loads(out)["state"] == "CANCELLED"
    assert "Cancelling: stopped." in err
