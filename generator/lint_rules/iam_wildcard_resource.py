"""E9003: Resource "*" only for actions that AWS allows on "*" alone (one list of exceptions, below)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint_rules._policy import actions, as_list, is_allow, policy_statements

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
    "ecr:GetAuthorizationToken": (
        "an ECR registry token is account-wide, so the ECS task execution role gets it on \"*\": "
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html ; "
        f"{_SAR}/list_amazonelasticcontainerregistry.html"
    ),
}
_EXCEPTED = {action.lower() for action in RESOURCE_STAR_ONLY_ACTIONS}  # IAM action names are case-insensitive


def is_star_only_action(action: object) -> bool:
    return isinstance(action, str) and action.lower() in _EXCEPTED


class IamWildcardResource(CloudFormationLintRule):
    id = "E9003"
    shortdesc = 'No Resource "*" on actions that support resource-level permissions'
    description = (
        'An Allow statement with Resource "*" may only list actions that AWS allows on "*" alone '
        "(RESOURCE_STAR_ONLY_ACTIONS in generator/lint_rules/iam_wildcard_resource.py); "
        "scope every other action to the ARNs it needs."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_controlling.html#access_controlling-resources"
    tags = ["iam", "policy"]

    def match(self, cfn):
        matches = []
        for name, statement, path in policy_statements(cfn):
            if not is_allow(statement) or "*" not in as_list(statement.get("Resource")):
                continue
            scoped = [action for action in actions(statement) if not is_star_only_action(action)]
            if scoped:
                shown = ", ".join(a if isinstance(a, str) else "<intrinsic function>" for a in scoped)
                matches.append(
                    RuleMatch([*path, "Resource"], f'{name}: Resource "*" for {shown}; '
                                                   "these actions support resource-level permissions, name the ARNs")
                )
        return matches
