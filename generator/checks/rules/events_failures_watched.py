"""E9010: no EventBridge rule or Scheduler schedule can fail to deliver without a trace: every rule
target has a dead-letter queue or the rule's FailedInvocations is alarmed on (better: both), and
every schedule target has a dead-letter queue or its schedule group's InvocationDroppedCount is.

A target that cannot be invoked (a missing permission, a KMS key the service may not use, a deleted
target) is retried and then dropped: without a dead-letter queue and without an alarm, nothing
records it. https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
https://docs.aws.amazon.com/scheduler/latest/UserGuide/monitoring-cloudwatch.html
"""

from __future__ import annotations

from typing import Any, Iterator

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import as_list, is_set, resources


def alarmed_metrics(cfn: Any) -> Iterator[tuple[Any, Any, list]]:
    """(namespace, metric name, dimensions) of every metric an alarm of the template watches,
    whether given directly or as a MetricStat in Metrics (metric math)."""
    for _, properties, _ in resources(cfn, "AWS::CloudWatch::Alarm"):
        if "MetricName" in properties:
            yield properties.get("Namespace"), properties["MetricName"], as_list(properties.get("Dimensions") or [])
        for query in as_list(properties.get("Metrics") or []):
            metric = ((query or {}).get("MetricStat") or {}).get("Metric") if isinstance(query, dict) else None
            if isinstance(metric, dict):
                yield metric.get("Namespace"), metric.get("MetricName"), as_list(metric.get("Dimensions") or [])


def _watched(cfn: Any, namespace: str, metric: str, dimension: str, values: list) -> bool:
    for alarm_namespace, alarm_metric, dimensions in alarmed_metrics(cfn):
        if (alarm_namespace, alarm_metric) != (namespace, metric):
            continue
        for item in dimensions:
            if isinstance(item, dict) and item.get("Name") == dimension and item.get("Value") in values:
                return True
    return False


class EventsFailuresWatched(CloudFormationLintRule):
    id = "E9010"
    shortdesc = "Every EventBridge rule and schedule target has a dead-letter queue or an alarm on its failures"
    description = (
        "Each target of an AWS::Events::Rule sets DeadLetterConfig, or an AWS::CloudWatch::Alarm watches the rule's "
        "AWS/Events FailedInvocations (dimension RuleName); each AWS::Scheduler::Schedule target sets DeadLetterConfig, "
        "or an alarm watches AWS/Scheduler InvocationDroppedCount of its schedule group. Otherwise an event that cannot "
        "be delivered is dropped without a trace."
    )
    source_url = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html"
    tags = ["eventbridge", "alarms"]

    def match(self, cfn):
        matches = []
        for name, properties, path in resources(cfn, "AWS::Events::Rule"):
            names = [{"Ref": name}] + ([properties["Name"]] if "Name" in properties else [])
            if _watched(cfn, "AWS/Events", "FailedInvocations", "RuleName", names):
                continue
            for index, target in enumerate(as_list(properties.get("Targets") or [])):
                if isinstance(target, dict) and not is_set(target, "DeadLetterConfig"):
                    matches.append(RuleMatch([*path, "Properties", "Targets", index], (
                        f"{name}: target {target.get('Id', index)!r} has no DeadLetterConfig and no alarm watches the rule's "
                        "FailedInvocations; an event it cannot deliver would be dropped without a trace")))
        for name, properties, path in resources(cfn, "AWS::Scheduler::Schedule"):
            group = properties.get("GroupName", "default")
            target = properties.get("Target")
            if not isinstance(target, dict) or is_set(target, "DeadLetterConfig"):
                continue
            if not _watched(cfn, "AWS/Scheduler", "InvocationDroppedCount", "ScheduleGroup", [group]):
                matches.append(RuleMatch([*path, "Properties", "Target"], (
                    f"{name}: the target has no DeadLetterConfig and no alarm watches InvocationDroppedCount of its schedule "
                    "group; a run it cannot start would be dropped without a trace")))
        return matches
