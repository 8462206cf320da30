"""One real local stack per test session: restate-server, local Athena, service, listener."""

from collections.abc import AsyncIterator, Iterator

import pytest

from infra.local.stack import LocalStack
from service.promisify import connections
from tests.stack_support import running_stack


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--heavy", action="store_true", help="also run the heavy variants (@pytest.mark.heavy)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "heavy: minutes of load or repeated failures; runs only with --heavy"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--heavy"):
        return
    skip = pytest.mark.skip(reason="a heavy variant: run with --heavy")
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as local_stack:
        yield local_stack


@pytest.fixture
async def kept_connections() -> AsyncIterator[None]:
    """For tests that call out in their own event loop (webhooks, Athena): the connections
    kept alive are closed with the test, as the service closes them when it stops."""
    yield
    await connections.close_all()
