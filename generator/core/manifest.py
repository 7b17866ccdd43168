"""stacks.toml → validated stack specifications (typed blueprint options, per-environment values)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from generator.core import registry
from generator.core.contract import Blueprint, ManifestStack
from generator.aws.regions import region_partitions
from generator.aws.task_tags import TAG_KEY, TAG_VALUE_PATTERN
from generator.core.errors import UserError, quoted, shown
from generator.core.toml_files import parse_toml, read_toml_text
from generator.core.options import ascii_fullmatch, build_dataclass, unknown_key_error, did_you_mean
from generator.core.overrides import Override, parse_overrides

STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
REGION = re.compile(r"[a-z]{2,4}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]{1,2}")
MAX_STACK_TAGS = 50
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
def manifest_toml(text: str, what: str = "stacks.toml") -> dict:
    """The manifest's text parsed, once per text: load_manifest and the [pipeline] settings read the
    same file (a megabyte for 1,000 stacks). Read only. Every TOML failure is one UserError."""
    return parse_toml(text, what)


def load_manifest(path: Path) -> dict[str, StackSpec]:
    try:
        text = read_toml_text(path)
    except FileNotFoundError:
        raise UserError(f"manifest {path} not found (pass --manifest PATH)") from None
    data = manifest_toml(text, str(path))
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
    if not ascii_fullmatch(STACK_NAME, name):
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
    if not isinstance(blueprint, str):
        raise UserError(f"expected a blueprint name (a string), got {type(blueprint).__name__ if blueprint is not None else 'nothing'}; "
                        "`python -m generator list` shows them", field="blueprint")
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
    if not ascii_fullmatch(ENVIRONMENT_NAME, name):
        raise UserError("environment name must be lowercase letters and digits, starting with a letter", field=field)
    if not isinstance(table, dict):
        raise UserError("expected a table", field=field)
    for key in table:
        if key not in ENVIRONMENT_KEYS:
            raise unknown_key_error(key, ENVIRONMENT_KEYS, what="environment key", field=f"{field}.{key}")
    region = table.get("region")
    if region is not None:
        known = region_partitions()
        if not ascii_fullmatch(REGION, region) or (known and region not in known):
            raise UserError(f"{quoted(region)} is not an AWS Region{did_you_mean(str(region), sorted(known))}; allowed: a Region "
                            "name botocore knows, like eu-west-1", field=f"{field}.region")
    tags = table.get("tags", {})
    if not isinstance(tags, dict):
        raise UserError("expected a table of strings", field=f"{field}.tags")
    if len(tags) > MAX_STACK_TAGS:
        raise UserError(f"{len(tags)} tags; allowed: at most {MAX_STACK_TAGS} (CloudFormation's limit for a stack)", field=f"{field}.tags")
    for key, value in tags.items():
        # AWS's tag rules: keys 1-128, values 0-256 characters of letters, digits, spaces and _.:/=+-@,
        # and the aws: prefix is AWS's own. https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html
        if not ascii_fullmatch(TAG_KEY, key) or key.lower().startswith("aws:"):
            raise UserError(f"tag key {quoted(key)} is not allowed; allowed: 1-128 ASCII letters, digits, spaces and _.:/=+-@, "
                            "not starting with aws:", field=f"{field}.tags")
        if not ascii_fullmatch(TAG_VALUE_PATTERN, value):
            raise UserError(f"value {quoted(value)} is not allowed; allowed: a string of 0-256 ASCII letters, digits, spaces and "
                            "_.:/=+-@", field=f"{field}.tags.{shown(key)}")
    parameters_table = table.get("parameters", {})
    if not isinstance(parameters_table, dict):
        raise UserError("expected a table of parameter values", field=f"{field}.parameters")
    parameters = {}
    for key, value in parameters_table.items():
        parameters[key] = _parameter_value(value, f"{field}.parameters.{shown(key)}")
    try:  # e.g. a TaskFamily ARN → the family name
        parameters = options.resolved_parameters(parameters, region=region)
    except UserError as error:
        raise error.within(field_prefix=f"{field}.parameters") from None
    _check_arn_locations(parameters, region, f"{field}.parameters")
    confirm = table.get("confirm_changeset", True)
    if not isinstance(confirm, bool):
        raise UserError("expected true or false", field=f"{field}.confirm_changeset")
    return Environment(name, region, dict(tags), parameters, confirm)


def _check_arn_locations(parameters: dict[str, str], region: str | None, field: str) -> None:
    """An ARN given for an environment names that environment's Region (when the ARN has one) and
    its partition, and every ARN of the environment names the same account: a cluster in
    us-east-1 for an eu-central-1 environment would render, and fail at deploy or at run time."""
    partition = region_partitions().get(region) if region else None
    accounts: dict[str, str] = {}
    for key, value in parameters.items():
        for arn in value.split(","):
            parts = arn.split(":", 5)
            if len(parts) < 6 or parts[0] != "arn":
                continue
            arn_partition, arn_region, account = parts[1], parts[3], parts[4]
            if partition and arn_partition != partition:
                raise UserError(f"{quoted(arn)} is in partition {quoted(arn_partition)}; allowed: the environment's partition "
                                f"{partition} (Region {region})", field=f"{field}.{shown(key)}")
            if region and arn_region and arn_region != region:
                raise UserError(f"{quoted(arn)} is in Region {quoted(arn_region)}; allowed: the environment's Region {region}",
                                field=f"{field}.{shown(key)}")
            if account and not ascii_fullmatch(r"[0-9]{12}", account):
                raise UserError(f"{quoted(arn)} names account {quoted(account)}; allowed: a 12-digit account id (digits 0-9)",
                                field=f"{field}.{shown(key)}")
            if account:
                accounts.setdefault(account, key)
                if len(accounts) > 1:
                    other = next(a for a in accounts if a != account)
                    raise UserError(f"{quoted(arn)} is in account {account}, but {accounts[other]} is in account {other}; "
                                    "allowed: one account per environment", field=f"{field}.{shown(key)}")


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
