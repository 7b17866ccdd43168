"""E9006: every CloudWatch Logs log group has a retention period."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import is_set, resources


class LogGroupRetention(CloudFormationLintRule):
    id = "E9006"
    shortdesc = "Log groups have RetentionInDays"
    description = "Every AWS::Logs::LogGroup sets RetentionInDays (without it, logs are kept, and billed, forever)."
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/Working-with-log-groups-and-streams.html#SettingLogRetention"
    tags = ["logs"]

    def match(self, cfn):
        return [
            RuleMatch(path, f"{name}: log group has no RetentionInDays")
            for name, properties, path in resources(cfn, "AWS::Logs::LogGroup")
            if not is_set(properties, "RetentionInDays")
        ]
