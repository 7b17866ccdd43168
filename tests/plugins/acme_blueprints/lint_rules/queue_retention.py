"""E9901, ACME's policy: an SQS queue keeps its messages for 14 days (the most SQS allows), so a failed
job's event is still there after a long weekend. Loaded with `python -m generator lint --append-rules
lint_rules` (cfn-lint's mechanism); the ids E9xxx/W9xxx are left to user rules."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

FOURTEEN_DAYS = 1_209_600  # seconds; SQS's maximum MessageRetentionPeriod


class QueueKeepsMessagesFourteenDays(CloudFormationLintRule):
    id = "E9901"
    shortdesc = "SQS queues keep messages for 14 days"
    description = "Every AWS::SQS::Queue sets MessageRetentionPeriod to 1209600 seconds (14 days)"
    source_url = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
    tags = ["sqs", "acme"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::SQS::Queue"]).items():
            properties = resource.get("Properties") or {}
            if properties.get("MessageRetentionPeriod") != FOURTEEN_DAYS:
                matches.append(RuleMatch(["Resources", name, "Properties"],
                                         f"{name}: MessageRetentionPeriod must be {FOURTEEN_DAYS} (14 days)"))
        return matches
