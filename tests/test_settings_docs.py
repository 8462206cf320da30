"""The settings tables in docs/settings.md list every variable the settings models read, and
no other."""

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from envconfig import all_variables
from infra.local.config import Ports, StackSecrets
from listener.settings import ListenerSettings
from service.settings import Settings

SETTINGS_DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def documented_variables(heading: str) -> set[str]:
    """Every `UPPER_CASE` name in the first column of the table under `## heading`."""
    text = SETTINGS_DOC.read_text()
    assert f"\n## {heading}\n" in text, f"docs/settings.md has no section '## {heading}'"
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


@pytest.mark.parametrize(
    ("heading", "models"),
    [
        ("The service", [Settings]),
        ("The listener and the local stack", [ListenerSettings, Ports, StackSecrets]),
    ],
)
def test_docs_list_every_setting(heading: str, models: list[type[BaseSettings]]) -> None:
    read = {name for model in models for name in all_variables(model)}
    documented = documented_variables(heading)
    # AWS_ENDPOINT_URL_ATHENA is boto3's own variable: documented, read by boto3, not by us.
    assert read == documented - {"AWS_ENDPOINT_URL_ATHENA"}
