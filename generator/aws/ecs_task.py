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
from generator.aws.arns import arn
from generator.core.contract import BlueprintOptions, ManifestStack
from generator.core.errors import UserError
from generator.core.options import did_you_mean, option

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLATFORM_VERSION = re.compile(r"^(LATEST|\d+\.\d+\.\d+)$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
HAS_TASK_ROLE = "HasTaskRole"
SSM_CAPABLE = ("ClusterArn", "TaskFamily", "Subnets", "SecurityGroups", "ExecutionRoleArn", "TaskRoleArn")
# What a blueprint PROVIDES when its stacks export `${AWS::StackName}-<name>` for each of
# FOUNDATION_EXPORTS: a stack whose `import_from` names a stack of the same manifest checks this.
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
        super().__post_init__()

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
        body = {"containerOverrides": [override]} if len(override) > 1 else {}
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        check_run_task_overrides(api_length(text), self)
        return text


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
