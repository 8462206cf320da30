"""Workgroups from a small JSON file: each with its own result location, and whether it
enforces its configuration (then its location wins over a client's, as on Athena)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .protocol import WORK_GROUP_NAME, invalid_request

BUNDLED = Path(__file__).with_name("workgroups.json")
# When the local Athena was started: the workgroups' CreationTime.
_CREATED = datetime.now(UTC).timestamp()


class WorkGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=WORK_GROUP_NAME)
    description: str = ""
    state: Literal["ENABLED", "DISABLED"] = "ENABLED"
    output_location: str | None = Field(None, pattern=r"^s3://")
    enforce_configuration: bool = False

    def output_for(self, client_location: str | None) -> str:
        """Where a query's result goes: the workgroup's when it enforces its configuration,
        else the client's, else the workgroup's; Athena refuses a query with neither."""
        location = self.output_location if self.enforce_configuration else None
        location = location or client_location or self.output_location
        if not location:
            raise invalid_request(
                "No output location provided. An output location is required either through "
                "the Workgroup result configuration setting or as an API input."
            )
        return location

    def summary(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "State": self.state,
            "Description": self.description,
            "CreationTime": _CREATED,
            "EngineVersion": _ENGINE,
        }

    def shape(self) -> dict[str, Any]:
        """GetWorkGroup's WorkGroup."""
        configuration: dict[str, Any] = {
            "EnforceWorkGroupConfiguration": self.enforce_configuration,
            "PublishCloudWatchMetricsEnabled": False,
            "RequesterPaysEnabled": False,
            "EngineVersion": _ENGINE,
        }
        if self.output_location:
            configuration["ResultConfiguration"] = {"OutputLocation": self.output_location}
        return {
            "Name": self.name,
            "State": self.state,
            "Configuration": configuration,
            "Description": self.description,
            "CreationTime": _CREATED,
        }


_ENGINE = {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"}


class WorkGroups(BaseModel):
    workgroups: list[WorkGroup]

    @classmethod
    def load(cls, path: Path | None) -> "WorkGroups":
        return cls.model_validate(json.loads((path or BUNDLED).read_text()))

    def get(self, name: str) -> WorkGroup:
        """The workgroup by its name (case-sensitive), or InvalidRequestException."""
        for workgroup in self.workgroups:
            if workgroup.name == name:
                return workgroup
        raise invalid_request(f"WorkGroup {name} is not found.")

    def startable(self, name: str) -> WorkGroup:
        workgroup = self.get(name)
        if workgroup.state != "ENABLED":
            raise invalid_request(f"WorkGroup {name} is disabled.")
        return workgroup


def service_allow_lists(data_dir: Path, workgroups_file: Path | None = None) -> dict[str, str]:
    """The service's allow-lists in the local stack: every workgroup, catalog and database
    this local Athena has, and result locations under its buckets."""
    from infra.schema import find_tables  # the data folders, as the engine reads them

    tables = [table.schema for table in find_tables(data_dir)]
    workgroups = WorkGroups.load(workgroups_file).workgroups
    buckets = {"s3://local-athena-results/"} | {
        "s3://" + w.output_location.removeprefix("s3://").split("/")[0] + "/"
        for w in workgroups
        if w.output_location
    }
    catalogs = {"AwsDataCatalog"} | {t.catalog for t in tables if t.catalog != "awsdatacatalog"}
    return {
        "ATHENA_ALLOWED_WORKGROUPS": ",".join(w.name for w in workgroups),
        "ATHENA_ALLOWED_CATALOGS": ",".join(sorted(catalogs)),
        "ATHENA_ALLOWED_DATABASES": ",".join(sorted({t.database for t in tables})),
        "ATHENA_ALLOWED_OUTPUT_LOCATIONS": ",".join(sorted(buckets)),
    }
