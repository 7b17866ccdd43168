"""Failure alerts: the rule hears exactly the failed runs of this job, and every alert can be delivered."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from generator.review.event_simulator import Resolver, eventbridge_view
from support.manifests import manifest_text, render_text, resources_of_type
from support.paths import REFERENCE_EVENTS

CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/example-cluster"
PARAMETERS = f'''ClusterArn = "{CLUSTER}"
TaskFamily = "report"
Subnets = "subnet-0a1b2c3d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::111122223333:role/exec"'''


def render(tmp_path, extra: str = "") -> dict:
    options = f'schedule = "rate(1 hour)"\ncontainer_name = "app"\n{extra}'
    return render_text(tmp_path, manifest_text("report-job", "scheduled_task", options, PARAMETERS))["report-job"].template


@pytest.fixture
def alert_pattern(tmp_path):
    template = render(tmp_path)
    pattern = template["Resources"]["TaskFailedAlertRule"]["Properties"]["EventPattern"]
    resolved = Resolver(template, {"ClusterArn": CLUSTER, "TaskFamily": "report"}, pseudo={}).resolve(pattern)
    return EventPattern.load(json.dumps(resolved))


def event(name: str) -> dict:
    return json.loads((REFERENCE_EVENTS / name).read_text())


def matches(pattern: EventPattern, sample: dict) -> bool:
    return pattern.matches_event(eventbridge_view(sample))


@pytest.mark.parametrize("name, alerts", [
    ("ecs-task-state-change-stopped-exit0.json", False),
    ("ecs-task-state-change-stopped-exit1.json", True),
    ("ecs-task-state-change-failed-to-start.json", True),
])
def test_alert_rule_on_aws_sample_events(alert_pattern, name, alerts):
    assert matches(alert_pattern, event(name)) is alerts


@pytest.mark.parametrize("change", [
    lambda d: d.update(group="family:other-job"),
    lambda d: d.update(clusterArn="arn:aws:ecs:us-west-2:111122223333:cluster/other"),
    lambda d: d.update(lastStatus="RUNNING"),
    lambda d: d.update(group="service:report"),
])
def test_near_misses_do_not_alert(alert_pattern, change):
    failed = event("ecs-task-state-change-stopped-exit1.json")
    change(failed["detail"])
    assert not matches(alert_pattern, failed)


def test_crushing_arrays_is_what_lets_moto_see_container_exit_codes(alert_pattern):
    failed = event("ecs-task-state-change-stopped-exit1.json")
    assert not alert_pattern.matches_event(failed)  # moto alone: arrays of objects are opaque
    assert matches(alert_pattern, failed)


def test_any_container_failing_alerts(alert_pattern):
    failed = event("ecs-task-state-change-stopped-exit0.json")
    failed["detail"]["containers"].append(dict(failed["detail"]["containers"][0], name="sidecar", exitCode=137))
    assert matches(alert_pattern, failed)


def test_alert_message_is_a_readable_string(tmp_path):
    template = render(tmp_path)
    (target,) = template["Resources"]["TaskFailedAlertRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "AlertTopic"}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "group": "$.detail.group", "task": "$.detail.taskArn", "reason": "$.detail.stoppedReason",
        "stopCode": "$.detail.stopCode", "exitCode": "$.detail.containers[0].exitCode",
    }
    template_text = transformer["InputTemplate"]
    assert template_text.startswith('"') and template_text.endswith('"')
    for placeholder in transformer["InputPathsMap"]:
        assert f"<{placeholder}>" in template_text


def test_created_topic_is_encrypted_with_a_key_publishers_may_use(tmp_path):
    template = render(tmp_path)
    resources = template["Resources"]
    assert resources["AlertTopic"]["Properties"] == {"KmsMasterKeyId": {"Ref": "AlertTopicKey"}}
    key = resources["AlertTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    publishers = key["KeyPolicy"]["Statement"][1]
    assert publishers["Principal"] == {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]}
    assert publishers["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert publishers["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}
    assert resources["AlertEmailSubscription"]["Condition"] == "HasAlertEmail"
    statements = resources["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statements == [
        {"Sid": "AlertRulePublishes", "Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com"]},
         "Action": ["sns:Publish"], "Resource": [{"Ref": "AlertTopic"}],
         "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["TaskFailedAlertRule", "Arn"]}}}},
        {"Sid": "AlarmsPublish", "Effect": "Allow", "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
         "Action": ["sns:Publish"], "Resource": [{"Ref": "AlertTopic"}],
         "Condition": {"ArnLike": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"}},
                       "StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}},
    ]


def test_alarms_watch_the_dead_letter_queue_and_failed_invocations(tmp_path):
    resources = render(tmp_path)["Resources"]
    dlq = resources["DeadLetterQueueAlarm"]["Properties"]
    assert (dlq["Namespace"], dlq["MetricName"], dlq["Threshold"], dlq["ComparisonOperator"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    assert dlq["AlarmActions"] == [{"Ref": "AlertTopic"}]
    failed = resources["FailedInvocationsAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"]) == ("AWS/Events", "FailedInvocations")
    assert failed["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": "ScheduleRule"}}]


def test_scheduler_stacks_alarm_on_dropped_invocations_of_their_own_schedule_group(tmp_path):
    resources = render(tmp_path, 'timezone = "Europe/Paris"')["Resources"]
    assert "DeadLetterQueueAlarm" in resources and "FailedInvocationsAlarm" not in resources
    # Scheduler's metrics exist per schedule group: the stack's schedule has a group of its own
    assert resources["ScheduleGroup"] == {"Type": "AWS::Scheduler::ScheduleGroup"}
    assert resources["Schedule"]["Properties"]["GroupName"] == {"Ref": "ScheduleGroup"}
    dropped = resources["ScheduleDroppedAlarm"]["Properties"]
    assert (dropped["Namespace"], dropped["MetricName"], dropped["Statistic"], dropped["Threshold"], dropped["ComparisonOperator"]) == (
        "AWS/Scheduler", "InvocationDroppedCount", "Sum", 0, "GreaterThanThreshold")
    assert dropped["Dimensions"] == [{"Name": "ScheduleGroup", "Value": {"Ref": "ScheduleGroup"}}]
    assert dropped["AlarmActions"] == [{"Ref": "AlertTopic"}]
    assert "EventBridge Scheduler could not start the task" in dropped["AlarmDescription"]


def test_a_scheduled_state_machine_in_a_time_zone_alarms_on_dropped_invocations(tmp_path):
    text = manifest_text("flow", "sfn_task", 'container_name = "app"\nschedule = "cron(0 2 * * ? *)"\ntimezone = "Asia/Tokyo"', PARAMETERS)
    resources = render_text(tmp_path, text)["flow"].template["Resources"]
    assert resources["Schedule"]["Properties"]["GroupName"] == {"Ref": "ScheduleGroup"}
    assert resources["ScheduleDroppedAlarm"]["Properties"]["Dimensions"] == [{"Name": "ScheduleGroup", "Value": {"Ref": "ScheduleGroup"}}]


def test_existing_topic_from_a_parameter(tmp_path):
    text = manifest_text("report-job", "scheduled_task", 'schedule = "rate(1 hour)"\ncontainer_name = "app"\nalerts = "parameter"',
                         PARAMETERS + '\nAlertTopicArn = "arn:aws:sns:us-west-2:111122223333:batch-alerts"')
    template = render_text(tmp_path, text)["report-job"].template
    assert not resources_of_type(template, "AWS::SNS::Topic") and not resources_of_type(template, "AWS::KMS::Key")
    (target,) = template["Resources"]["TaskFailedAlertRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "AlertTopicArn"}
    assert template["Resources"]["DeadLetterQueueAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "AlertTopicArn"}]


def test_alerts_off(tmp_path):
    template = render(tmp_path, 'alerts = "off"')
    assert "TaskFailedAlertRule" not in template["Resources"]
    assert not resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert "AlertEmail" not in template["Parameters"]


def test_unknown_alert_mode_is_an_error(tmp_path):
    from generator.core.errors import UserError

    with pytest.raises(UserError) as error:
        render(tmp_path, 'alerts = "email"')
    assert error.value.field == "options.alerts" and "allowed: topic, parameter, off" in error.value.message


@pytest.mark.parametrize("name, code", [
    ("ecs-task-state-change-stopped-exit1.json", 0),
    ("ecs-task-state-change-failed-to-start.json", 0),
    ("ecs-task-state-change-stopped-exit0.json", 1),
])
def test_test_event_replays_an_ecs_failure_against_the_alert_rule(project, run_cli, name, code):
    # the AWS sample event, moved into artisan-logger's dev cluster and family
    text = (REFERENCE_EVENTS / name).read_text()
    text = text.replace("arn:aws:ecs:us-west-2:111122223333:cluster/example-cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/web-dev")
    text = text.replace('"family:report"', '"family:artisan"')
    (project / "event.json").write_text(text)
    result = run_cli("test-event", "artisan-logger", "event.json", "--env", "dev", "--json", cwd=project)
    assert result.code == code, result.err
    verdict = json.loads(result.out)
    assert verdict["rule"] == "TaskFailedAlertRule"
    if code == 0:
        message = verdict["target"]["Input"]
        assert message.startswith("ECS task of family:artisan stopped: ")
        assert json.loads(text)["detail"]["stoppedReason"] in message
    else:
        assert verdict["mismatch"] == "detail.$or"


def test_state_machine_stacks_alarm_on_failed_executions(tmp_path):
    options = 'container_name = "app"\nschedule = "rate(1 day)"'
    template = render_text(tmp_path, manifest_text("trader", "sfn_task", options, PARAMETERS))["trader"].template
    alarm = template["Resources"]["ExecutionsFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("AWS/States", "ExecutionsFailed", 0)
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "StateMachine"}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    # the ECS task the state machine starts is watched like any other
    assert "TaskFailedAlertRule" in template["Resources"]
