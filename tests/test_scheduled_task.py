"""scheduled_task: what the rendered template means (schedule, target, overrides, IAM)."""

from __future__ import annotations

import json
import shlex
import tomllib

import pytest

from support.expected_iam import FAMILY_ARN, PASS_ROLE, RUN_TASK, SEND_TO_DLQ, policy_statements
from support.manifests import NETWORK_PARAMETERS, manifest_text, one_resource, render_text, resources_of_type

def render(tmp_path, options: str) -> dict:
    return render_text(tmp_path, manifest_text("job", "scheduled_task", options))["job"].template


def trust(role: dict) -> dict:
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return statement


def test_utc_schedule_is_an_eventbridge_rule_running_the_latest_family_revision(tmp_path):
    template = render(tmp_path, 'schedule = "cron(20 2 * * ? *)"\ncontainer_name = "php"\ncommand = ["php", "artisan", "sample:logger"]')
    assert not resources_of_type(template, "AWS::Scheduler::Schedule")
    rule = template["Resources"]["ScheduleRule"]["Properties"]
    assert rule["ScheduleExpression"] == "cron(20 2 * * ? *)"
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "ClusterArn"}
    ecs = target["EcsParameters"]
    assert ecs["TaskDefinitionArn"] == FAMILY_ARN  # no :revision, so the latest ACTIVE revision runs
    assert ecs["LaunchType"] == "FARGATE" and ecs["PlatformVersion"] == "LATEST" and ecs["TaskCount"] == 1
    assert ecs["NetworkConfiguration"]["AwsVpcConfiguration"] == {
        "Subnets": {"Ref": "Subnets"}, "SecurityGroups": {"Ref": "SecurityGroups"}, "AssignPublicIp": "DISABLED",
    }
    assert json.loads(target["Input"]) == {"containerOverrides": [{"name": "php", "command": ["php", "artisan", "sample:logger"]}]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert target["RoleArn"] == {"Fn::GetAtt": ["RunTaskRole", "Arn"]}


def test_rule_role_may_only_run_this_family_in_this_cluster_and_pass_its_roles(tmp_path):
    template = render(tmp_path, 'schedule = "rate(1 hour)"\ncontainer_name = "app"')
    role = template["Resources"]["RunTaskRole"]
    assert trust(role) == {
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com"]},
        "Action": ["sts:AssumeRole"],
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}},
    }
    # The rule's own role does not send to the queue: EventBridge does, allowed by the queue policy.
    assert policy_statements(role) == [RUN_TASK, PASS_ROLE]


def test_rule_dead_letter_queue_accepts_only_this_rule_and_the_alert_rule(tmp_path):
    template = render(tmp_path, 'schedule = "rate(5 minutes)"\ncontainer_name = "app"')
    queue = one_resource(template, "AWS::SQS::Queue")["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    policy = one_resource(template, "AWS::SQS::QueuePolicy")["Properties"]
    assert policy["Queues"] == [{"Ref": "DeadLetterQueue"}]
    assert policy["PolicyDocument"]["Statement"] == [{
        "Sid": "OnlyThisRuleSendsFailedEvents",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com"]},
        "Action": ["sqs:SendMessage"],
        "Resource": [{"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}],
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ScheduleRule", "Arn"]}}},
    }, {
        "Sid": "AlertRulesSendUndeliveredAlerts",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com"]},
        "Action": ["sqs:SendMessage"],
        "Resource": [{"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}],
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["TaskFailedAlertRule", "Arn"]}}},
    }]


def test_time_zone_makes_an_eventbridge_scheduler_schedule(tmp_path):
    template = render(tmp_path, '''schedule = "cron(0 2 * * ? *)"
timezone = "Asia/Tokyo"
container_name = "app"
command = ["python", "report.py"]
environment = { B = "2", A = "1" }
retry_attempts = 3
max_event_age_seconds = 600''')
    assert "ScheduleRule" not in template["Resources"]
    # Scheduler sends to the dead-letter queue with the schedule's role; only the alert rule needs the queue policy
    (policy,) = resources_of_type(template, "AWS::SQS::QueuePolicy").values()
    assert [s["Sid"] for s in policy["Properties"]["PolicyDocument"]["Statement"]] == ["AlertRulesSendUndeliveredAlerts"]
    schedule = one_resource(template, "AWS::Scheduler::Schedule")["Properties"]
    assert schedule["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["EcsParameters"]["TaskDefinitionArn"] == FAMILY_ARN
    # Scheduler spells it AwsvpcConfiguration, rules AwsVpcConfiguration.
    assert target["EcsParameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == {"Ref": "Subnets"}
    assert json.loads(target["Input"]) == {"containerOverrides": [{
        "name": "app", "command": ["python", "report.py"],
        "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    }]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}
    role = template["Resources"]["RunTaskRole"]
    assert trust(role)["Principal"] == {"Service": ["scheduler.amazonaws.com"]}
    # Scheduler sends failed invocations to the DLQ with the schedule's role.
    assert policy_statements(role) == [RUN_TASK, PASS_ROLE, SEND_TO_DLQ]


def test_without_dead_letter_queue_nothing_refers_to_one(tmp_path):
    template = render(tmp_path, 'schedule = "rate(1 day)"\ntimezone = "Europe/Paris"\ncontainer_name = "app"\ndead_letter_queue = false')
    assert not resources_of_type(template, "AWS::SQS::Queue")
    target = one_resource(template, "AWS::Scheduler::Schedule")["Properties"]["Target"]
    assert "DeadLetterConfig" not in target
    assert policy_statements(template["Resources"]["RunTaskRole"]) == [RUN_TASK, PASS_ROLE]


def test_no_overrides_gives_an_empty_task_override_and_disabled_state(tmp_path):
    template = render(tmp_path, 'schedule = "rate(1 day)"\ncontainer_name = "app"\nenabled = false\nassign_public_ip = true\ntask_count = 2')
    rule = template["Resources"]["ScheduleRule"]["Properties"]
    assert rule["State"] == "DISABLED"
    (target,) = rule["Targets"]
    assert json.loads(target["Input"]) == {}
    assert target["EcsParameters"]["TaskCount"] == 2
    assert target["EcsParameters"]["NetworkConfiguration"]["AwsVpcConfiguration"]["AssignPublicIp"] == "ENABLED"


def test_ssm_parameters_change_the_parameter_type(tmp_path):
    text = manifest_text("job", "scheduled_task", 'schedule = "rate(1 day)"\ncontainer_name = "app"\nssm_parameters = ["Subnets"]',
                         parameters='ClusterArn = "arn:aws:ecs:us-east-1:123456789012:cluster/b"\nTaskFamily = "job"\nSubnets = "/network/private-subnets"\nSecurityGroups = "sg-0123456789abcdef0"\nExecutionRoleArn = "arn:aws:iam::123456789012:role/exec"')
    template = render_text(tmp_path, text)["job"].template
    assert template["Parameters"]["Subnets"]["Type"] == "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>"
    assert template["Parameters"]["SecurityGroups"]["Type"] == "List<AWS::EC2::SecurityGroup::Id>"


def test_task_family_parameter_rejects_a_revision(tmp_path):
    import re

    template = render(tmp_path, 'schedule = "rate(1 day)"\ncontainer_name = "app"')
    pattern = template["Parameters"]["TaskFamily"]["AllowedPattern"]
    assert re.fullmatch(pattern, "nightly-report")
    assert not re.fullmatch(pattern, "nightly-report:3")
    assert not re.fullmatch(pattern, "arn:aws:ecs:us-east-1:123456789012:task-definition/nightly-report:3")


def test_description_and_metadata_name_blueprint_and_options(tmp_path):
    template = render(tmp_path, 'schedule = "cron(20 2 * * ? *)"\ncontainer_name = "php"')
    assert template["Description"].startswith("test (generated from blueprint scheduled_task; options: ")
    assert "schedule=cron(20 2 * * ? *)" in template["Description"]
    assert template["Metadata"]["Generator"]["Blueprint"] == "scheduled_task"
    assert template["Metadata"]["Generator"]["Options"]["retry_attempts"] == 185


FAMILY_ARN_PREFIX = "arn:aws:ecs:us-east-1:123456789012:task-definition"


def render_cli(tmp_path, run_cli, task_family: str, *, region: str | None = "us-east-1", ssm: bool = False):
    """`render` with TaskFamily = task_family into tmp_path; (result, samconfig's overrides for job-dev)."""
    options = 'schedule = "rate(1 day)"\ncontainer_name = "app"' + ('\nssm_parameters = ["TaskFamily"]' if ssm else "")
    parameters = NETWORK_PARAMETERS.replace('TaskFamily = "job"', f'TaskFamily = "{task_family}"')
    text = manifest_text("job", "scheduled_task", options, parameters)
    if region is None:
        text = text.replace('region = "us-east-1"\n', "")
    (tmp_path / "stacks.toml").write_text(text)
    result = run_cli("render", "--manifest", "stacks.toml", "--out", "out", "--samconfig", "samconfig.toml", cwd=tmp_path)
    if result.code != 0:
        return result, None
    section = tomllib.loads((tmp_path / "samconfig.toml").read_text())["job-dev"]["deploy"]["parameters"]
    return result, dict(pair.split("=", 1) for pair in shlex.split(section["parameter_overrides"]))


@pytest.mark.parametrize("region", ["us-east-1", None])
def test_task_family_given_as_an_unversioned_arn_is_written_as_the_family(tmp_path, run_cli, region):
    # Without a region, the ARN is checked against ClusterArn's Region (us-east-1 in NETWORK_PARAMETERS).
    result, overrides = render_cli(tmp_path, run_cli, f"{FAMILY_ARN_PREFIX}/nightly-report", region=region)
    assert result.code == 0, result.err
    assert overrides["TaskFamily"] == "nightly-report"
    # Everything rendered is what the family name gives: the templates do not change.
    named = tmp_path / "named"
    named.mkdir()
    assert render_cli(named, run_cli, "nightly-report", region=region)[0].code == 0
    for rel in ("out/job/template.yaml", "out/job/README.md", "samconfig.toml"):
        assert (tmp_path / rel).read_text() == (named / rel).read_text(), rel


def test_task_family_from_ssm_is_an_ssm_parameter_name_left_as_it_is(tmp_path, run_cli):
    result, overrides = render_cli(tmp_path, run_cli, "/batch/task-family", ssm=True)
    assert result.code == 0, result.err
    assert overrides["TaskFamily"] == "/batch/task-family"


@pytest.mark.parametrize("value, words", [
    (f"{FAMILY_ARN_PREFIX}/nightly-report:3",
     "is not valid: it pins revision 3; allowed: a task definition family name, or its ARN without :revision "
     "(arn:<partition>:ecs:<region>:<account>:task-definition/<family>)"),
    ("arn:aws:ecs:eu-west-1:123456789012:task-definition/nightly-report",
     "is in Region eu-west-1, but the stack runs tasks in its own Region, us-east-1 (the environment's region); "
     "allowed: a family name, or a task-definition ARN in us-east-1"),
    ("arn:aws:ecs:us-east-1:210987654321:task-definition/nightly-report",
     "is in account 210987654321, but the task runs with a task definition of the cluster's account (123456789012, from ClusterArn)"),
    ("arn:aws:ecs:us-east-1:123456789012:cluster/nightly-report", "is not a task-definition ARN"),
    (f"{FAMILY_ARN_PREFIX}/nightly report", "'nightly report' is not a family name"),
])
def test_task_family_arn_that_cannot_run_here_is_a_one_line_error(tmp_path, run_cli, value, words):
    result, _ = render_cli(tmp_path, run_cli, value)
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: stack job: environments.dev.parameters.TaskFamily: {value!r} "), result.err
    assert words in result.err
    assert not (tmp_path / "samconfig.toml").exists() and not (tmp_path / "out").exists()


def test_task_family_arn_in_another_region_than_the_cluster_is_refused_without_an_environment_region(tmp_path, run_cli):
    result, _ = render_cli(tmp_path, run_cli, "arn:aws:ecs:us-west-2:123456789012:task-definition/job", region=None)
    assert result.code == 2
    assert "is in Region us-west-2, but the stack runs tasks in its own Region, us-east-1 (ClusterArn's Region)" in result.err


def test_static_overrides_longer_than_run_task_allows_are_a_render_error(tmp_path):
    from generator.core.errors import UserError

    def options(length: int) -> str:
        return f'schedule = "rate(1 hour)"\ncontainer_name = "app"\ncommand = ["{"x" * length}"]'

    # {"containerOverrides":[{"name":"app","command":["x…"]}]} is 54 characters around the argument
    render_text(tmp_path, manifest_text("job", "scheduled_task", options(8192 - 54)))
    with pytest.raises(UserError) as error:
        render_text(tmp_path, manifest_text("job", "scheduled_task", options(8192 - 53)))
    assert error.value.stack == "job" and error.value.field.endswith("command")
    assert "the RunTask overrides would be 8193 characters; ECS RunTask allows at most 8192 (shorten command or environment by 1)" in str(error.value)
