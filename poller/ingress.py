"""What the poller asks of the Restate ingress, and how to read its error bodies."""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# The service and handler of the query promise, as registered with Restate.
QUERY_HANDLER_PATH = "query/query"
# The direct entry: the promise is the workflow `queries/{key}`, run once per key.
DIRECT_WORKFLOW = "queries"

# Error bodies worth quoting are short; anything longer is an HTML page or a dump.
_MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class IngressCall:
    """One HTTP request that, repeated with the same key, leads to the same invocation."""

    method: str
    url: str
    key: str
    # The QueryRequest to submit; None when attaching to an existing invocation.
    body: dict[str, Any] | None = None
    # A direct submit: a second run of the key's workflow is a 409, and this attaches instead.
    attach_instead: "IngressCall | None" = None
    direct: bool = False

    @property
    def reattach(self) -> str:
        """The command that waits for this key's result again."""
        return f"python -m poller --key {self.key}" + (" --direct" if self.direct else "")

    @property
    def is_attach(self) -> bool:
        return self.body is None

    @property
    def headers(self) -> dict[str, str]:
        # Restate dedupes a re-POST by this key and attaches it to the first invocation; a
        # workflow is run once per key already, and takes no idempotency key.
        if self.is_attach or self.attach_instead is not None:
            return {}
        return {"idempotency-key": self.key}


def submit_call(
    ingress_url: str, key: str, body: dict[str, Any], direct: bool = False
) -> IngressCall:
    """Start the query (or re-attach, if one with this key was already started)."""
    base = ingress_url.rstrip("/")
    if direct:
        url = f"{base}/{DIRECT_WORKFLOW}/{quote(key, safe='')}/run"
        attach = attach_call(base, key, direct=True)
        return IngressCall("POST", url, key, body, attach_instead=attach, direct=True)
    return IngressCall("POST", f"{base}/{QUERY_HANDLER_PATH}", key, body)


def attach_call(ingress_url: str, key: str, direct: bool = False) -> IngressCall:
    """Wait for the invocation that was started earlier with this idempotency key (or for
    the direct workflow of this key)."""
    base, quoted = ingress_url.rstrip("/"), quote(key, safe="")
    if direct:
        url = f"{base}/restate/workflow/{DIRECT_WORKFLOW}/{quoted}/attach"
        return IngressCall("GET", url, key, direct=True)
    return IngressCall(
        "GET", f"{base}/restate/invocation/{QUERY_HANDLER_PATH}/{quoted}/attach", key
    )


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(content)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def error_message(content: bytes) -> str:
    """The human part of an error body: Restate's ``message``, else the text itself."""
    parsed = _json_object(content)
    if parsed is not None and isinstance(parsed.get("message"), str):
        text = parsed["message"]
    else:
        text = content.decode("utf-8", errors="replace")
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[:_MAX_MESSAGE_CHARS] + "..."
    return text


def is_invocation_failure(content: bytes) -> bool:
    """True when the body is an invocation's terminal error rather than the ingress's own.

    Restate answers for a failed invocation with ``{"code": <int>, "message": ...}`` and
    the code as HTTP status; its own transient errors carry only a ``message``. Retrying
    a terminal failure would only fetch the same failure again.
    """
    parsed = _json_object(content)
    code = None if parsed is None else parsed.get("code")
    return isinstance(code, int) and not isinstance(code, bool)
