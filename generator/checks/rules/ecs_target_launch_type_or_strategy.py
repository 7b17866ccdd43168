"""E9011: an ECS RunTask target names a launch type or a capacity provider strategy, never both.

AWS rejects a RunTask request with both ("If a capacityProviderStrategy is specified, the launchType
parameter must be omitted"), and an EventBridge rule or Scheduler target only finds out when it
fires. The blueprints never write both; a hand override ([stacks.X.overrides]) can, and this rule
is how `lint` catches it.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-events-rule-ecsparameters.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import as_list, is_set, resources


class EcsTargetLaunchTypeOrStrategy(CloudFormationLintRule):
    id = "E9011"
    shortdesc = "ECS targets set LaunchType or CapacityProviderStrategy, not both"
    description = ("An AWS::Events::Rule or AWS::Scheduler::Schedule target's EcsParameters does not set both LaunchType and "
                   "CapacityProviderStrategy (RunTask rejects a request with both).")
    source_url = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html"
    tags = ["ecs", "events", "scheduler"]

    def match(self, cfn):
        targets = []
        for name, properties, path in resources(cfn, "AWS::Events::Rule"):
            for index, target in enumerate(as_list(properties.get("Targets", []))):
                targets.append((name, target, [*path, "Properties", "Targets", index, "EcsParameters"]))
        for name, properties, path in resources(cfn, "AWS::Scheduler::Schedule"):
            targets.append((name, properties.get("Target"), [*path, "Properties", "Target", "EcsParameters"]))
        matches = []
        for name, target, ecs_path in targets:
            ecs = target.get("EcsParameters") if isinstance(target, dict) else None
            if isinstance(ecs, dict) and is_set(ecs, "LaunchType") and is_set(ecs, "CapacityProviderStrategy"):
                matches.append(RuleMatch(ecs_path, f"{name}: the ECS target sets both LaunchType and CapacityProviderStrategy; "
                                                   "RunTask takes one or the other, so drop LaunchType"))
        return matches
