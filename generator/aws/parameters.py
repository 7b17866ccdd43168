"""CloudFormation Parameters shared by the blueprints, and render-time checks of the values.

What differs per environment (cluster, subnets, roles…) is a Parameter whose value comes from
`stacks.toml` through samconfig's parameter_overrides; a value is checked here against the
template's own Parameter definition, so a bad value fails at render, not half-way through a deploy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from troposphere import Parameter, Template

from generator.core.errors import UserError
from generator.core.options import unknown_key_error

ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$"
CLUSTER_ARN_PATTERN = r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/[A-Za-z0-9_-]{1,255}$"
# A family name only: `family:3` would pin a revision, and the point is that the latest ACTIVE one runs.
TASK_FAMILY_PATTERN = r"^[A-Za-z0-9_-]{1,255}$"
# stacks.toml may also give TaskFamily as an unversioned task-definition ARN; `task_family_name`
# turns it into the family name before it is written to samconfig.toml.
_ECS_ARN = r"arn:aws[a-z-]*:ecs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
TASK_DEFINITION_ARN = re.compile(_ECS_ARN + r"task-definition/(?P<family>.*)")
_CLUSTER_ARN = re.compile(_ECS_ARN + r"cluster/[A-Za-z0-9_-]{1,255}")
TASK_FAMILY_ALLOWED = (
    "a task definition family name, or its ARN without :revision "
    "(arn:<partition>:ecs:<region>:<account>:task-definition/<family>), so that the latest ACTIVE revision runs"
)

# What each AWS-specific list type accepts, for render-time checks (CloudFormation checks at deploy).
_LIST_ITEM_PATTERNS = {
    "List<AWS::EC2::Subnet::Id>": (r"^subnet-[0-9a-f]{8,17}$", "subnet ids like subnet-0a1b2c3d"),
    "List<AWS::EC2::SecurityGroup::Id>": (r"^sg-[0-9a-f]{8,17}$", "security group ids like sg-0123456789abcdef0"),
}
SSM_PARAMETER_NAME_PATTERN = r"^[a-zA-Z0-9_.\-/]{1,2048}$"


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter the blueprints share: declared once, added to any template that needs it."""

    name: str
    type: str
    description: str
    allowed_pattern: str | None = None
    constraint: str | None = None
    default: str | None = None

    def add_to(self, template: Template, *, from_ssm: bool = False) -> Parameter:
        if self.name in template.parameters:
            return template.parameters[self.name]
        kwargs = {"Type": self.type, "Description": self.description}
        if from_ssm:
            # The value is the *name* of an SSM parameter holding the real value.
            kwargs["Type"] = f"AWS::SSM::Parameter::Value<{self.type}>"
            kwargs["Description"] = f"{self.description} (name of an SSM parameter holding it)"
        else:
            if self.allowed_pattern:
                kwargs["AllowedPattern"] = self.allowed_pattern
            if self.constraint:
                kwargs["ConstraintDescription"] = self.constraint
        if self.default is not None and not from_ssm:
            kwargs["Default"] = self.default
        return template.add_parameter(Parameter(self.name, **kwargs))


CLUSTER_ARN = ParameterSpec(
    "ClusterArn", "String", "ARN of the ECS cluster the task runs in",
    CLUSTER_ARN_PATTERN, "an ECS cluster ARN: arn:aws:ecs:<region>:<account>:cluster/<name>",
)
TASK_FAMILY = ParameterSpec(
    "TaskFamily", "String",
    "Task definition family name, without :revision (the latest ACTIVE revision runs)",
    TASK_FAMILY_PATTERN, "a task definition family name without :revision (letters, digits, - and _)",
)
SUBNETS = ParameterSpec("Subnets", "List<AWS::EC2::Subnet::Id>", "Subnets for the task's awsvpc network interface")
SECURITY_GROUPS = ParameterSpec(
    "SecurityGroups", "List<AWS::EC2::SecurityGroup::Id>", "Security groups for the task's network interface"
)
EXECUTION_ROLE_ARN = ParameterSpec(
    "ExecutionRoleArn", "String", "ARN of the task execution role (image pull, logs)",
    ROLE_ARN_PATTERN, "an IAM role ARN: arn:aws:iam::<account>:role/<name>",
)
TASK_ROLE_ARN = ParameterSpec(
    "TaskRoleArn", "String", "ARN of the task role the container uses; empty when the task has none",
    r"^(arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512})?$",
    "empty, or an IAM role ARN: arn:aws:iam::<account>:role/<name>", default="",
)


def task_family_name(value: str, *, region: str | None, cluster_arn: str | None) -> str:
    """The family a TaskFamily value from stacks.toml names: a family name as it is, an unversioned
    task-definition ARN as its family, once its Region (and account) are those the task runs in.

    Why the ARN is resolved here rather than accepted by the template's parameter: the templates
    build `task-definition/<family>` (and `<family>:*` for IAM) in their own partition, Region and
    account, because a rule, schedule or state machine can only run a task in its own Region, with
    a task definition of the cluster's account. An ARN there says nothing more than the family, so
    writing the family to samconfig.toml keeps every template (and its one TaskFamily parameter)
    unchanged, where accepting ARNs in the template would need a Condition and Fn::Split in each,
    and could not tell a wrong Region before the deploy."""
    if not value.startswith("arn:"):
        return value  # a name: the parameter's own AllowedPattern checks it (check_parameter_values)
    match = TASK_DEFINITION_ARN.fullmatch(value)
    if match is None:
        raise UserError(f"{value!r} is not a task-definition ARN; allowed: {TASK_FAMILY_ALLOWED}", field=TASK_FAMILY.name)
    family = match["family"]
    if not re.fullmatch(TASK_FAMILY_PATTERN, family):
        revision = re.fullmatch(r"[A-Za-z0-9_-]+:(\d+)", family)
        problem = f"it pins revision {revision[1]}" if revision else f"{family!r} is not a family name (letters, digits, - and _)"
        raise UserError(f"{value!r} is not valid: {problem}; allowed: {TASK_FAMILY_ALLOWED}", field=TASK_FAMILY.name)
    cluster = _CLUSTER_ARN.fullmatch(cluster_arn or "")  # a malformed one is reported by its own check
    if region is not None:
        expected_region, source = region, "the environment's region"
    elif cluster is not None:
        expected_region, source = cluster["region"], "ClusterArn's Region"
    else:
        expected_region = None  # deployed to sam's default Region: nothing to compare with
    if expected_region is not None and match["region"] != expected_region:
        raise UserError(
            f"{value!r} is in Region {match['region']}, but the stack runs tasks in its own Region, {expected_region} ({source}); "
            f"allowed: a family name, or a task-definition ARN in {expected_region}",
            field=TASK_FAMILY.name,
        )
    if cluster is not None and match["account"] != cluster["account"]:
        raise UserError(
            f"{value!r} is in account {match['account']}, but the task runs with a task definition of the cluster's account "
            f"({cluster['account']}, from ClusterArn); allowed: a family name, or a task-definition ARN in account {cluster['account']}",
            field=TASK_FAMILY.name,
        )
    return family


def allowed_text(parameter: dict) -> str:
    """What a parameter accepts, in the words its render-time check uses."""
    if parameter["Type"] in _LIST_ITEM_PATTERNS:
        return f"comma-separated {_LIST_ITEM_PATTERNS[parameter['Type']][1]} (or a TOML list)"
    if parameter["Type"].startswith("AWS::SSM::Parameter::Value<"):
        return "the name of an SSM parameter"
    return parameter.get("ConstraintDescription") or parameter["Type"]


def missing_parameters(template_parameters: dict[str, dict], values: dict[str, str]) -> list[str]:
    """The template's parameters that have no default and no value, in template order."""
    return [name for name, parameter in template_parameters.items() if name not in values and "Default" not in parameter]


def check_parameter_values(template_parameters: dict[str, dict], values: dict[str, str], *, stack: str, environment: str) -> None:
    """Every required parameter has a value, no value is for an unknown parameter, and each value
    satisfies the parameter's own constraints."""
    field = f"environments.{environment}.parameters"
    for name in values:
        if name not in template_parameters:
            raise unknown_key_error(name, template_parameters, what="parameter", field=f"{field}.{name}").within(stack=stack)
    for name, parameter in template_parameters.items():
        props = parameter
        if name not in values:
            if "Default" not in props:
                raise UserError(
                    f"no value for required parameter {name} ({props.get('Description', props['Type'])})",
                    stack=stack, field=f"{field}.{name}",
                )
            continue
        _check_value(name, props, values[name], stack=stack, field=f"{field}.{name}")


def _check_value(name: str, props: dict, value: str, *, stack: str, field: str) -> None:
    param_type = props["Type"]
    if param_type.startswith("AWS::SSM::Parameter::Value<"):
        if not re.match(SSM_PARAMETER_NAME_PATTERN, value):
            raise UserError(f"{value!r} is not an SSM parameter name", stack=stack, field=field)
        return
    if param_type in _LIST_ITEM_PATTERNS:
        pattern, allowed = _LIST_ITEM_PATTERNS[param_type]
        items = [item.strip() for item in value.split(",")]
        for item in items:
            if not re.match(pattern, item):
                raise UserError(f"{item!r} is not valid; allowed: comma-separated {allowed}", stack=stack, field=field)
        return
    pattern = props.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        allowed = props.get("ConstraintDescription", f"a value matching {pattern}")
        raise UserError(f"{value!r} is not valid; allowed: {allowed}", stack=stack, field=field)
    allowed_values = props.get("AllowedValues")
    if allowed_values and value not in allowed_values:
        raise UserError(f"{value!r} is not valid; allowed: {', '.join(allowed_values)}", stack=stack, field=field)
