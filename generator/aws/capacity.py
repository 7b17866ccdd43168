"""Fargate capacity providers: whether a task runs on on-demand Fargate or on Fargate Spot.

A RunTask request either names a launch type or a capacity provider strategy, never both ("If a
capacityProviderStrategy is specified, the launchType parameter must be omitted": ECS RunTask, and
the EcsParameters of EventBridge rule targets and of EventBridge Scheduler). Each of the three
places that start a task spells the strategy its own way (checked against botocore's service
models and cfn-lint's CloudFormation schemas, not by analogy):
- EventBridge rule target (CloudFormation AWS::Events::Rule EcsParameters): `CapacityProviderStrategy`,
  items `CapacityProvider` / `Weight` / `Base` (integers), at most 6 items;
- EventBridge Scheduler (AWS::Scheduler::Schedule EcsParameters): the same names in CloudFormation
  (`capacityProvider`, `weight`, `base` in Scheduler's own API), at most 6 items;
- Step Functions `ecs:runTask` Parameters: RunTask's members in PascalCase, `CapacityProviderStrategy`
  with `CapacityProvider` / `Weight` / `Base` (ECS allows 20 items; the targets above allow 6).
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CapacityProviderStrategyItem.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-events-rule-ecsparameters.html
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_EcsParameters.html

Fargate rules for the two providers (Fargate capacity provider considerations):
- a cluster must be associated with a provider before a strategy may name it;
- Fargate Spot runs Linux X86_64 tasks only (not ARM64, not Windows), on platform version 1.3.0 or later;
- Fargate does not replace reclaimed Spot capacity with on-demand capacity.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.core.errors import UserError
from generator.core.options import OptionTable, did_you_mean, option

FARGATE, FARGATE_SPOT = "FARGATE", "FARGATE_SPOT"
FARGATE_PROVIDERS = (FARGATE, FARGATE_SPOT)
MAX_WEIGHT = 1000
MAX_BASE = 100_000
SPOT_MIN_PLATFORM = (1, 3, 0)
# The stop code ECS gives a task it stopped because Fargate took the Spot capacity back (one of
# TaskStopCode's values in the ECS API: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html).
SPOT_INTERRUPTION = "SpotInterruption"


@dataclass(frozen=True, kw_only=True)
class CapacityProviderItem(OptionTable):
    """One provider of a capacity provider strategy."""

    provider: str = option(doc="FARGATE or FARGATE_SPOT")
    weight: int = option(1, doc=f"0 to {MAX_WEIGHT}, the share of tasks after the base",
                         by_default="1 (ECS's own default is 0, which places nothing)")
    base: int = option(0, doc=f"0 to {MAX_BASE}, how many tasks run on this provider first", by_default="0")

    def __post_init__(self):
        if self.provider not in FARGATE_PROVIDERS:
            raise UserError(f"{self.provider!r} is not a Fargate capacity provider{did_you_mean(self.provider, FARGATE_PROVIDERS)}; "
                            f"allowed: {', '.join(FARGATE_PROVIDERS)}", field="provider")
        if not 0 <= self.weight <= MAX_WEIGHT:
            raise UserError(f"{self.weight} is out of range; allowed: 0 to {MAX_WEIGHT}", field="weight")
        if not 0 <= self.base <= MAX_BASE:
            raise UserError(f"{self.base} is out of range; allowed: 0 to {MAX_BASE}", field="base")
        super().__post_init__()


SPOT_ONLY = (CapacityProviderItem(provider=FARGATE_SPOT),)


def validate_strategy(items: tuple[CapacityProviderItem, ...], *, field: str = "capacity_provider_strategy") -> None:
    """The rules ECS applies to a whole strategy, checked at render."""
    providers = [item.provider for item in items]
    repeated = sorted({p for p in providers if providers.count(p) > 1})
    if repeated:
        raise UserError(f"{repeated[0]} is listed twice; name each capacity provider once", field=field)
    if sum(1 for item in items if item.base) > 1:
        raise UserError("only one capacity provider in a strategy may have a base (ECS CapacityProviderStrategyItem)", field=field)
    if items and not any(item.weight for item in items):
        raise UserError("every weight is 0, so no provider could place a task; give at least one a weight above 0", field=field)


def places_on_spot(items: tuple[CapacityProviderItem, ...]) -> bool:
    """Whether a task started with this strategy may land on Fargate Spot (and be interrupted)."""
    return any(item.provider == FARGATE_SPOT and (item.weight or item.base) for item in items)


def platform_version_tuple(version: str) -> tuple[int, ...] | None:
    """(1, 4, 0) for "1.4.0"; None for LATEST (always the newest, which meets every minimum)."""
    return None if version == "LATEST" else tuple(int(part) for part in re.findall(r"\d+", version))


def check_platform_version(version: str, minimum: tuple[int, ...], why: str, *, field: str = "platform_version") -> None:
    found = platform_version_tuple(version)
    if found is not None and found < minimum:
        wanted = ".".join(map(str, minimum))
        raise UserError(f"{version!r}: {why} needs Fargate platform version {wanted} or later; allowed: LATEST or {wanted}+", field=field)


def strategy_properties(items: tuple[CapacityProviderItem, ...], item_class=dict) -> list:
    """The strategy in CloudFormation's / Step Functions' spelling (CapacityProvider, Weight[, Base]);
    `item_class` is troposphere's class for the target (events or scheduler), or dict for ASL.
    Weight is always written (ECS would read an absent one as 0); Base only when it is not 0."""
    return [item_class(CapacityProvider=item.provider, Weight=item.weight, **({"Base": item.base} if item.base else {}))
            for item in items]
