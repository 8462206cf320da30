"""`make demo` is the main job: keep it working, on free ports and a temporary base dir."""

from pathlib import Path

import pytest

from infra.local.demo import run_demo
from infra.local.stack import Ports, StackConfig

pytestmark = pytest.mark.e2e  # real processes: restate-server, the service, ...


@pytest.mark.parametrize("use_lambda", [False, True], ids=["service", "lambda"])
def test_the_demo_shows_42_pulled_and_pushed_identically(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], use_lambda: bool
) -> None:
    """Unchanged with the service behind the local Lambda endpoint (`up --lambda`)."""
    config = StackConfig(base_dir=tmp_path, ports=Ports.free(), use_lambda=use_lambda)
    assert run_demo(config) == 0
    out, err = capfd.readouterr()
    assert "Attempt #1 failed: timeout of 500ms exceeded." in err
    assert "Pushed and pulled results are byte-identical" in out
    assert "The answer is 42." in out
    assert "Second run with the same key: the same result." in out
    assert "Queries Athena ran for this key: 1." in out
    assert "Athena's result file (CSV): " in out
