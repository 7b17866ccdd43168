"""E9008: no Allow statement names every principal ("*", NotPrincipal) without a Condition."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import has_condition, is_allow, policy_statements, principal_is_everyone


class PolicyPublicPrincipal(CloudFormationLintRule):
    id = "E9008"
    shortdesc = 'No policy allows Principal "*" without a Condition'
    description = (
        'An Allow statement in a key, queue, topic, bucket or trust policy must not name Principal "*" '
        '(or {"AWS": "*"}), or use NotPrincipal (every principal but those listed), without a Condition: '
        "that opens the resource to every AWS account and to anonymous callers. Name the principals, or "
        "narrow the statement with a Condition (aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID...). "
        "Deny statements may (e.g. a TLS-only bucket policy)."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"
    tags = ["iam", "policy"]

    def match(self, cfn):
        matches = []
        for name, statement, path, _ in policy_statements(cfn):
            if not is_allow(statement) or has_condition(statement):
                continue
            if "NotPrincipal" in statement:
                matches.append(RuleMatch([*path, "NotPrincipal"], f"{name}: Allow statement with NotPrincipal and no "
                                                                  "Condition grants every principal but those listed"))
            elif principal_is_everyone(statement):
                matches.append(RuleMatch([*path, "Principal"], f'{name}: Allow statement grants Principal "*" '
                                                               "without a Condition; name the principals or add a Condition"))
        return matches
