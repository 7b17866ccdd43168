"""E9009: a KMS key that encrypts an SNS topic lets EventBridge use it without aws:SourceAccount,
aws:SourceArn or aws:SourceOrgID conditions.

The SNS developer guide (key management, event sources and encrypted topics) lists these three
condition keys as not supported in a key policy for EventBridge publishing to an encrypted topic:
with them every publish from a rule fails at KMS, and the alert it carries is lost. A key is judged
when a topic of the template names it (KmsMasterKeyId) or when its statement is conditioned on the
SNS encryption context (kms:EncryptionContext:aws:sns:topicArn); a key used only for, say, an event
bus may well restrict EventBridge with aws:SourceArn, as EventBridge's own guide advises.
"""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import (
    KEY_POLICY_TYPES,
    branches,
    condition_keys,
    is_allow,
    policy_statements,
    principal_services,
    resources,
)

EVENTS_SERVICE = "events.amazonaws.com"
UNSUPPORTED_KEYS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID")
SNS_CONTEXT_KEY = "kms:encryptioncontext:aws:sns:topicarn"


def _referenced_resource(value: Any) -> str | None:
    """The logical id a KmsMasterKeyId refers to: Ref X, Fn::GetAtt [X, ...], or ${X}/${X.Arn} in an Fn::Sub."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (name, arg), = value.items()
    if name == "Ref" and isinstance(arg, str):
        return arg
    if name == "Fn::GetAtt":
        target = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0] if isinstance(arg, list) and arg else None
        return target if isinstance(target, str) else None
    if name == "Fn::Sub":
        text = arg if isinstance(arg, str) else arg[0] if isinstance(arg, list) and arg and isinstance(arg[0], str) else ""
        if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
            return text[2:-1].split(".", 1)[0]
    return None


def topic_keys(cfn: Any) -> set[str]:
    """Logical ids of the template's KMS keys that encrypt one of its SNS topics."""
    keys = set()
    for _, properties, path in resources(cfn, "AWS::SNS::Topic"):
        for value, _ in branches(properties.get("KmsMasterKeyId"), path):
            name = _referenced_resource(value)
            if name and cfn.template.get("Resources", {}).get(name, {}).get("Type") in KEY_POLICY_TYPES:
                keys.add(name)
    return keys


class KmsEventsSnsConditions(CloudFormationLintRule):
    id = "E9009"
    shortdesc = "EventBridge may use an SNS topic's KMS key without aws:Source* conditions"
    description = (
        "In the key policy of a KMS key that encrypts an SNS topic, an Allow statement for events.amazonaws.com must not "
        "carry aws:SourceAccount, aws:SourceArn or aws:SourceOrgID conditions: Amazon SNS does not support them for "
        "EventBridge publishing to an encrypted topic, and every publish fails. Give EventBridge its own statement "
        "(narrow it with kms:EncryptionContext:aws:sns:topicArn) and keep those conditions for services that support "
        "them, such as CloudWatch alarms."
    )
    source_url = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"
    tags = ["kms", "sns", "eventbridge", "policy"]

    def match(self, cfn):
        matches = []
        encrypting_topics = topic_keys(cfn)
        for name, statement, path, resource_type in policy_statements(cfn):
            if resource_type not in KEY_POLICY_TYPES or not is_allow(statement):
                continue
            if EVENTS_SERVICE not in principal_services(statement):
                continue
            keys = condition_keys(statement)
            if name not in encrypting_topics and SNS_CONTEXT_KEY not in keys:
                continue
            unsupported = [key for key in UNSUPPORTED_KEYS if key.lower() in keys]
            if unsupported:
                matches.append(RuleMatch([*path, "Condition"], (
                    f"{name}: the statement for events.amazonaws.com is conditioned on {', '.join(unsupported)}, which SNS does "
                    "not support for EventBridge publishing to an encrypted topic (every publish would fail); give EventBridge "
                    "its own statement without them, e.g. with kms:EncryptionContext:aws:sns:topicArn")))
        return matches
