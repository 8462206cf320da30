"""The client's calls besides the long poll, as operations (see poller.steps): resolve a key,
call the promise by its invocation id, send without waiting, ask Restate's admin API.

A caller knows its idempotency key; the promise is addressed by the invocation that key
started. The key resolves over the public ingress without side effects: `.../K/output` says
whether the key is known (404 if not) and, once done, names the invocation; while it runs,
re-sending with the same key is de-duplicated by Restate and answers with the invocation id.
A promise that came in by the direct entry is the workflow of the key itself (`direct`).
"""

import json
from typing import Any
from urllib.parse import quote

from poller.errors import (
    BadRequest,
    IngressUnreachable,
    Refused,
    UnexpectedAnswer,
    UnknownKey,
)
from poller.ingress import DIRECT_WORKFLOW, QUERY_HANDLER_PATH, error_message
from poller.steps import HttpRequest, HttpResponse, Operation, Sleep, TransportFailure, exchange
from poller.verdicts import unreachable_message

PROMISE_PATH = "promise"
_JSON = {"content-type": "application/json"}


def one_request(request: HttpRequest, server_url: str) -> Operation[HttpResponse]:
    """One request, not retried: its answer, or the error that no answer means."""
    outcome = yield from exchange(request)
    if isinstance(outcome, TransportFailure):
        if outcome.timed_out and not outcome.could_not_connect:
            raise UnexpectedAnswer(f"No answer from {request.url} within {request.timeout_s:g}s.")
        raise IngressUnreachable(unreachable_message(server_url))
    return outcome


def resolve_invocation(
    ingress: str, key: str, timeout: float, direct: bool = False
) -> Operation[str]:
    """The invocation id that idempotency key `key` started (or that ran the direct
    workflow of `key`), or UnknownKey."""
    base, target = ingress.rstrip("/"), _target(direct)
    path = f"{base}/restate/{target}/{quote(key, safe='')}/output"
    output = yield from one_request(HttpRequest("GET", path, timeout), ingress)
    if output.status == 404:
        raise UnknownKey(_unknown(key), status=404)
    # Restate names the invocation on a failed output too (a refused request): only a
    # result means a promise began.
    if output.status < 300 and output.headers.get("x-restate-id"):
        return output.headers["x-restate-id"]
    if output.status != 470:  # 470: known, not completed yet
        message = (
            f"The query with key {key} ended without a promise (HTTP {output.status}): "
            f"{error_message(output.content)}"
        )
        if output.status == 400:  # its request was refused: the key keeps that answer
            raise BadRequest(message, status=400)
        raise UnexpectedAnswer(message, status=output.status)
    # The key is known, so this send starts nothing: Restate answers with its invocation.
    sent = yield from one_request(_send_request(ingress, key, {}, timeout, direct), ingress)
    answer = _json(sent.content) if sent.status < 300 else None
    invocation_id = answer.get("invocationId") if isinstance(answer, dict) else None
    if not isinstance(invocation_id, str):
        raise UnexpectedAnswer(f"Cannot resolve key {key}: HTTP {sent.status}", status=sent.status)
    return invocation_id


def _unknown(key: str) -> str:
    return (
        f"No query was submitted with key {key} (or it ended more than a day ago). Check the key."
    )


def _target(direct: bool) -> str:
    """What the ingress's `/restate/...` paths name a key's invocation by."""
    return f"workflow/{DIRECT_WORKFLOW}" if direct else f"invocation/{QUERY_HANDLER_PATH}"


def _send_request(
    ingress: str, key: str, body: dict[str, Any], timeout: float, direct: bool = False
) -> HttpRequest:
    base = ingress.rstrip("/")
    if direct:
        url = f"{base}/{DIRECT_WORKFLOW}/{quote(key, safe='')}/run/send"
        return HttpRequest("POST", url, timeout, _JSON, json.dumps(body).encode())
    headers = {"idempotency-key": key, **_JSON}
    return HttpRequest(
        "POST", f"{base}/{QUERY_HANDLER_PATH}/send", timeout, headers, json.dumps(body).encode()
    )


def send(
    ingress: str, key: str, body: dict[str, Any], timeout: float, direct: bool = False
) -> Operation[dict[str, Any]]:
    """POST /query/query/send (or /queries/{key}/run/send): start the query (or, for a known
    key, nothing); Restate's answer, `{"invocationId", "status"}`."""
    sent = yield from one_request(_send_request(ingress, key, body, timeout, direct), ingress)
    answer = _json(sent.content) if sent.status < 300 else None
    if not isinstance(answer, dict):
        raise UnexpectedAnswer(f"Cannot resolve key {key}: HTTP {sent.status}", status=sent.status)
    return answer


def promise_call(
    ingress: str,
    promise_key: str,
    handler: str,
    timeout: float,
    body: dict[str, object] | None = None,
    workflow: str = PROMISE_PATH,
) -> Operation[dict[str, Any]]:
    """POST /promise/{invocation_id}/{handler}, or /queries/{key}/{handler} for a direct
    promise (`promise_key` is its workflow's key either way); the JSON answer."""
    url = f"{ingress.rstrip('/')}/{workflow}/{quote(promise_key, safe='')}/{handler}"
    request = HttpRequest("POST", url, timeout, _JSON, json.dumps(body or {}).encode())
    response = yield from one_request(request, ingress)
    if response.status == 404:
        raise UnknownKey(error_message(response.content), status=404)
    if response.status != 200:
        message = f"The ingress answered HTTP {response.status}: {error_message(response.content)}"
        kind = Refused if response.status in (400, 409) else UnexpectedAnswer
        raise kind(message, status=response.status)
    answer = _json(response.content)
    return answer if isinstance(answer, dict) else {"answer": answer}


# A key that resolved names a query/query invocation, whose promise begins once the front
# has parsed the request and called it: a 404 from the promise then means "not begun yet".
NOT_BEGUN_RETRIES = 20
NOT_BEGUN_WAIT_S = 0.25


def call_by_key(
    ingress: str,
    key: str,
    handler: str,
    timeout: float,
    body: dict[str, object] | None = None,
    direct: bool = False,
) -> Operation[dict[str, Any]]:
    """Resolve `key`, then call the promise's `handler` (status, cancel, redeliver); a direct
    promise is called by the key itself."""
    if direct:
        try:
            return (yield from promise_call(ingress, key, handler, timeout, body, DIRECT_WORKFLOW))
        except UnknownKey:
            raise UnknownKey(_unknown(key), status=404) from None
    invocation_id = yield from resolve_invocation(ingress, key, timeout)
    for _ in range(NOT_BEGUN_RETRIES):
        try:
            return (yield from promise_call(ingress, invocation_id, handler, timeout, body))
        except UnknownKey:
            yield Sleep(NOT_BEGUN_WAIT_S)
    return (yield from promise_call(ingress, invocation_id, handler, timeout, body))


def admin_query(admin: str, sql: str, timeout: float) -> Operation[list[dict[str, Any]]]:
    """The rows of one SQL query on Restate's admin API (`POST /query`): its introspection
    tables (`sys_invocation`, ...) and the services' state (`state`)."""
    headers = {"accept": "application/json", **_JSON}
    body = json.dumps({"query": sql}).encode()
    request = HttpRequest("POST", f"{admin.rstrip('/')}/query", timeout, headers, body)
    response = yield from one_request(request, admin)
    if response.status != 200:
        raise UnexpectedAnswer(
            f"Restate's admin API answered HTTP {response.status}: {sql}", status=response.status
        )
    answer = _json(response.content)
    rows = answer.get("rows", []) if isinstance(answer, dict) else []
    return list(rows)


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None
