"""One real local stack per test session: restate-server, local Athena, service, listener."""

from collections.abc import Iterator

import pytest

from infra.local.stack import LocalStack
from tests.stack_support import running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as local_stack:
        yield local_stack
