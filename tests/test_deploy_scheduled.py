"""The example scheduled stacks deploy on a local CloudFormation endpoint (moto server) with the
parameter overrides from the rendered samconfig.toml, and the created rule is wired as rendered."""

from __future__ import annotations

import json

import pytest

from support.moto_deploy import client, create_stack, inline_policy, physical_ids, samconfig_overrides, yaml_load

pytestmark = [pytest.mark.deploy, pytest.mark.slow]


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_utc_rule_stack_deploys_and_targets_the_family_in_the_cluster(rendered_examples, moto_endpoint, environment):
    section, overrides = samconfig_overrides(rendered_examples / "samconfig.toml", f"artisan-logger-{environment}")
    template = (rendered_examples / section["template_file"]).read_text()
    stack = create_stack(moto_endpoint, section["region"], section["stack_name"], template, overrides, section["capabilities"].split())
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")

    ids = physical_ids(moto_endpoint, section["region"], section["stack_name"])
    events = client("events", moto_endpoint, section["region"])
    rule = events.describe_rule(Name=ids["ScheduleRule"].split("/")[-1].split("|")[0])
    assert rule["ScheduleExpression"] == "cron(20 2 * * ? *)"
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == overrides["ClusterArn"]
    assert target["EcsParameters"]["TaskDefinitionArn"].endswith(":task-definition/artisan")  # family, no revision
    # moto 5.2 returns NetworkConfiguration empty here; the rendered template's network wiring is
    # asserted in test_scheduled_task.py.
    assert json.loads(target["Input"])["containerOverrides"][0]["command"] == ["php", "artisan", "sample:logger"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"]["Arn"].endswith(":" + ids["DeadLetterQueue"].rsplit("/", 1)[-1])
    document = inline_policy(moto_endpoint, section["region"], target["RoleArn"].rsplit("/", 1)[-1])
    run_task = document["Statement"][0]
    assert run_task["Condition"] == {"ArnEquals": {"ecs:cluster": overrides["ClusterArn"]}}


def test_time_zone_stack_deploys(rendered_examples, moto_endpoint):
    section, overrides = samconfig_overrides(rendered_examples / "samconfig.toml", "nightly-report-dev")
    template = yaml_load((rendered_examples / section["template_file"]).read_text())
    # moto 5.2's CloudFormation does not model AWS::Scheduler::Schedule: it creates nothing for it
    # and fails on an output that reads its attributes, so that output is left out here.
    del template["Outputs"]["ScheduleArn"]
    stack = create_stack(moto_endpoint, section["region"], section["stack_name"], json.dumps(template), overrides, section["capabilities"].split())
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    region = section["region"]
    ids = physical_ids(moto_endpoint, region, section["stack_name"])
    # What can be read back is the role the schedule uses and its dead-letter queue.
    assert "RunTaskRole" in ids and "DeadLetterQueue" in ids
    sqs = client("sqs", moto_endpoint, region)
    attributes = sqs.get_queue_attributes(QueueUrl=ids["DeadLetterQueue"], AttributeNames=["All"])["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"

    # The role as created, with the parameters resolved: only EventBridge Scheduler of this account
    # may assume it; it may run this family in this cluster, pass the task's two roles to ECS only,
    # and send failed invocations to this stack's queue only.
    account = client("sts", moto_endpoint, region).get_caller_identity()["Account"]
    role = client("iam", moto_endpoint, region).get_role(RoleName=ids["RunTaskRole"])["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow",
        "Principal": {"Service": ["scheduler.amazonaws.com"]},
        "Action": ["sts:AssumeRole"],
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }]
    family_arn = f"arn:aws:ecs:{region}:{account}:task-definition/{overrides['TaskFamily']}"
    assert inline_policy(moto_endpoint, region, ids["RunTaskRole"])["Statement"] == [
        {
            "Sid": "RunTaskFamilyInCluster",
            "Effect": "Allow",
            "Action": ["ecs:RunTask"],
            "Resource": [family_arn, f"{family_arn}:*"],
            "Condition": {"ArnEquals": {"ecs:cluster": overrides["ClusterArn"]}},
        },
        {
            "Sid": "PassTaskRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [overrides["ExecutionRoleArn"], overrides["TaskRoleArn"]],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "SendToDeadLetterQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [attributes["QueueArn"]],
        },
    ]
