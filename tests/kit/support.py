"""What the kit's tests do as a user would: submit, attach, ask status, cancel, read pushes."""

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from infra.local.stack import LocalStack
from service.promisify.delivery.models import webhook_id_for
from service.promisify.testing import FRONT_HANDLER, FakeDependency, FakeJobRecord
from tests.stack_support import deliveries, wait_until


@dataclass
class Kit:
    fake: FakeDependency
    stack: LocalStack
    listener_url: str
    memory_report: Path

    @property
    def ingress_url(self) -> str:
        return self.stack.ingress_url


@dataclass
class Submitted:
    """One promise a test started: by its key, its invocation, and the tag in its spec;
    through the front, or (`direct`) as the workflow of its key."""

    kit: Kit
    flavor: str
    key: str
    invocation_id: str
    tag: str
    direct: bool = False

    @property
    def webhook_id(self) -> str:
        return webhook_id_for(self.invocation_id, self.key if self.direct else None)

    @property
    def promise_url(self) -> str:
        """Where its status and cancel are: by invocation id, or by the key itself."""
        if self.direct:
            return f"{self.kit.ingress_url}/{self.flavor}Direct/{self.key}"
        return f"{self.kit.ingress_url}/{self.flavor}Promise/{self.invocation_id}"

    def result(self, timeout: float = 60) -> requests.Response:
        """What the caller pulls: the front's answer, attached by the idempotency key (or the
        direct workflow's, by its key)."""
        path = f"restate/invocation/{self.flavor}/{FRONT_HANDLER}/{self.key}/attach"
        if self.direct:
            path = f"restate/workflow/{self.flavor}Direct/{self.key}/attach"
        response = requests.get(f"{self.kit.ingress_url}/{path}", timeout=timeout)
        assert response.status_code == 200, response.text
        return response

    def outcome(self, timeout: float = 60) -> dict[str, Any]:
        return dict(self.result(timeout).json())

    def status(self) -> dict[str, Any]:
        response = requests.post(f"{self.promise_url}/status", timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def status_once_started(self) -> dict[str, Any] | None:
        """The status, or None while the front has not handed the promise its start yet
        (a status asked a moment after the send is a 404 until then)."""
        response = requests.post(f"{self.promise_url}/status", timeout=10)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return dict(response.json())

    def cancel(self, reason: str | None = None) -> dict[str, Any]:
        body = {"reason": reason} if reason else {}
        response = requests.post(f"{self.promise_url}/cancel", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def job(self, timeout_s: float = 30) -> FakeJobRecord:
        """The fake's record of the job this promise started, once it started it."""
        jobs = wait_until(lambda: self.kit.fake.jobs_tagged(self.tag), timeout_s, "the job")
        (job,) = jobs
        return job  # type: ignore[no-any-return]

    def wait_for_phase(self, *phases: str, timeout_s: float = 30) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            shown = self.status_once_started()
            return shown if shown and shown["phase"] in phases else None

        return dict(wait_until(reached, timeout_s, f"phase {' or '.join(phases)}"))

    def pushed(self, timeout_s: float = 30) -> str:
        """The one body the listener stored for this promise; exactly one webhook-id."""

        def mine() -> list[dict[str, Any]]:
            stored = deliveries(self.kit.listener_url)
            ours = self.invocation_id
            return [d for d in stored if json.loads(d["body"])["invocation_id"] == ours]

        found = wait_until(mine, timeout_s, f"the push of {self.invocation_id}")
        assert [d["webhook_id"] for d in found] == [self.webhook_id]
        return str(found[0]["body"])


def submit(
    kit: Kit,
    spec: str = "",
    flavor: str = "fakeJob",
    push: bool = True,
    direct: bool = False,
    **fields: Any,
) -> Submitted:
    """Send a job to the flavor's front (fire and forget), as `POST /{front}/submit/send`, or
    to its direct entry, `POST /{flavor}Direct/{key}/run/send`."""
    tag = str(uuid.uuid4())
    body: dict[str, Any] = {"spec": f"{spec} tag={tag}".strip(), **fields}
    if push:
        body["callback_url"] = f"{kit.listener_url}/callback"
    key = str(uuid.uuid4())
    if direct:
        url, headers = f"{kit.ingress_url}/{flavor}Direct/{key}/run/send", {}
    else:
        url, headers = f"{kit.ingress_url}/{flavor}/{FRONT_HANDLER}/send", {"idempotency-key": key}
    response = requests.post(url, json=body, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    return Submitted(kit, flavor, key, response.json()["invocationId"], tag, direct)
