"""The same promise pulled from Restate's ingress, to set beside what was pushed.

A webhook-id is `msg_` + the invocation id of `query/query` (the service's `webhook_id_for`),
or of a direct `queries/{key}/run` followed by `~` and the key, and Restate's ingress answers
`GET /restate/invocation/{id}/attach` with that invocation's output: the bytes the
long-polling client gets for the caller's key.
"""

from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

# As in service/promisify/delivery/models.py; the listener does not import the service.
WEBHOOK_ID_PREFIX = "msg_"
KEY_MARK = "~"
PULL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Pulled:
    """What the ingress answered, or why there is no answer (`problem`, a sentence)."""

    url: str | None
    status: int | None = None
    body: bytes | None = None
    problem: str | None = None
    # False while it may still come (the promise returns just after it pushes).
    final: bool = True


def invocation_id_of(webhook_id: str) -> str | None:
    invocation_id = webhook_id.removeprefix(WEBHOOK_ID_PREFIX).partition(KEY_MARK)[0]
    return invocation_id if invocation_id and invocation_id != webhook_id else None


async def pull(
    session: aiohttp.ClientSession,
    ingress: str,
    webhook_id: str,
    timeout_s: float = PULL_TIMEOUT_S,
) -> Pulled:
    invocation_id = invocation_id_of(webhook_id)
    if invocation_id is None:
        return Pulled(None, problem=f"{webhook_id} is not msg_ + an invocation id: nothing to pull")
    url = f"{ingress.rstrip('/')}/restate/invocation/{quote(invocation_id, safe='')}/attach"
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with session.get(url, timeout=timeout) as response:
            body = await response.read()
    except TimeoutError:
        return Pulled(url, problem=f"not completed within {timeout_s:g} s", final=False)
    except aiohttp.ClientError as error:
        return Pulled(url, problem=f"the ingress is unreachable: {error}", final=False)
    if response.status == 200:
        return Pulled(url, response.status, body)
    if response.status == 404:
        # A retry cannot change this: the id is not one of Restate's, or its retention is over.
        problem = f"the ingress knows no invocation {invocation_id} (or no longer keeps it)"
        return Pulled(url, response.status, problem=problem)
    answer = body[:300].decode("utf-8", errors="replace")
    final = response.status < 500 and response.status != 429
    return Pulled(url, response.status, problem=f"HTTP {response.status}: {answer}", final=final)
