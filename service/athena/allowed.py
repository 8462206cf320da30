"""The operator's allow-lists: which catalogs, databases, workgroups and result prefixes a
request may name. Checked in the promise's "check and plan" step, before anything starts: a
refusal is a 400 that names the field and what is allowed, and is journaled like any verdict.

A workgroup that enforces its own configuration still wins on Athena: the result says where
the result was written (`output_location`, from Athena), whatever the request asked.
"""

from restate import TerminalError

from service.models import QueryRequest
from service.settings import Settings


def check_allowed(request: QueryRequest, settings: Settings) -> None:
    """Raise a TerminalError (400) for the first field outside its allow-list."""
    _check_name("catalog", request.catalog, settings.allowed_catalogs, "ATHENA_ALLOWED_CATALOGS")
    _check_name(
        "database", request.database, settings.allowed_databases, "ATHENA_ALLOWED_DATABASES"
    )
    workgroups, variable = settings.allowed_workgroups, "ATHENA_ALLOWED_WORKGROUPS"
    if request.workgroup is not None and request.workgroup not in workgroups:
        _refuse("workgroup", request.workgroup, workgroups, variable)
    location = request.output_location
    if location is not None and not any(
        _under(location, p) for p in settings.allowed_output_locations
    ):
        _refuse(
            "output_location",
            location,
            settings.allowed_output_locations,
            "ATHENA_ALLOWED_OUTPUT_LOCATIONS",
            what="prefixes",
        )


def _check_name(field: str, value: str | None, allowed: list[str], variable: str) -> None:
    # Athena's catalog and database names are case-insensitive (Glue keeps them lower-case).
    if value is not None and value.lower() not in {name.lower() for name in allowed}:
        _refuse(field, value, allowed, variable)


def _under(location: str, prefix: str) -> bool:
    """Whether an s3:// location lies under a prefix, a whole path segment at a time:
    `s3://b/team-a/` allows `s3://b/team-a/x/`, never `s3://b/team-ab/` or `s3://b/team-a/../`."""
    if any(part in (".", "..") for part in location.removeprefix("s3://").split("/")):
        return False
    base = prefix.rstrip("/")
    return location.rstrip("/") == base or location.startswith(base + "/")


def _refuse(field: str, value: str, allowed: list[str], variable: str, what: str = "") -> None:
    shown = ", ".join(allowed) if allowed else "none"
    kind = f" {what}" if what else ""
    message = (
        f"Invalid query request. {field}: {value!r} is not allowed here; allowed{kind}: "
        f"{shown} (the operator's {variable} lists them)"
    )
    raise TerminalError(message, 400)
