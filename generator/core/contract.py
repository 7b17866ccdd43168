"""The contract between blueprints and the engine, written down here and checked when a blueprint loads.

A blueprint is a module: in the repository's `blueprints/` folder, in an installed package that
registers it under the entry-point group `ecs_batch_templates.blueprints`, or named in stacks.toml
as `blueprint = "package.module"`. It provides

    DESCRIPTION: str      one line, for `python -m generator list`
    Options               a frozen dataclass deriving from BlueprintOptions (directly or through the
                          building blocks' mixins: RunTaskOptions, DeliveryOptions, AlertOptions...),
                          each field declared with generator.core.options.option(doc=..., by_default=...
                          for an optional one, example=... for a required one)
    build(options, stack: StackContext) -> Rendered

and, optionally,

    PROVIDES: frozenset[str]   what its stacks offer other stacks of the same manifest, or the engine,
                               named by the one that reads it (generator.aws.ecs_task.TASK_FOUNDATION:
                               the exports `import_from` imports; PIPELINE_DEPLOY_ROLES below)

Its Options may override the hooks of BlueprintOptions (below): implied_parameters,
task_tag_parameter_values, resolved_parameters, check_parameter_values and check_manifest. A mixin that overrides one calls
super() in it, like __post_init__, so the hooks of the other mixins still run.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Mapping, Protocol

from troposphere import Template

from generator.core.errors import BlueprintContractError
from generator.core.options import OptionTable, nested_option_types, option_docs, post_init_chain_breaks

CONTRACT = "generator/core/contract.py"
# What a blueprint PROVIDES when its stacks hold the generated pipeline's deploy roles (deploy_role):
# the pipeline never deploys such a stack (an administrator does), its Options have `stacks`, the
# stacks its roles may deploy (none named: every stack that does not provide this), and the
# environments it has are those the deploy workflow deploys.
PIPELINE_DEPLOY_ROLES = "pipeline-deploy-roles"


@dataclass(frozen=True)
class ManifestStack:
    """A stack of the same manifest, as a blueprint sees it: in its build (StackContext.manifest:
    deploy_role grants deploying the others) and in a manifest-level check (BlueprintOptions.
    check_manifest: import_from's foundation). Its name, blueprint, typed options, and per
    environment its Region (None: the deployer's default), its parameter values (those the
    blueprint implies included) and the values stacks.toml itself gives; what its blueprint PROVIDES."""

    name: str
    blueprint: str
    options: object
    regions: dict[str, str | None] = field(default_factory=dict)
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    given_parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    provides: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StackContext:
    """What a blueprint may know about the stack it builds. The template is the same for every
    environment; `environments` only lets a blueprint check limits that depend on the names
    (e.g. a resource name built from ${AWS::StackName}, which is <name>-<environment>), and
    `environment_tags` (environment → its stacks.toml `tags`) which tag keys every environment has."""

    name: str
    blueprint: str
    description: str
    environments: tuple[str, ...] = ()
    manifest: tuple[ManifestStack, ...] = ()  # every stack of the manifest, this one included
    environment_tags: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)


@dataclass
class Rendered:
    """A blueprint's output: the template, plus files written beside it (path relative to the
    stack's folder → text), e.g. `statemachine/<name>.asl.json` or Lambda source."""

    template: Template
    files: dict[str, str] = field(default_factory=dict)
    summary: str = ""                                      # one or two sentences for the stack's README
    notes: list[str] = field(default_factory=list)         # what a deployer must know (README call-outs)


class BlueprintOptions(OptionTable):
    """Base of a blueprint's Options: the hooks the engine calls, each doing nothing unless overridden."""

    def implied_parameters(self, environment: str) -> dict[str, str]:
        """Parameter values this stack takes in `environment` unless stacks.toml sets them (e.g.
        FoundationStack = <import_from>-<environment>)."""
        return {}

    def task_tag_parameter_values(self, tags: dict[str, str]) -> dict[str, str]:
        """Parameter values this stack takes from an environment's `tags` (e.g. TaskTag<Key> for
        stack_tags_on_tasks); stacks.toml's own parameter values win over them."""
        return {}

    def resolved_parameters(self, values: dict[str, str], *, region: str | None) -> dict[str, str]:
        """An environment's parameter values from stacks.toml as samconfig.toml gets them (e.g. a
        TaskFamily given as an ARN becomes the family name); raise UserError (field = parameter)
        for a value that cannot be right."""
        return values

    def check_parameter_values(self, values: dict[str, str]) -> None:
        """Check an environment's parameter values against the options (e.g. an S3 key filter against
        the BucketName it is used with); raise UserError naming the option (the engine adds the
        environment)."""
        return None

    def check_manifest(self, stack: ManifestStack, stacks: Mapping[str, ManifestStack]) -> None:
        """Check this stack against the other stacks of the manifest (e.g. that the stack named by
        import_from provides what is imported, in every environment); raise UserError naming the field."""
        return None


class BlueprintModule(Protocol):
    """What a blueprint module provides (PROVIDES is optional)."""

    DESCRIPTION: str
    Options: type[BlueprintOptions]

    def build(self, options: Any, stack: StackContext) -> Rendered: ...


@dataclass(frozen=True)
class Blueprint:
    """A blueprint module that met the contract, with its name in stacks.toml and where it was found."""

    name: str
    module: ModuleType
    origin: str  # e.g. "blueprints/ folder", "entry point of acme-blueprints 1.0", "module path in stacks.toml"

    @property
    def description(self) -> str:
        return self.module.DESCRIPTION

    @property
    def options_type(self) -> type[BlueprintOptions]:
        return self.module.Options

    @property
    def provides(self) -> frozenset[str]:
        return frozenset(getattr(self.module, "PROVIDES", ()))

    def build(self, options: BlueprintOptions, stack: StackContext) -> Rendered:
        rendered = self.module.build(options, stack)
        if not isinstance(rendered, Rendered):
            raise BlueprintContractError(f"blueprint {self.name!r} ({self.origin}): build() returned {type(rendered).__name__}, "
                                         f"not generator.core.contract.Rendered (see {CONTRACT})")
        return rendered


def check_blueprint(name: str, module: ModuleType, *, origin: str) -> Blueprint:
    """The module as a Blueprint, or BlueprintContractError naming everything it lacks."""
    problems = _module_problems(module)
    if not problems:
        problems = _options_problems(module.Options)
    if problems:
        raise BlueprintContractError(f"blueprint {name!r} ({origin}, module {module.__name__}) does not meet the contract: "
                                     f"{'; '.join(problems)} (see {CONTRACT})")
    return Blueprint(name, module, origin)


def _module_problems(module: ModuleType) -> list[str]:
    problems = []
    description = getattr(module, "DESCRIPTION", None)
    if not isinstance(description, str) or not description.strip() or "\n" in description:
        problems.append("DESCRIPTION must be a one-line string")
    options = getattr(module, "Options", None)
    if not isinstance(options, type):
        problems.append("Options (a frozen dataclass deriving from BlueprintOptions) is missing")
    elif not issubclass(options, BlueprintOptions):
        problems.append("Options must derive from generator.core.contract.BlueprintOptions")
    build = getattr(module, "build", None)
    if not callable(build):
        problems.append("build(options, stack) is missing")
    else:
        try:
            inspect.signature(build).bind(None, None)
        except TypeError:
            problems.append("build must take two arguments: (options, stack)")
        except ValueError:
            pass  # no signature to read (a builtin): trust it
    provides = getattr(module, "PROVIDES", frozenset())
    if not isinstance(provides, (set, frozenset)) or not all(isinstance(item, str) for item in provides):
        problems.append("PROVIDES, when given, must be a frozenset of strings")
    return problems


def _options_problems(options: type) -> list[str]:
    problems = []
    for table in (options, *nested_option_types(options)):
        what = "Options" if table is options else f"option table {table.__qualname__}"
        params = getattr(table, "__dataclass_params__", None)
        if params is None or not params.frozen:
            problems.append(f"{what} must be a frozen dataclass")
            continue
        if not issubclass(table, OptionTable):
            problems.append(f"{what} must derive from generator.core.options.OptionTable")
        problems += [f"{method} must call super().__post_init__()" for method in post_init_chain_breaks(table)]
        for doc in option_docs(table):
            declared = f"{what} field {doc.name!r}"
            if not doc.doc:
                problems.append(f"{declared} has no doc (declare it with generator.core.options.option(doc=...))")
            if not doc.required and not doc.by_default:
                problems.append(f"{declared} has a default but no by_default (what leaving it out does)")
            if doc.required and table is options and doc.example is dataclasses.MISSING:
                problems.append(f"{declared} is required but has no example")
    return problems
