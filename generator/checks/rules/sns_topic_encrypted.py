"""W9007: every SNS topic is encrypted with a KMS key."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import is_set, resources


class SnsTopicEncrypted(CloudFormationLintRule):
    id = "W9007"
    shortdesc = "SNS topics are encrypted"
    description = "Every AWS::SNS::Topic sets KmsMasterKeyId (SNS has no default encryption at rest)."
    source_url = "https://docs.aws.amazon.com/sns/latest/dg/sns-server-side-encryption.html"
    tags = ["sns"]

    def match(self, cfn):
        return [
            RuleMatch(path, f"{name}: SNS topic is not encrypted; set KmsMasterKeyId")
            for name, properties, path in resources(cfn, "AWS::SNS::Topic")
            if not is_set(properties, "KmsMasterKeyId")
        ]
