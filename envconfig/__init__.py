"""Settings from environment variables (pydantic-settings), with errors that name the variable.

Shared by every deployable (service, listener, local Athena, local stack); it depends on
pydantic-settings only, so no deployable pulls in another through it.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)

# Empty variables count as unset; unknown ones belong to someone else.
ENV_CONFIG = SettingsConfigDict(env_ignore_empty=True, populate_by_name=True, extra="ignore")


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used; the message names it."""


def variables(model: type[BaseSettings], field: str) -> list[str]:
    """The environment variables a field is read from; the first one set wins."""
    alias = model.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    return [(str(model.model_config.get("env_prefix", "")) + field).upper()]


def all_variables(model: type[BaseSettings]) -> list[str]:
    return [name for field in model.model_fields for name in variables(model, field)]


def load(model: type[S], environ: Mapping[str, str] | None = None, **overrides: Any) -> S:
    """The settings from `environ` (default: the process environment), `overrides` (flags)
    winning over it; or a SettingsError whose sentence names the variable."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        if environ is None:
            return model(**given)
        # An explicit mapping (tests, a child's environment): read it the way the model would.
        found = {
            field: environ[name]
            for field in model.model_fields
            for name in reversed(variables(model, field))
            if environ.get(name)
        }
        return model.model_validate({**found, **given})
    except ValidationError as error:
        raise SettingsError(describe(model, error)) from None


def describe(model: type[BaseSettings], error: ValidationError) -> str:
    """`Invalid setting. SERVICE_PORT='99999': Input should be less than or equal to 65535`"""
    problems = []
    for item in error.errors():
        where = str(item["loc"][0]) if item["loc"] else "settings"
        # A model-wide error's input is every value, secrets included: show none of it.
        shown = repr(item["input"]) if item["loc"] else "(not shown)"
        if where in model.model_fields:
            # A secret's value is never echoed, not even in an error.
            shown = shown if model.model_fields[where].repr else "(hidden)"
            where = variables(model, where)[0]
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}={shown}: {message}")
    return "Invalid setting. " + "; ".join(problems)
