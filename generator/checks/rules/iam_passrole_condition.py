"""E9002: iam:PassRole is only allowed with a Condition on iam:PassedToService."""

from __future__ import annotations

import fnmatch

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import KEY_POLICY_TYPES, actions, is_allow, not_actions, policy_statements

# StringEquals/StringLike only: the ...IfExists variants are also true when the key is absent.
CONDITION_OPERATORS = ("StringEquals", "StringLike")
CONDITION_KEY = "iam:passedtoservice"


def grants_pass_role(action: object) -> bool:
    """The action is iam:PassRole or an IAM wildcard pattern that covers it ("iam:Pass*", "*")."""
    return isinstance(action, str) and fnmatch.fnmatchcase("iam:passrole", action.lower())


def statement_grants_pass_role(statement: dict) -> bool:
    """An Action entry covers iam:PassRole, or NotAction leaves it out of what it excludes.

    A NotAction entry given by an intrinsic function might exclude it: not judged (E9001 reports NotAction anyway).
    """
    excluded = not_actions(statement)
    if excluded is not None:
        return all(isinstance(action, str) for action in excluded) and not any(grants_pass_role(a) for a in excluded)
    return any(grants_pass_role(action) for action in actions(statement))


def has_passed_to_service(condition: object) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator in CONDITION_OPERATORS:
        block = condition.get(operator)
        # condition keys are case-insensitive
        if isinstance(block, dict) and any(isinstance(key, str) and key.lower() == CONDITION_KEY for key in block):
            return True
    return False


class IamPassRoleCondition(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "iam:PassRole needs an iam:PassedToService condition"
    description = (
        "Every Allow statement that grants iam:PassRole (by Action, or by a NotAction that does not exclude it) "
        "must have a Condition with iam:PassedToService (StringEquals or StringLike), so the role can only be "
        "passed to the intended service."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService"
    tags = ["iam", "policy"]

    def match(self, cfn):
        matches = []
        for name, statement, path, resource_type in policy_statements(cfn):
            # a key policy controls access to its key only: it cannot grant iam:PassRole
            if resource_type in KEY_POLICY_TYPES or not is_allow(statement) or not statement_grants_pass_role(statement):
                continue
            if not has_passed_to_service(statement.get("Condition")):
                matches.append(
                    RuleMatch(path, f"{name}: Allow statement grants iam:PassRole without a "
                                    "StringEquals/StringLike condition on iam:PassedToService")
                )
        return matches
