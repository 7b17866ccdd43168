"""E9003: Resource "*" only for actions that AWS allows on "*" alone (one list of exceptions, below).

"*" includes ARNs as wide as "*" (arn:aws:s3:::*, arn:${AWS::Partition}:sqs:*:*:*; the definition is
in generator/aws/arns.py, above is_wildcard_resource) and NotResource (every resource but those listed).
The actions allowed on "*" are RESOURCE_STAR_ONLY_ACTIONS in generator/aws/iam.py.
Key policies are not judged: their Resource is always the key itself.
"""

from __future__ import annotations

from typing import Any, Iterator

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.aws.iam import RESOURCE_STAR_ONLY_ACTIONS, is_star_only_action  # noqa: F401  (RESOURCE_STAR_ONLY_ACTIONS: re-exported)
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
        "(RESOURCE_STAR_ONLY_ACTIONS in generator/aws/iam.py); "
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
