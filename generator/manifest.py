"""stacks.toml → validated stack specifications (typed blueprint options, per-environment values)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from generator.errors import UserError
from generator.options import build_dataclass, did_you_mean, unknown_key_error
from generator.registry import BLUEPRINTS

STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
STACK_KEYS = ("blueprint", "description", "options", "environments")
ENVIRONMENT_KEYS = ("region", "tags", "parameters", "confirm_changeset")


@dataclass(frozen=True)
class Environment:
    name: str
    region: str | None
    tags: dict[str, str]
    parameters: dict[str, str]
    confirm_changeset: bool


@dataclass(frozen=True)
class StackSpec:
    name: str
    blueprint: str
    module: ModuleType
    description: str
    options: object
    environments: dict[str, Environment]

    def config_env(self, environment: str) -> str:
        return f"{self.name}-{environment}"

    def parameter_values(self, environment: str) -> dict[str, str]:
        """An environment's parameter values: those the blueprint implies for it (e.g. FoundationStack
        = <import_from>-<env>), then stacks.toml's own values, which win."""
        implied = getattr(self.options, "implied_parameters", None)
        values = dict(implied(environment)) if implied else {}
        values.update(self.environments[environment].parameters)
        return values


def load_manifest(path: Path) -> dict[str, StackSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"manifest {path} not found (pass --manifest PATH)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: invalid TOML: {error}") from None
    for key in data:
        if key != "stacks":
            raise unknown_key_error(key, ["stacks"], what="top-level table")
    stacks = data.get("stacks", {})
    if not isinstance(stacks, dict) or not stacks:
        raise UserError(f"{path}: no [stacks.<name>] tables")
    return {name: _load_stack(name, table) for name, table in stacks.items()}


def _load_stack(name: str, table: dict) -> StackSpec:
    try:
        return _parse_stack(name, table)
    except UserError as error:
        raise error.within(stack=name) from None


def _parse_stack(name: str, table) -> StackSpec:
    if not STACK_NAME.match(name):
        raise UserError("stack name must be lowercase letters, digits and '-', starting with a letter, at most 63 characters", field="name")
    if not isinstance(table, dict):
        raise UserError("must be a table", field="stacks")
    for key in table:
        if key not in STACK_KEYS:
            raise unknown_key_error(key, STACK_KEYS, what="stack key")
    blueprint = table.get("blueprint")
    if blueprint not in BLUEPRINTS:
        raise UserError(
            f"unknown blueprint {blueprint!r}{did_you_mean(str(blueprint), BLUEPRINTS)}; allowed: {', '.join(sorted(BLUEPRINTS))}",
            field="blueprint",
        )
    module = BLUEPRINTS[blueprint]
    description = table.get("description", "")
    if not isinstance(description, str):
        raise UserError("expected a string", field="description")
    options_table = table.get("options", {})
    if not isinstance(options_table, dict):
        raise UserError("expected a table", field="options")
    options = build_dataclass(module.Options, options_table, field_prefix="options")
    environments_table = table.get("environments", {})
    if not isinstance(environments_table, dict) or not environments_table:
        raise UserError("at least one [stacks.<name>.environments.<env>] table is needed", field="environments")
    environments = {env: _parse_environment(env, value) for env, value in environments_table.items()}
    return StackSpec(name, blueprint, module, description, options, environments)


def _parse_environment(name: str, table) -> Environment:
    field = f"environments.{name}"
    if not ENVIRONMENT_NAME.match(name):
        raise UserError("environment name must be lowercase letters and digits, starting with a letter", field=field)
    if not isinstance(table, dict):
        raise UserError("expected a table", field=field)
    for key in table:
        if key not in ENVIRONMENT_KEYS:
            raise unknown_key_error(key, ENVIRONMENT_KEYS, what="environment key", field=f"{field}.{key}")
    region = table.get("region")
    if region is not None and (not isinstance(region, str) or not REGION.match(region)):
        raise UserError(f"{region!r} is not an AWS Region name like eu-west-1", field=f"{field}.region")
    tags = table.get("tags", {})
    if not isinstance(tags, dict):
        raise UserError("expected a table of strings", field=f"{field}.tags")
    for key, value in tags.items():
        if not isinstance(value, str) or not key:
            raise UserError(f"tag {key!r} must have a string value", field=f"{field}.tags")
        _check_samconfig_safe(value, f"{field}.tags.{key}")
    parameters = {}
    for key, value in table.get("parameters", {}).items():
        parameters[key] = _parameter_value(value, f"{field}.parameters.{key}")
    confirm = table.get("confirm_changeset", True)
    if not isinstance(confirm, bool):
        raise UserError("expected true or false", field=f"{field}.confirm_changeset")
    return Environment(name, region, dict(tags), parameters, confirm)


def _parameter_value(value, field: str) -> str:
    """CloudFormation parameter values are strings; a TOML list becomes the comma-separated form
    that List<…> parameters take."""
    if isinstance(value, bool):
        raise UserError("expected a string, number or list of strings", field=field)
    if isinstance(value, (int, float)):
        value = str(value)
    elif isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise UserError("a list value must hold strings only", field=field)
        value = ",".join(value)
    elif not isinstance(value, str):
        raise UserError("expected a string, number or list of strings", field=field)
    _check_samconfig_safe(value, field)
    return value


def _check_samconfig_safe(value: str, field: str) -> None:
    # SAM's parameter-override parser unescapes \" and '\ ' but keeps any other backslash, so a
    # backslash cannot be carried to CloudFormation faithfully through samconfig.toml.
    if "\\" in value or "\n" in value:
        raise UserError("backslashes and newlines cannot pass through sam deploy's parameter overrides", field=field)
