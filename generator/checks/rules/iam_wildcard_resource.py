"""E9003: Resource "*" only for actions that AWS allows on "*" alone (one list of exceptions, below).

"*" includes ARNs as wide as "*" (arn:aws:s3:::*, arn:${AWS::Partition}:sqs:*:*:*; the definition is
in _policy.py, above is_wildcard_resource) and NotResource (every resource but those listed).
Key policies are not judged: their Resource is always the key itself.
"""

from __future__ import annotations

from typing import Any, Iterator

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import (
    KEY_POLICY_TYPES,
    actions,
    as_list,
    as_text,
    branches,
    has_not_resource,
    is_allow,
    is_wildcard_resource,
    not_actions,
    policy_statements,
)

_SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference"
_SFN_LOGS = (
    "Step Functions logging to CloudWatch Logs (vended log delivery) has no resource-level permissions: "
    "https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html ; "
    f"{_SAR}/list_amazoncloudwatchlogs.html"
)
_XRAY = (
    "X-Ray tracing actions have no resource-level permissions: "
    "https://docs.aws.amazon.com/step-functions/latest/dg/xray-iam.html ; "
    f"{_SAR}/list_awsx-ray.html"
)

# The ONE list of actions that may be granted on Resource "*": AWS defines no resource type for
# them, so "*" is the only value IAM accepts. Anything else with Resource "*" is an error.
# (tests/test_lint.py checks each entry against cfn-lint's copy of the Service Authorization Reference.)
RESOURCE_STAR_ONLY_ACTIONS: dict[str, str] = {
    "logs:CreateLogDelivery": _SFN_LOGS,
    "logs:GetLogDelivery": _SFN_LOGS,
    "logs:UpdateLogDelivery": _SFN_LOGS,
    "logs:DeleteLogDelivery": _SFN_LOGS,
    "logs:ListLogDeliveries": _SFN_LOGS,
    "logs:PutResourcePolicy": _SFN_LOGS,
    "logs:DescribeResourcePolicies": _SFN_LOGS,
    "logs:DescribeLogGroups": _SFN_LOGS,
    "xray:PutTraceSegments": _XRAY,
    "xray:PutTelemetryRecords": _XRAY,
    "xray:GetSamplingRules": _XRAY,
    "xray:GetSamplingTargets": _XRAY,
    "ecs:DescribeTaskDefinition": (
        "ECS defines no resource type for DescribeTaskDefinition, so the redeploy function (image_update = digest) reads "
        "the service's task definition on \"*\": "
        f"{_SAR}/list_amazonelasticcontainerservice.html"
    ),
    "ecr:GetAuthorizationToken": (
        "an ECR registry token is account-wide, so the ECS task execution role gets it on \"*\": "
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html ; "
        f"{_SAR}/list_amazonelasticcontainerregistry.html"
    ),
    # The deploy_role's CloudFormation execution role: CloudFormation's resource handlers call these.
    "kms:CreateKey": (
        "a key has no ARN before CreateKey makes it (the AWS::KMS::Key handler calls it): "
        f"{_SAR}/list_awskeymanagementservice.html"
    ),
    "logs:DescribeIndexPolicies": (
        "the AWS::Logs::LogGroup handler reads index policies; the action has no resource type: "
        f"{_SAR}/list_amazoncloudwatchlogs.html"
    ),
    "logs:DeleteResourcePolicy": (
        "CloudWatch Logs resource policies are account-wide (the AWS::Logs::ResourcePolicy handler deletes one); the action has no "
        f"resource type: {_SAR}/list_amazoncloudwatchlogs.html"
    ),
    "cloudformation:ListExports": (
        "exports are listed per Region, not per stack (diff --live reads importing stacks' values); the action has no "
        f"resource type: {_SAR}/list_awscloudformation.html"
    ),
    "ecs:DeregisterTaskDefinition": (
        "the AWS::ECS::TaskDefinition handler deregisters replaced revisions; the action has no resource type: "
        f"{_SAR}/list_amazonelasticcontainerservice.html"
    ),
    "ecs:DescribeTaskDefinition": (
        "the AWS::ECS::TaskDefinition handler reads the revision it registered; the action has no resource type: "
        f"{_SAR}/list_amazonelasticcontainerservice.html"
    ),
}
_EXCEPTED = {action.lower() for action in RESOURCE_STAR_ONLY_ACTIONS}  # IAM action names are case-insensitive


def is_star_only_action(action: object) -> bool:
    return isinstance(action, str) and action.lower() in _EXCEPTED


def resource_values(value: Any) -> Iterator[Any]:
    """Each entry of a Resource value, through Fn::If branches (AWS::NoValue dropped)."""
    for branch, _ in branches(value, []):
        for item in as_list(branch):
            for entry, _ in branches(item, []):
                yield entry


class IamWildcardResource(CloudFormationLintRule):
    id = "E9003"
    shortdesc = 'No Resource "*" on actions that support resource-level permissions'
    description = (
        'An Allow statement with Resource "*" (or an ARN as wide, such as arn:aws:s3:::* or '
        "arn:${AWS::Partition}:sqs:*:*:*, or NotResource) may only list actions that AWS allows on \"*\" alone "
        "(RESOURCE_STAR_ONLY_ACTIONS in generator/checks/rules/iam_wildcard_resource.py); "
        "scope every other action to the ARNs it needs. Not applied to KMS key policies, whose "
        'Resource "*" means the key itself.'
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_controlling.html#access_controlling-resources"
    tags = ["iam", "policy"]

    def match(self, cfn):
        matches = []
        for name, statement, path, resource_type in policy_statements(cfn):
            if not is_allow(statement) or resource_type in KEY_POLICY_TYPES:
                continue
            if has_not_resource(statement):
                key, what = "NotResource", "NotResource (every resource but those listed)"
            else:
                wide = [value for value in resource_values(statement.get("Resource")) if is_wildcard_resource(value)]
                if not wide:
                    continue
                key = "Resource"
                what = 'Resource "*"' if "*" in wide else f'Resource {as_text(wide[0])!r} (as wide as "*")'
            if not_actions(statement) is not None:
                shown = "every action but those in NotAction"
            else:
                scoped = [action for action in actions(statement) if not is_star_only_action(action)]
                if not scoped:
                    continue
                shown = ", ".join(a if isinstance(a, str) else "<intrinsic function>" for a in scoped)
            matches.append(
                RuleMatch([*path, key], f"{name}: {what} for {shown}; "
                                        "these actions support resource-level permissions, name the ARNs")
            )
        return matches
