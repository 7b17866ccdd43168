"""E9001: no Allow statement grants every action ("*") or every action of a service ("s3:*")."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint_rules._policy import actions, is_allow, policy_statements


def is_wildcard_action(action: object) -> bool:
    """ "*", "*:*" or "service:*" (IAM action names are case-insensitive; "s3:Get*" is a narrower pattern)."""
    if not isinstance(action, str):
        return False
    name = action.split(":", 1)[-1]
    return bool(name) and set(name) == {"*"}


class IamWildcardAction(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "No IAM statement allows every action of a service"
    description = (
        'An Allow statement in an IAM, SQS, SNS or S3 policy must not use Action "*" or "service:*": '
        "grant the actions the job needs (least privilege). Deny statements may (e.g. a TLS-only bucket policy)."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
    tags = ["iam", "policy"]

    def match(self, cfn):
        matches = []
        for name, statement, path in policy_statements(cfn):
            if not is_allow(statement):
                continue
            for index, action in enumerate(actions(statement)):
                if is_wildcard_action(action):
                    action_path = [*path, "Action"] + ([index] if isinstance(statement["Action"], list) else [])
                    matches.append(RuleMatch(action_path, f"{name}: Allow statement grants Action {action!r}; list the actions instead"))
        return matches
