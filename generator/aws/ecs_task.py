"""The ECS task every trigger blueprint starts: its options, where its ARNs come from, its overrides.

A trigger reaches the task through a `TaskRef`: either CloudFormation Parameters (values per
environment in stacks.toml) or, with `import_from`, the exports of a stack that provides
TASK_FOUNDATION (the task_foundation blueprint's stacks).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Mapping

from troposphere import Equals, If, ImportValue, Not, Ref, Select, Split, Sub, Template

from generator.aws import parameters as P
from generator.aws import task_tags
from generator.aws.arns import arn
from generator.aws.capacity import (
    SPOT_MIN_PLATFORM, SPOT_ONLY, CapacityProviderItem, check_platform_version, places_on_spot, validate_strategy,
)
from generator.aws.fargate import NEEDS_PLATFORM_1_4, validate_task_size
from generator.core.contract import BlueprintOptions, ManifestStack
from generator.core.errors import UserError
from generator.core.options import did_you_mean, option

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLATFORM_VERSION = re.compile(r"^(LATEST|\d+\.\d+\.\d+)$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
HAS_TASK_ROLE = "HasTaskRole"
SSM_CAPABLE = ("ClusterArn", "TaskFamily", "Subnets", "SecurityGroups", "ExecutionRoleArn", "TaskRoleArn")
# What a blueprint PROVIDES when its stacks export `${AWS::StackName}-<name>` for each of
# FOUNDATION_EXPORTS, and its Options have capacity_providers, cpu_architecture and
# minimum_platform_version: a stack whose `import_from` names a stack of the same manifest checks these.
TASK_FOUNDATION = "ecs-task-foundation"
FOUNDATION_EXPORTS = ("ClusterArn", "TaskFamily", "ExecutionRoleArn", "TaskRoleArn")
# A foundation stack is deployed once per environment as `<manifest stack>-<env>` (samconfig's
# stack_name) and exports `${AWS::StackName}-ClusterArn` etc., so the name to import from differs
# per environment: it is a parameter, filled in per environment by `implied_parameters`.
FOUNDATION_STACK = P.ParameterSpec(
    "FoundationStack", "String",
    "Name of the task_foundation CloudFormation stack whose exports (<name>-ClusterArn, -TaskFamily, -ExecutionRoleArn, -TaskRoleArn) this stack imports",
    r"^[A-Za-z][A-Za-z0-9-]{0,127}$", "a CloudFormation stack name: letters, digits and -, starting with a letter",
)


@dataclass(frozen=True, kw_only=True)
class RunTaskOptions(BlueprintOptions):
    """Options every blueprint that runs an ECS task shares (validated once, here)."""

    container_name: str = option(doc="the container whose command and environment a run overrides (its name in the task definition)",
                                 example="app")
    command: tuple[str, ...] = option((), doc="the container's command for each run",
                                      by_default="the command of the task definition")
    environment: dict[str, str] = option(doc="environment variables set in the container for each run", default_factory=dict,
                                         by_default="only those of the task definition")
    task_count: int = option(1, doc="tasks started per run, 1 to 10", by_default="one task")
    platform_version: str = option("LATEST", doc="Fargate platform version: LATEST or like 1.4.0", by_default="LATEST")
    assign_public_ip: bool = option(False, doc="give the task a public IP address (a public subnet without a NAT gateway needs one to pull images)",
                                    by_default="no public IP address")
    import_from: str | None = option(None, doc="a task_foundation stack: the cluster, family and roles are imported from the one "
                                               "deployed for the same environment (FoundationStack, <import_from>-<env> unless the environment sets it)",
                                     by_default="they are the parameters ClusterArn, TaskFamily, ExecutionRoleArn and TaskRoleArn")
    ssm_parameters: tuple[str, ...] = option((), doc=f"parameters whose value is the name of an SSM parameter holding it; any of {', '.join(SSM_CAPABLE)}",
                                             by_default="every parameter value is given in stacks.toml")
    capacity_provider_strategy: tuple[CapacityProviderItem, ...] = option(
        (), doc='run through the cluster\'s capacity providers (which must be associated with it): a list of '
                '{ provider = "FARGATE" | "FARGATE_SPOT", weight, base }', by_default="launch type FARGATE")
    spot: bool = option(False, doc='the strategy [{ provider = "FARGATE_SPOT" }]', by_default="false")
    cpu: int | None = option(None, doc="with memory: this job's task size (a Fargate cpu/memory pair), overriding the task definition's",
                             by_default="the task definition's size")
    memory: int | None = option(None, doc="with cpu: this job's task memory in MiB", by_default="the task definition's size")
    propagate_tags: str | None = option(None, doc=f"copy tags to each task: {' or '.join(task_tags.PROPAGATE_TAGS_VALUES)}",
                                        by_default="no tags are copied")
    enable_ecs_managed_tags: bool = option(False, doc="ECS managed tags on each task", by_default="false")
    stack_tags_on_tasks: bool = option(False, doc="put the environment's `tags` on each task", by_default="false")
    concurrency: int | None = option(None, doc="1: a new run does not start while one is running (sfn_task only)",
                                     by_default="runs may overlap")

    def __post_init__(self):
        if not self.container_name.strip():
            raise UserError("must name the container to override (the container's name in the task definition)", field="container_name")
        for name in self.environment:
            if not ENV_NAME.match(name):
                raise UserError(f"{name!r} is not a valid environment variable name (letters, digits, _; not starting with a digit)", field="environment")
        if not 1 <= self.task_count <= 10:
            raise UserError(f"{self.task_count} is out of range; allowed: 1 to 10 (RunTask's limit)", field="task_count")
        if not PLATFORM_VERSION.match(self.platform_version):
            raise UserError(f"{self.platform_version!r} is not a Fargate platform version; allowed: LATEST or like 1.4.0", field="platform_version")
        if self.import_from is not None and not STACK_NAME.match(self.import_from):
            raise UserError(f"{self.import_from!r} is not a stack name", field="import_from")
        for name in self.ssm_parameters:
            if name not in SSM_CAPABLE:
                raise UserError(f"{name!r} cannot come from SSM{did_you_mean(name, SSM_CAPABLE)}; allowed: {', '.join(SSM_CAPABLE)}", field="ssm_parameters")
        if self.spot and self.capacity_provider_strategy:
            raise UserError("spot = true is the strategy [{ provider = \"FARGATE_SPOT\" }]; use either it or capacity_provider_strategy",
                            field="spot")
        validate_strategy(self.capacity_provider_strategy)
        if places_on_spot(self.strategy):
            check_platform_version(self.platform_version, SPOT_MIN_PLATFORM, "Fargate Spot")
        if (self.cpu is None) != (self.memory is None):
            raise UserError("give cpu and memory together: the task-level override must be a whole Fargate task size",
                            field="memory" if self.memory is None else "cpu")
        if self.cpu is not None:
            validate_task_size(self.cpu, self.memory)
            if self.cpu in NEEDS_PLATFORM_1_4:
                check_platform_version(self.platform_version, (1, 4, 0), f"cpu {self.cpu}")
        if self.propagate_tags is not None and self.propagate_tags not in task_tags.PROPAGATE_TAGS_VALUES:
            raise UserError(f"{self.propagate_tags!r} is not allowed; allowed: {', '.join(task_tags.PROPAGATE_TAGS_VALUES)} "
                            "(or leave it out: no tags are copied)", field="propagate_tags")
        if self.concurrency is not None and self.concurrency != 1:
            raise UserError(f"{self.concurrency} is not allowed; allowed: 1 (a new run does not start while one is running), "
                            "or leave it out (runs may overlap)", field="concurrency")
        super().__post_init__()

    @property
    def strategy(self) -> tuple[CapacityProviderItem, ...]:
        """The capacity provider strategy the task starts with (empty: launch type FARGATE)."""
        return SPOT_ONLY if self.spot else self.capacity_provider_strategy

    @property
    def tags_tasks(self) -> bool:
        """Whether RunTask puts tags on the task (which needs ecs:TagResource)."""
        return bool(self.propagate_tags or self.enable_ecs_managed_tags or self.stack_tags_on_tasks)

    def task_tag_parameter_values(self, tags: dict[str, str]) -> dict[str, str]:
        """The TaskTag<Key> parameter values an environment with these `tags` takes."""
        values = super().task_tag_parameter_values(tags)
        return {**values, **task_tags.tag_parameter_values(tags)} if self.stack_tags_on_tasks else values

    def task_size_override(self) -> dict:
        """RunTask TaskOverride cpu/memory (strings, as ECS takes them), or nothing."""
        return {"cpu": str(self.cpu), "memory": str(self.memory)} if self.cpu is not None else {}

    def implied_parameters(self, environment: str) -> dict[str, str]:
        """With import_from, the foundation stack deployed for the same environment."""
        implied = super().implied_parameters(environment)
        return {**implied, FOUNDATION_STACK.name: f"{self.import_from}-{environment}"} if self.import_from else implied

    def resolved_parameters(self, values: dict[str, str], *, region: str | None) -> dict[str, str]:
        """A TaskFamily given as a task-definition ARN becomes its family name (see task_family_name).
        Not when TaskFamily is imported (no such parameter) or is the name of an SSM parameter."""
        values = super().resolved_parameters(values, region=region)
        family = values.get(P.TASK_FAMILY.name)
        if family is None or self.import_from or P.TASK_FAMILY.name in self.ssm_parameters:
            return values
        cluster_arn = None if P.CLUSTER_ARN.name in self.ssm_parameters else values.get(P.CLUSTER_ARN.name)
        return {**values, P.TASK_FAMILY.name: P.task_family_name(family, region=region, cluster_arn=cluster_arn)}

    def check_manifest(self, stack: ManifestStack, stacks: Mapping[str, ManifestStack]) -> None:
        """`import_from` naming a stack of this manifest: that stack provides TASK_FOUNDATION and is
        deployed in each environment that imports from it (`<import_from>-<env>`, in the same Region:
        exports are per Region), or the deploy fails with "No export named …". A name that is not in
        the manifest is a foundation deployed from elsewhere, which only the deploy can check."""
        super().check_manifest(stack, stacks)
        name = self.import_from
        foundation = stacks.get(name) if name else None
        if foundation is None:
            return
        field = "options.import_from"
        if TASK_FOUNDATION not in foundation.provides:
            ours = sorted(s.name for s in stacks.values() if TASK_FOUNDATION in s.provides)
            kinds = " or ".join(sorted({s.blueprint for s in stacks.values() if TASK_FOUNDATION in s.provides}))
            raise UserError(
                f"{name!r} is a {foundation.blueprint} stack, which does not export the cluster, family and roles; "
                f"allowed: a {kinds or 'task foundation'} stack ({', '.join(ours) if ours else 'none in this manifest'}) "
                "or a stack deployed from outside this manifest",
                field=field,
            )
        self._check_foundation_runs_this_task(foundation)
        for env, region in stack.regions.items():
            if FOUNDATION_STACK.name in stack.given_parameters.get(env, {}):
                continue  # the environment names its foundation stack itself
            if env not in foundation.regions:
                raise UserError(
                    f"{foundation.blueprint} stack {name!r} has no environment {env!r} (it has: {', '.join(foundation.regions)}), "
                    f"so there is no {name}-{env} to import from; allowed: environments that {name!r} has, "
                    f"or environments.{env}.parameters.{FOUNDATION_STACK.name} naming the foundation stack",
                    field=field,
                )
            foundation_region = foundation.regions[env]
            if region and foundation_region and region != foundation_region:
                raise UserError(
                    f"{region!r} differs from {foundation_region!r}, the region of {name}-{env} ({field} = {name!r}), and "
                    f"Fn::ImportValue only finds exports of its own Region; allowed: {foundation_region}, "
                    f"or set environments.{env}.parameters.{FOUNDATION_STACK.name}",
                    field=f"environments.{env}.region",
                )

    def _check_foundation_runs_this_task(self, foundation: ManifestStack) -> None:
        """What this job asks of its foundation's cluster and task definition (when both are in the
        manifest): the capacity providers its strategy names are associated with the cluster (else
        RunTask fails), Fargate Spot only for an X86_64 family, and a platform version the family can
        run on (ephemeral storage, a stop timeout and 8/16 vCPU need newer ones). A TASK_FOUNDATION's
        Options have capacity_providers, cpu_architecture and minimum_platform_version."""
        base = foundation.options
        field = "options.spot" if self.spot else "options.capacity_provider_strategy"
        missing = [item.provider for item in self.strategy if item.provider not in base.capacity_providers]
        if missing:
            raise UserError(
                f"{missing[0]} is not a capacity provider of {foundation.name}'s cluster (capacity_providers = "
                f"{list(base.capacity_providers)}), and RunTask cannot use a provider the cluster lacks; "
                f"allowed: add it to [stacks.{foundation.name}.options] capacity_providers, or drop it here",
                field=field)
        if places_on_spot(self.strategy) and base.cpu_architecture != "X86_64":
            raise UserError(f"{foundation.name}'s task family is {base.cpu_architecture}, and Fargate Spot runs X86_64 tasks only; "
                            "allowed: FARGATE only for this family", field=field)
        if base.minimum_platform_version:
            version, why = base.minimum_platform_version
            try:
                check_platform_version(self.platform_version, version, f"{foundation.name}'s task family ({why})")
            except UserError as error:
                raise error.within(field_prefix="options") from None

    def container_override(self, extra_environment: list[dict] = ()) -> dict:
        """The containerOverrides entry for this container (RunTask's TaskOverride shape)."""
        override: dict = {"name": self.container_name}
        if self.command:
            override["command"] = list(self.command)
        environment = [{"name": k, "value": v} for k, v in sorted(self.environment.items())] + list(extra_environment)
        if environment:
            override["environment"] = environment
        return override

    def static_input(self) -> str:
        """The target Input: RunTask overrides as compact JSON (EventBridge passes it as `overrides`)."""
        from generator.aws.event_rules import api_length, check_run_task_overrides

        override = self.container_override()
        body = {**self.task_size_override(), **({"containerOverrides": [override]} if len(override) > 1 else {})}
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        check_run_task_overrides(api_length(text), self)
        return text


def refuse_concurrency(options: RunTaskOptions, blueprint: str) -> None:
    """EventBridge (rules and Scheduler) starts a task without looking at what runs: it cannot skip a
    run while the previous one is still running, so `concurrency` is sfn_task's alone."""
    if options.concurrency is not None:
        raise UserError(f"{blueprint} starts the task from EventBridge, which cannot see a run still in progress; "
                        "use blueprint sfn_task, whose state machine skips a run while another is running (concurrency = 1)",
                        field="concurrency")


def _strategy_words(options: RunTaskOptions) -> str:
    return ", ".join(f"`{item.provider}` weight {item.weight}" + (f" base {item.base}" if item.base else "") for item in options.strategy)


def run_task_notes(options: RunTaskOptions, *, spot_retries: int | None) -> list[str]:
    """What the stack README says about where the task runs, its size and its tags.
    spot_retries: how many times an interrupted Spot task is run again (None: nothing re-runs it)."""
    notes = []
    if options.strategy:
        notes.append(f"Capacity provider strategy {_strategy_words(options)} (no launch type: ECS takes one or the other); "
                     "the cluster must have these capacity providers associated (task_foundation's `capacity_providers`), "
                     "or RunTask fails.")
    if places_on_spot(options.strategy):
        spot = ("Fargate Spot: when AWS needs the capacity back, the task's containers get a SIGTERM and two minutes' warning "
                "(they are killed after the container's stop timeout, 30 s unless the task definition sets up to 120 s), and "
                "the stopped task has `stopCode: SpotInterruption`. Fargate Spot runs Linux X86_64 tasks only, and does not "
                "fall back to on-demand Fargate when it has no capacity. ")
        if spot_retries is None:
            spot += ("Nothing runs an interrupted task again here (the trigger's retries cover only the RunTask call), so every "
                     "interrupted task alerts as a failed run, whatever its exit code; sfn_task re-runs interrupted tasks.")
        else:
            spot += (f"The state machine runs an interrupted task again, up to {spot_retries} time(s) (`spot_retry_attempts`), "
                     "also when its container exited 0 on the SIGTERM; an interruption is therefore not alerted as a job "
                     "failure, and an execution that runs out of re-runs fails (and alerts). The job must be safe to run again.")
        notes.append(spot)
    if options.cpu is not None:
        notes.append(f"Each task is sized {options.cpu} CPU units / {options.memory} MiB (a task-level override of the task "
                     "definition's size); the task definition's containers must not reserve more than that.")
    tagged = []
    if options.propagate_tags:
        tagged.append("the task definition's tags (`propagate_tags`)")
    if options.enable_ecs_managed_tags:
        tagged.append("ECS managed tags (such as `aws:ecs:clusterName`)")
    if options.stack_tags_on_tasks:
        tagged.append("the environment's `tags`, through the `TaskTag<Key>` parameters")
    if tagged:
        listed = tagged[0] if len(tagged) == 1 else ", ".join(tagged[:-1]) + " and " + tagged[-1]
        notes.append(f"Each task is tagged with {listed}; the role that starts it may tag only the tasks it starts "
                     "in this cluster (`ecs:TagResource` with `ecs:CreateAction` = `RunTask`).")
    return notes


@dataclass(frozen=True)
class TaskRef:
    """How this stack names the task it starts; values are CloudFormation expressions."""

    cluster_arn: object
    task_family: object
    execution_role_arn: object
    task_role_arn: object | None
    subnets: object
    security_groups: object

    @property
    def family_arn(self) -> Sub:
        """The unversioned family ARN: RunTask on it starts the latest ACTIVE revision."""
        return arn("ecs", "task-definition/${Family}", Family=self.task_family)

    @property
    def family_revisions_arn(self) -> Sub:
        """Every revision of this family (IAM checks RunTask against the revision that runs)."""
        return arn("ecs", "task-definition/${Family}:*", Family=self.task_family)

    @property
    def cluster_name(self):
        return Select(1, Split("cluster/", self.cluster_arn))

    @property
    def task_arns_in_cluster(self) -> Sub:
        return arn("ecs", "task/${Cluster}/*", Cluster=self.cluster_name)

    @property
    def passed_role_arns(self) -> list:
        roles = [self.execution_role_arn]
        if self.task_role_arn is not None:
            roles.append(self.task_role_arn)
        return roles


def task_ref(template: Template, options: RunTaskOptions) -> TaskRef:
    """Declare what the stack needs to reach its task (Parameters or imports) and return the refs."""
    ssm = set(options.ssm_parameters)
    if options.import_from:
        subnets, security_groups = _network_parameters(template, ssm)
        FOUNDATION_STACK.add_to(template)

        cluster, family, execution_role, task_role = (ImportValue(Sub(f"${{{FOUNDATION_STACK.name}}}-{name}"))
                                                      for name in FOUNDATION_EXPORTS)
        return TaskRef(cluster, family, execution_role, task_role, subnets, security_groups)
    cluster = P.CLUSTER_ARN.add_to(template, from_ssm="ClusterArn" in ssm)
    family = P.TASK_FAMILY.add_to(template, from_ssm="TaskFamily" in ssm)
    subnets, security_groups = _network_parameters(template, ssm)
    execution_role = P.EXECUTION_ROLE_ARN.add_to(template, from_ssm="ExecutionRoleArn" in ssm)
    task_role = P.TASK_ROLE_ARN.add_to(template, from_ssm="TaskRoleArn" in ssm)
    template.add_condition(HAS_TASK_ROLE, Not(Equals(Ref(task_role), "")))
    return TaskRef(
        Ref(cluster), Ref(family), Ref(execution_role),
        If(HAS_TASK_ROLE, Ref(task_role), Ref("AWS::NoValue")),
        subnets, security_groups,
    )


def _network_parameters(template: Template, ssm: set[str]):
    subnets = P.SUBNETS.add_to(template, from_ssm="Subnets" in ssm)
    security_groups = P.SECURITY_GROUPS.add_to(template, from_ssm="SecurityGroups" in ssm)
    return Ref(subnets), Ref(security_groups)
