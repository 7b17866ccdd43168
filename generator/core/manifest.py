"""stacks.toml → validated stack specifications (typed blueprint options, per-environment values)."""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from generator.core import registry
from generator.core.contract import Blueprint, ManifestStack
from generator.core.errors import UserError
from generator.core.options import build_dataclass, unknown_key_error
from generator.core.overrides import Override, parse_overrides

STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
STACK_KEYS = ("blueprint", "description", "options", "environments", "overrides")
# The keys of [stacks.<name>.environments.<env>]: key → (type, what it does; its default as behaviour).
# sam deploy --tags: CloudFormation also propagates the stack's tags to the resources that support them
# (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-deploy.html).
ENVIRONMENT_KEYS = {
    "region": ("string", "the AWS Region the stack is deployed to; default: none in samconfig.toml, so sam deploy uses its "
                         "default Region (AWS_DEFAULT_REGION or the AWS profile's)"),
    "tags": ("table of strings", "tags sam deploy puts on the stack, which CloudFormation propagates to its resources that "
                                 "support tags; default: none"),
    "confirm_changeset": ("boolean", "sam deploy shows the change set and asks before executing it; default: true"),
    "parameters": ("table", "this environment's CloudFormation parameter values (a list becomes the comma-separated value "
                            "List<…> parameters take); default: none"),
}
# `python -m generator new` writes this where a value is needed; a stack holding one does not render.
PLACEHOLDER_START = "<REPLACE"


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
    blueprint: str             # as written in stacks.toml: a name or a module path
    implementation: Blueprint  # the blueprint module that name found, checked against the contract
    description: str
    options: object
    environments: dict[str, Environment]
    overrides: tuple[Override, ...] = ()  # [stacks.<name>.overrides], applied to the rendered template

    @property
    def provides(self) -> frozenset[str]:
        return self.implementation.provides

    def config_env(self, environment: str) -> str:
        return f"{self.name}-{environment}"

    def parameter_values(self, environment: str) -> dict[str, str]:
        """An environment's parameter values: those the blueprint implies for it (e.g. FoundationStack
        = <import_from>-<env>), then stacks.toml's own values, which win."""
        values = dict(self.options.implied_parameters(environment))
        values.update(self.options.task_tag_parameter_values(self.environments[environment].tags))
        values.update(self.environments[environment].parameters)
        return values


@functools.lru_cache(maxsize=1)
def manifest_toml(text: str) -> dict:
    """The manifest's text parsed, once per text: load_manifest and the [pipeline] settings read the
    same file (a megabyte for 1,000 stacks). Read only."""
    return tomllib.loads(text)


def load_manifest(path: Path) -> dict[str, StackSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"manifest {path} not found (pass --manifest PATH)") from None
    try:
        data = manifest_toml(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: invalid TOML: {error}") from None
    for key in data:
        if key not in ("stacks", "pipeline"):  # [pipeline]: generator/core/pipeline.py reads it
            raise unknown_key_error(key, ["stacks", "pipeline"], what="top-level table")
    stacks = data.get("stacks", {})
    if not isinstance(stacks, dict) or not stacks:
        raise UserError(f"{path}: no [stacks.<name>] tables")
    registry.registered()  # a blueprint that does not meet the contract is reported as itself, not as a stack's
    specs = {name: _load_stack(name, table) for name, table in stacks.items()}
    seen = {stack.name: stack for stack in manifest_stacks(specs.values())}
    for spec in specs.values():
        try:  # checks against the other stacks, e.g. that `import_from` names a foundation in each environment
            spec.options.check_manifest(seen[spec.name], seen)
        except UserError as error:
            raise error.within(stack=spec.name) from None
    return specs


def manifest_stacks(specs) -> tuple[ManifestStack, ...]:
    """What a blueprint may know about the manifest's stacks (StackContext.manifest, check_manifest)."""
    return tuple(
        ManifestStack(spec.name, spec.blueprint, spec.options,
                      regions={env.name: env.region for env in spec.environments.values()},
                      parameters={env: spec.parameter_values(env) for env in spec.environments},
                      given_parameters={env.name: dict(env.parameters) for env in spec.environments.values()},
                      provides=spec.provides)
        for spec in specs
    )


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
    placeholders = list(_placeholders(table))
    if placeholders:
        raise UserError(f"replace the placeholder{'s' if len(placeholders) > 1 else ''} that `python -m generator new` wrote: "
                        f"{', '.join(placeholders)}")
    blueprint = table.get("blueprint")
    implementation = registry.find(blueprint)
    description = table.get("description", "")
    if not isinstance(description, str):
        raise UserError("expected a string", field="description")
    options_table = table.get("options", {})
    if not isinstance(options_table, dict):
        raise UserError("expected a table", field="options")
    options = build_dataclass(implementation.options_type, options_table, field_prefix="options")
    environments_table = table.get("environments", {})
    if not isinstance(environments_table, dict) or not environments_table:
        raise UserError("at least one [stacks.<name>.environments.<env>] table is needed", field="environments")
    environments = {env: _parse_environment(env, value, options) for env, value in environments_table.items()}
    overrides = parse_overrides(table.get("overrides", {}))
    return StackSpec(name, blueprint, implementation, description, options, environments, overrides)


def _placeholders(value, path: str = ""):
    """The fields (dotted paths) of a stack table whose value, or key, is a placeholder `new` wrote."""
    if isinstance(value, str):
        if value.startswith(PLACEHOLDER_START):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key.startswith(PLACEHOLDER_START):
                yield where
            else:
                yield from _placeholders(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _placeholders(item, f"{path}[{index}]")


def _parse_environment(name: str, table, options) -> Environment:
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
    try:  # e.g. a TaskFamily ARN → the family name
        parameters = options.resolved_parameters(parameters, region=region)
    except UserError as error:
        raise error.within(field_prefix=f"{field}.parameters") from None
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
