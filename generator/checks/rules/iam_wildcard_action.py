"""E9001: no Allow statement grants every action ("*"), every action of a service ("s3:*") or every
action but a list (NotAction)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import (
    KEY_POLICY_TYPES,
    actions,
    is_allow,
    not_actions,
    policy_statements,
    principal_is_this_account,
)


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
        'An Allow statement in an IAM, SQS, SNS, S3 or KMS key policy must not use Action "*" or "service:*", '
        "nor NotAction (every action but those listed): grant the actions the job needs (least privilege). "
        "Deny statements may (e.g. a TLS-only bucket policy). In a key policy, the account itself "
        '(arn:${AWS::Partition}:iam::${AWS::AccountId}:root) may have "kms:*": that is AWS\'s default key '
        "policy statement, which lets the account's IAM policies decide who uses the key."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
    tags = ["iam", "policy"]

    def match(self, cfn):
        matches = []
        for name, statement, path, resource_type in policy_statements(cfn):
            if not is_allow(statement):
                continue
            advice = "list the actions instead"
            if resource_type in KEY_POLICY_TYPES:
                if principal_is_this_account(statement):
                    # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
                    continue
                advice += " (in a key policy, only the account itself, arn:${AWS::Partition}:iam::${AWS::AccountId}:root, may have kms:*)"
            if not_actions(statement) is not None:
                matches.append(RuleMatch([*path, "NotAction"], f"{name}: Allow statement with NotAction grants every "
                                                               f"action but those listed; {advice}"))
            for index, action in enumerate(actions(statement)):
                if is_wildcard_action(action):
                    action_path = [*path, "Action"] + ([index] if isinstance(statement["Action"], list) else [])
                    matches.append(RuleMatch(action_path, f"{name}: Allow statement grants Action {action!r}; {advice}"))
        return matches
