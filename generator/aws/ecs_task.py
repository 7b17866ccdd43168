"""The ECS task every trigger blueprint starts: its options, where its ARNs come from, its overrides.

A trigger reaches the task through a `TaskRef`: either CloudFormation Parameters (values per
environment in stacks.toml) or, with `import_from`, the exports of a `task_foundation` stack.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from troposphere import Equals, If, ImportValue, Not, Ref, Select, Split, Sub, Template

from generator.aws import parameters as P
from generator.aws.arns import arn
from generator.core.errors import UserError
from generator.core.options import did_you_mean

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLATFORM_VERSION = re.compile(r"^(LATEST|\d+\.\d+\.\d+)$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
HAS_TASK_ROLE = "HasTaskRole"
SSM_CAPABLE = ("ClusterArn", "TaskFamily", "Subnets", "SecurityGroups", "ExecutionRoleArn", "TaskRoleArn")
# A task_foundation stack is deployed once per environment as `<manifest stack>-<env>` (samconfig's
# stack_name) and exports `${AWS::StackName}-ClusterArn` etc., so the name to import from differs
# per environment: it is a parameter, filled in per environment by `implied_parameters`.
FOUNDATION_STACK = P.ParameterSpec(
    "FoundationStack", "String",
    "Name of the task_foundation CloudFormation stack whose exports (<name>-ClusterArn, -TaskFamily, -ExecutionRoleArn, -TaskRoleArn) this stack imports",
    r"^[A-Za-z][A-Za-z0-9-]{0,127}$", "a CloudFormation stack name: letters, digits and -, starting with a letter",
)


@dataclass(frozen=True, kw_only=True)
class RunTaskOptions:
    """Options every blueprint that runs an ECS task shares (validated once, here)."""

    container_name: str
    command: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    task_count: int = 1
    platform_version: str = "LATEST"
    assign_public_ip: bool = False
    import_from: str | None = None
    ssm_parameters: tuple[str, ...] = ()

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

    def implied_parameters(self, environment: str) -> dict[str, str]:
        """Parameter values this stack takes in `environment` unless stacks.toml sets them: with
        import_from, the foundation stack deployed for the same environment."""
        return {FOUNDATION_STACK.name: f"{self.import_from}-{environment}"} if self.import_from else {}

    def resolved_parameters(self, values: dict[str, str], *, region: str | None) -> dict[str, str]:
        """An environment's parameter values from stacks.toml as samconfig.toml gets them: a
        TaskFamily given as a task-definition ARN becomes its family name (see task_family_name).
        Not when TaskFamily is imported (no such parameter) or is the name of an SSM parameter."""
        family = values.get(P.TASK_FAMILY.name)
        if family is None or self.import_from or P.TASK_FAMILY.name in self.ssm_parameters:
            return values
        cluster_arn = None if P.CLUSTER_ARN.name in self.ssm_parameters else values.get(P.CLUSTER_ARN.name)
        return {**values, P.TASK_FAMILY.name: P.task_family_name(family, region=region, cluster_arn=cluster_arn)}

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

        def imported(name):
            return ImportValue(Sub(f"${{{FOUNDATION_STACK.name}}}-{name}"))

        return TaskRef(imported("ClusterArn"), imported("TaskFamily"), imported("ExecutionRoleArn"),
                       imported("TaskRoleArn"), subnets, security_groups)
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
