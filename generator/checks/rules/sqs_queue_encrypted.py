"""E9005: every SQS queue is encrypted at rest."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import is_set, is_true, resources


class SqsQueueEncrypted(CloudFormationLintRule):
    id = "E9005"
    shortdesc = "SQS queues are encrypted"
    description = "Every AWS::SQS::Queue sets SqsManagedSseEnabled: true or a KmsMasterKeyId."
    source_url = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html"
    tags = ["sqs"]

    def match(self, cfn):
        matches = []
        for name, properties, path in resources(cfn, "AWS::SQS::Queue"):
            if not (is_true(properties.get("SqsManagedSseEnabled")) or is_set(properties, "KmsMasterKeyId")):
                matches.append(
                    RuleMatch(path, f"{name}: SQS queue is not encrypted; set SqsManagedSseEnabled: true or KmsMasterKeyId")
                )
        return matches
