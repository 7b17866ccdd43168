"""Which stacks an environment command acts on, and in which order.

A stack depends on another stack of the manifest when its FoundationStack parameter (implied by
`import_from` as `<foundation>-<env>`, or set in stacks.toml) names that stack as deployed for the
same environment: its template imports that stack's exports (Fn::ImportValue), so CloudFormation
refuses to create it before the foundation ("No export named …") and refuses to delete the
foundation while it exists ("Export … cannot be deleted as it is in use by …").
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.aws.ecs_task import FOUNDATION_STACK
from generator.core.errors import UserError
from generator.core.manifest import StackSpec
from generator.core.options import did_you_mean


@dataclass(frozen=True)
class PlannedStack:
    spec: StackSpec
    environment: str
    depends_on: tuple[str, ...]  # manifest stack names this one imports from, in this environment

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def stack_name(self) -> str:
        """The CloudFormation stack name (samconfig's stack_name)."""
        return self.spec.config_env(self.environment)

    @property
    def region(self) -> str | None:
        return self.spec.environments[self.environment].region


def check_environment(spec: StackSpec, environment: str) -> None:
    if environment not in spec.environments:
        raise UserError(f"unknown environment {environment!r}{did_you_mean(environment, spec.environments)}; "
                        f"allowed: {', '.join(spec.environments)}", stack=spec.name, field="--env")


def stack_spec(specs: dict[str, StackSpec], name: str, environment: str) -> StackSpec:
    """The named stack, checked to exist and to have the environment."""
    if name not in specs:
        raise UserError(f"unknown stack {name!r}{did_you_mean(name, specs)}; stacks: {', '.join(specs)}")
    check_environment(specs[name], environment)
    return specs[name]


def dependencies(spec: StackSpec, environment: str, specs: dict[str, StackSpec]) -> tuple[str, ...]:
    foundation_stack = spec.parameter_values(environment).get(FOUNDATION_STACK.name)
    return tuple(other.name for other in specs.values()
                 if other.name != spec.name and environment in other.environments and other.config_env(environment) == foundation_stack)


def environment_plan(specs: dict[str, StackSpec], environment: str, only: list[str] | None = None, *,
                     with_dependencies: bool = False) -> list[PlannedStack]:
    """The stacks to act on, foundations before the stacks that import from them (manifest order
    otherwise): every stack with `environment`, or the `only` ones (and, with_dependencies, the
    foundations they import from, transitively)."""
    if only:
        selected = [stack_spec(specs, name, environment).name for name in dict.fromkeys(only)]
    else:
        selected = [spec.name for spec in specs.values() if environment in spec.environments]
        if not selected:
            known = sorted({env for spec in specs.values() for env in spec.environments})
            raise UserError(f"no stack has environment {environment!r}{did_you_mean(environment, known)}; environments: {', '.join(known)}",
                            field="--env")
    needs = {name: dependencies(specs[name], environment, specs) for name in specs if environment in specs[name].environments}
    if with_dependencies:
        pending = list(selected)
        while pending:
            for foundation in needs[pending.pop()]:
                if foundation not in selected:
                    selected.append(foundation)
                    pending.append(foundation)
    chosen = set(selected)
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise UserError(f"stacks import from each other in a cycle through {name!r}", field="FoundationStack")
        visiting.add(name)
        for foundation in needs[name]:
            if foundation in chosen:
                visit(foundation)
        visiting.discard(name)
        ordered.append(name)

    for name in (spec.name for spec in specs.values() if spec.name in chosen):  # manifest order
        visit(name)
    return [PlannedStack(specs[name], environment, needs[name]) for name in ordered]


def importers(plan_stack: PlannedStack, specs: dict[str, StackSpec]) -> list[str]:
    """Manifest stacks that import from this one in its environment."""
    return [spec.name for spec in specs.values()
            if plan_stack.environment in spec.environments and plan_stack.name in dependencies(spec, plan_stack.environment, specs)]
