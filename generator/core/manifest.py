"""stacks.toml → validated stack specifications (typed blueprint options, per-environment values)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from generator.aws.capacity import check_platform_version, places_on_spot
from generator.aws.ecs_task import FOUNDATION_STACK
from generator.core.errors import UserError
from generator.core.options import build_dataclass, did_you_mean, unknown_key_error
from generator.core.overrides import Override, parse_overrides
from generator.core.registry import BLUEPRINTS

STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
STACK_KEYS = ("blueprint", "description", "options", "environments", "overrides")
ENVIRONMENT_KEYS = ("region", "tags", "parameters", "confirm_changeset")
FOUNDATION_BLUEPRINT = "task_foundation"  # the blueprint `import_from` may name in this manifest


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
    overrides: tuple[Override, ...] = ()  # [stacks.<name>.overrides], applied to the rendered template

    def config_env(self, environment: str) -> str:
        return f"{self.name}-{environment}"

    def parameter_values(self, environment: str) -> dict[str, str]:
        """An environment's parameter values: those the blueprint implies for it (e.g. FoundationStack
        = <import_from>-<env>), then stacks.toml's own values, which win."""
        implied = getattr(self.options, "implied_parameters", None)
        values = dict(implied(environment)) if implied else {}
        tagged = getattr(self.options, "task_tag_parameter_values", None)  # the environment's tags as task tag values
        if tagged:
            values.update(tagged(self.environments[environment].tags))
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
        if key not in ("stacks", "pipeline"):  # [pipeline]: generator/core/pipeline.py reads it
            raise unknown_key_error(key, ["stacks", "pipeline"], what="top-level table")
    stacks = data.get("stacks", {})
    if not isinstance(stacks, dict) or not stacks:
        raise UserError(f"{path}: no [stacks.<name>] tables")
    specs = {name: _load_stack(name, table) for name, table in stacks.items()}
    for spec in specs.values():
        _check_import_from(spec, specs)
    return specs


def _check_import_from(spec: StackSpec, specs: dict[str, StackSpec]) -> None:
    """`import_from` naming a stack of this manifest: that stack is a task_foundation deployed in each
    environment that imports from it (`<import_from>-<env>`, in the same Region: exports are per
    Region), or the deploy fails with "No export named …". A name that is not in the manifest is
    a foundation deployed from elsewhere, which only the deploy can check."""
    name = getattr(spec.options, "import_from", None)
    foundation = specs.get(name) if name else None
    if foundation is None:
        return
    field = "options.import_from"
    _check_foundation_runs_this_task(spec, foundation)
    if foundation.blueprint != FOUNDATION_BLUEPRINT:
        ours = sorted(s.name for s in specs.values() if s.blueprint == FOUNDATION_BLUEPRINT)
        raise UserError(
            f"{name!r} is a {foundation.blueprint} stack, which does not export the cluster, family and roles; "
            f"allowed: a {FOUNDATION_BLUEPRINT} stack ({', '.join(ours) if ours else 'none in this manifest'}) "
            "or a stack deployed from outside this manifest",
            stack=spec.name, field=field,
        )
    for env in spec.environments.values():
        if FOUNDATION_STACK.name in env.parameters:
            continue  # the environment names its foundation stack itself
        if env.name not in foundation.environments:
            raise UserError(
                f"{FOUNDATION_BLUEPRINT} stack {name!r} has no environment {env.name!r} (it has: {', '.join(foundation.environments)}), "
                f"so there is no {name}-{env.name} to import from; allowed: environments that {name!r} has, "
                f"or environments.{env.name}.parameters.{FOUNDATION_STACK.name} naming the foundation stack",
                stack=spec.name, field=field,
            )
        foundation_region = foundation.environments[env.name].region
        if env.region and foundation_region and env.region != foundation_region:
            raise UserError(
                f"{env.region!r} differs from {foundation_region!r}, the region of {name}-{env.name} ({field} = {name!r}), and "
                f"Fn::ImportValue only finds exports of its own Region; allowed: {foundation_region}, "
                f"or set environments.{env.name}.parameters.{FOUNDATION_STACK.name}",
                stack=spec.name, field=f"environments.{env.name}.region",
            )


def _check_foundation_runs_this_task(spec: StackSpec, foundation: StackSpec) -> None:
    """What a job asks of its foundation's cluster and task definition (when both are in the
    manifest): the capacity providers its strategy names are associated with the cluster (else
    RunTask fails), Fargate Spot only for an X86_64 family, and a platform version the family can run
    on (ephemeral storage, a stop timeout and 8/16 vCPU need newer ones)."""
    if foundation.blueprint != FOUNDATION_BLUEPRINT:
        return  # reported by the caller
    job, base = spec.options, foundation.options
    strategy = getattr(job, "strategy", ())
    field = "options.spot" if getattr(job, "spot", False) else "options.capacity_provider_strategy"
    missing = [item.provider for item in strategy if item.provider not in base.capacity_providers]
    if missing:
        raise UserError(
            f"{missing[0]} is not a capacity provider of {foundation.name}'s cluster (capacity_providers = "
            f"{list(base.capacity_providers)}), and RunTask cannot use a provider the cluster lacks; "
            f"allowed: add it to [stacks.{foundation.name}.options] capacity_providers, or drop it here",
            stack=spec.name, field=field)
    if places_on_spot(strategy) and base.cpu_architecture != "X86_64":
        raise UserError(f"{foundation.name}'s task family is {base.cpu_architecture}, and Fargate Spot runs X86_64 tasks only; "
                        "allowed: FARGATE only for this family", stack=spec.name, field=field)
    if base.minimum_platform_version:
        version, why = base.minimum_platform_version
        try:
            check_platform_version(job.platform_version, version, f"{foundation.name}'s task family ({why})")
        except UserError as error:
            raise error.within(stack=spec.name, field_prefix="options") from None


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
    environments = {env: _parse_environment(env, value, options) for env, value in environments_table.items()}
    overrides = parse_overrides(table.get("overrides", {}))
    return StackSpec(name, blueprint, module, description, options, environments, overrides)


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
    resolve = getattr(options, "resolved_parameters", None)  # e.g. a TaskFamily ARN → the family name
    if resolve:
        try:
            parameters = resolve(parameters, region=region)
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
