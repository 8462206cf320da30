"""One stack per session for the kit's tests: a real restate-server, the fake service process
registered with it, the fake dependency in this process, and the real listener for push.
No local Athena: the durable logic is driven by the fake alone."""

import os
import sys
from collections.abc import Iterator

import pytest

from infra.local.components import define_restate
from infra.local.config import ROOT
from infra.local.identity import request_identity
from infra.local.processes import ManagedProcess
from infra.local.stack import LocalStack, Ports, StackConfig
from service.memory import REPORT_ENV
from service.promisify.testing import FakeDependency
from tests.kit.support import Kit
from tests.stack_support import extra_listener

# Short everything, so the whole set runs in about a minute: the fields of PromiseSettings.
FAST_SETTINGS = {
    "POLL_INITIAL_S": "0.05",
    "POLL_MAX_S": "0.2",
    "SAFETY_NET_INTERVAL_S": "1",
    "STATUS_CALLS_PER_S": "20",
    "SWEEPER_SHARDS": "2",
    # A call that keeps failing ends the promise FAILED after 3 s, not 10 minutes.
    "RETRY_WINDOW_S": "3",
    "DEFAULT_TIMEOUT_S": "30",
    # Early news unclaimed for a second is forgotten: a job may outlast that (test_races).
    "UNCLAIMED_NEWS_RETENTION_S": "1",
    "ALLOW_PRIVATE_CALLBACKS": "true",
    "WEBHOOK_ATTEMPT_TIMEOUT_S": "5",
    "WEBHOOK_FIRST_BACKOFF_S": "0.2",
    "WEBHOOK_MAX_BACKOFF_S": "1",
}


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    tmp = tmp_path_factory.mktemp("kit")
    config = StackConfig(base_dir=tmp / "restate", ports=Ports.free(), with_listener=False)
    stack = LocalStack(config)
    stack.log_dir.mkdir(parents=True)
    identity = request_identity(config.base_dir)
    memory_report = tmp / "service-memory.jsonl"  # written only when a test sends SIGUSR1
    # Sized as the local stack's single node (define_restate), from a fresh base directory.
    (restate,) = define_restate(config, stack.log_dir, identity, dict(os.environ))
    with FakeDependency(stack.ingress_url) as fake:
        fake.batch_unsupported.add("fakeNoBatch")
        service_env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
            "SERVICE_PORT": str(config.ports.service),
            "FAKE_DEPENDENCY_URL": fake.url,
            "RESTATE_IDENTITY_KEYS": identity.public_key,
            "PROMISE_WEBHOOK_SECRET": config.webhook_secret,
            REPORT_ENV: str(memory_report),
            **{f"PROMISE_{name}": value for name, value in FAST_SETTINGS.items()},
        }
        service = ManagedProcess(
            "service",
            [sys.executable, "-m", "tests.kit.fake_service"],
            service_env,
            stack.log_dir,
            f"{stack.service_url}/health",
            ports=[config.ports.service],
        )
        listener, listener_url = extra_listener(stack, tmp)
        # `stack.restart("service")` and `stack.stop()` act on these, as on the local stack.
        stack.processes = {"restate": restate, "service": service, "listener": listener}
        try:
            restate.start(timeout_s=120)
            service.start()
            listener.start()
            stack.register_deployment()
            yield Kit(fake, stack, listener_url, memory_report)
        finally:
            stack.stop()
