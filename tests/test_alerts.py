"""Failure alerts: the rule hears exactly the failed runs of this job, and every alert can be delivered."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from generator.review.event_simulator import Resolver, apply_input_transformer, eventbridge_view, pattern_matches
from support.events import CLUSTER, PARAMETERS, event
from support.manifests import manifest_text, render_text, resources_of_type

def render(tmp_path, extra: str = "") -> dict:
    options = f'schedule = "rate(1 hour)"\ncontainer_name = "app"\n{extra}'
    return render_text(tmp_path, manifest_text("report-job", "scheduled_task", options, PARAMETERS))["report-job"].template


@pytest.fixture
def alert_pattern(tmp_path):
    template = render(tmp_path)
    pattern = template["Resources"]["TaskFailedAlertRule"]["Properties"]["EventPattern"]
    return Resolver(template, {"ClusterArn": CLUSTER, "TaskFamily": "report"}, pseudo={}).resolve(pattern)


@pytest.mark.parametrize("name, alerts", [
    ("ecs-task-state-change-stopped-exit0.json", False),
    ("ecs-task-state-change-stopped-exit1.json", True),
    ("ecs-task-state-change-failed-to-start.json", True),
    # a log router listed before the job's container, stopped by ECS (143) when the job exited
    ("ecs-task-state-change-sidecar-first-job-failed.json", True),
    ("ecs-task-state-change-sidecar-first-job-succeeded.json", False),
])
def test_alert_rule_on_aws_sample_events(alert_pattern, name, alerts):
    assert pattern_matches(alert_pattern, event(name)) is alerts


@pytest.mark.parametrize("change", [
    lambda d: d.update(group="family:other-job"),
    lambda d: d.update(clusterArn="arn:aws:ecs:us-west-2:111122223333:cluster/other"),
    lambda d: d.update(lastStatus="RUNNING"),
    lambda d: d.update(group="service:report"),
])
def test_near_misses_do_not_alert(alert_pattern, change):
    failed = event("ecs-task-state-change-stopped-exit1.json")
    change(failed["detail"])
    assert not pattern_matches(alert_pattern, failed)


def test_the_job_container_is_picked_by_name_not_by_position(alert_pattern):
    assert alert_pattern["detail"]["$or"][0] == {"containers": {"name": ["app"], "exitCode": [{"anything-but": 0}]}}
    # a sidecar failing while the job's container succeeded is no failed run
    sidecar_failed = event("ecs-task-state-change-stopped-exit0.json")
    sidecar_failed["detail"]["containers"].append(dict(sidecar_failed["detail"]["containers"][0], name="sidecar", exitCode=137))
    assert not pattern_matches(alert_pattern, sidecar_failed)
    # another job's container name exiting 1 is not this job's
    renamed = event("ecs-task-state-change-stopped-exit1.json")
    renamed["detail"]["containers"][0]["name"] = "worker"
    assert not pattern_matches(alert_pattern, renamed)


def test_matching_keeps_array_elements_apart_where_crushing_them_would_not(alert_pattern):
    succeeded = event("ecs-task-state-change-sidecar-first-job-succeeded.json")
    engine = EventPattern.load(json.dumps(alert_pattern))
    assert not engine.matches_event(succeeded)  # moto alone: arrays of objects are opaque
    # crushed, the name of one container and the exit code of the other would make a false alert
    assert engine.matches_event(eventbridge_view(succeeded))
    assert not pattern_matches(alert_pattern, succeeded)


def test_alert_message_names_the_job_container_and_lists_every_container(tmp_path):
    template = render(tmp_path)
    (target,) = template["Resources"]["TaskFailedAlertRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "AlertTopic"}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "group": "$.detail.group", "stopCode": "$.detail.stopCode", "reason": "$.detail.stoppedReason",
        "containers": "$.detail.containers", "task": "$.detail.taskArn",
    }
    sample = event("ecs-task-state-change-sidecar-first-job-failed.json")
    text, notes = apply_input_transformer(transformer["InputPathsMap"], transformer["InputTemplate"], sample)
    message = json.loads(text)  # bare placeholders: any stoppedReason stays valid JSON
    assert notes == []
    assert message["jobContainer"] == "app"
    assert message["alert"].startswith("report-job: ") and "container app exited non-zero" in message["alert"]
    assert (message["stopCode"], message["stoppedReason"]) == ("EssentialContainerExited", "Essential container in task exited")
    assert [(c["name"], c["exitCode"]) for c in message["containers"]] == [("log-router", 143), ("app", 1)]
    assert message["task"] == sample["detail"]["taskArn"]


def test_alert_rules_dead_letter_to_the_stack_queue_and_are_watched(tmp_path):
    resources = render(tmp_path)["Resources"]
    (target,) = resources["TaskFailedAlertRule"]["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    statements = resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statements[1] == {
        "Sid": "AlertRulesSendUndeliveredAlerts", "Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com"]},
        "Action": ["sqs:SendMessage"], "Resource": [{"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}],
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["TaskFailedAlertRule", "Arn"]}}},
    }
    alarm = resources["TaskFailedAlertRuleFailedInvocationsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == ("AWS/Events", "FailedInvocations", "Sum", 0)
    assert alarm["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": "TaskFailedAlertRule"}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]


def test_without_a_dead_letter_queue_an_alarm_still_watches_the_alert_rule(tmp_path):
    resources = render(tmp_path, "dead_letter_queue = false")["Resources"]
    (target,) = resources["TaskFailedAlertRule"]["Properties"]["Targets"]
    assert "DeadLetterConfig" not in target and "DeadLetterQueuePolicy" not in resources
    assert "TaskFailedAlertRuleFailedInvocationsAlarm" in resources


def test_created_topic_is_encrypted_with_a_key_publishers_may_use(tmp_path):
    template = render(tmp_path)
    resources = template["Resources"]
    assert resources["AlertTopic"]["Properties"] == {"KmsMasterKeyId": {"Ref": "AlertTopicKey"}}
    key = resources["AlertTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    topics_here = {"kms:EncryptionContext:aws:sns:topicArn": {"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:*"}}
    assert key["KeyPolicy"]["Statement"] == [
        {"Sid": "AccountAdministersKey", "Effect": "Allow",
         "Principal": {"AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]},
         "Action": ["kms:*"], "Resource": ["*"]},
        # EventBridge publishing to an encrypted topic: no aws:SourceAccount/aws:SourceArn (not supported)
        {"Sid": "AlertRulesEncrypt", "Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com"]},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": ["*"], "Condition": {"ArnLike": topics_here}},
        {"Sid": "AlarmsEncrypt", "Effect": "Allow", "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": ["*"],
         "Condition": {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}, "ArnLike": topics_here}},
    ]
    assert resources["AlertEmailSubscription"]["Condition"] == "HasAlertEmail"
    statements = resources["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statements == [
        {"Sid": "AlertRulesPublish", "Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com"]},
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
    assert resources["ScheduleDroppedAlarm"]["Properties"]["AlarmDescription"] == "flow: EventBridge Scheduler could not start an execution"


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


@pytest.mark.parametrize("name, failed", [
    ("ecs-task-state-change-stopped-exit1.json", True),
    ("ecs-task-state-change-failed-to-start.json", True),
    ("ecs-task-state-change-stopped-exit0.json", False),
    ("ecs-task-state-change-sidecar-first-job-failed.json", True),
    ("ecs-task-state-change-sidecar-first-job-succeeded.json", False),
])
def test_test_event_replays_an_ecs_task_against_the_alert_and_success_rules(project, run_cli, name, failed):
    # the AWS sample event, moved into artisan-logger's dev cluster and family, its job container php
    text = json.dumps(event(name))
    text = text.replace("arn:aws:ecs:us-west-2:111122223333:cluster/example-cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/web-dev")
    text = text.replace('"family:report"', '"family:artisan"').replace('"name": "app"', '"name": "php"')
    (project / "event.json").write_text(text)
    result = run_cli("test-event", "artisan-logger", "event.json", "--env", "dev", "--json", cwd=project)
    assert result.code == 0, result.err  # a failure matches the alert rule, a success the success rule
    verdict = json.loads(result.out)
    rules = {r["rule"]: r for r in verdict["rules"]}
    assert rules["TaskFailedAlertRule"]["matched"] is failed
    # artisan-logger has the missed-run alarm: its success rule hears exactly the other runs
    assert rules["SuccessfulRunRule"]["matched"] is not failed
    if failed:
        assert verdict["rule"] == "TaskFailedAlertRule"
        message = verdict["target"]["Input"]
        assert message["alert"].startswith("artisan-logger: ") and message["jobContainer"] == "php"
        assert message["stoppedReason"] == json.loads(text)["detail"]["stoppedReason"]
        assert [c["name"] for c in message["containers"]] == [c["name"] for c in json.loads(text)["detail"]["containers"]]
    else:
        assert rules["TaskFailedAlertRule"]["mismatch"] == "detail.$or"
        assert verdict["rule"] == "SuccessfulRunRule" and verdict["target"]["Arn"].endswith(
            ":log-group:/aws/events/artisan-logger-dev/successful-runs")


def test_state_machine_stacks_alert_on_the_execution_outcome_not_on_each_attempt(tmp_path):
    options = 'container_name = "app"\nschedule = "rate(1 day)"\ntask_failure_retry_attempts = 2'
    template = render_text(tmp_path, manifest_text("trader", "sfn_task", options, PARAMETERS))["trader"].template
    alarm = template["Resources"]["ExecutionsFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("AWS/States", "ExecutionsFailed", 0)
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "StateMachine"}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    rule = template["Resources"]["ExecutionFailedAlertRule"]["Properties"]
    assert rule["EventPattern"] == {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                                    "detail": {"stateMachineArn": [{"Ref": "StateMachine"}], "status": ["FAILED", "TIMED_OUT", "ABORTED"]}}
    # an attempt that a retry recovers is no failure: the task-stopped alert would fire on every attempt
    assert "TaskFailedAlertRule" not in template["Resources"]
    arn = "arn:aws:states:us-east-1:012345678912:stateMachine:state-machine"
    pattern = Resolver(template, {"StateMachine": arn}, pseudo={}).resolve(rule["EventPattern"])
    assert pattern_matches(pattern, event("sfn-execution-status-change-failed.json"))
    assert not pattern_matches(pattern, event("sfn-execution-status-change-succeeded.json"))
    for status in ("TIMED_OUT", "ABORTED"):
        timed_out = event("sfn-execution-status-change-failed.json")
        timed_out["detail"]["status"] = status
        assert pattern_matches(pattern, timed_out)
    (target,) = rule["Targets"]
    text, notes = apply_input_transformer(target["InputTransformer"]["InputPathsMap"], target["InputTransformer"]["InputTemplate"],
                                          event("sfn-execution-status-change-failed.json"))
    assert notes == [] and json.loads(text) == {
        "alert": "trader: a Step Functions execution did not succeed", "status": "FAILED",
        "execution": "arn:aws:states:us-east-1:012345678912:execution:state-machine-name:execution-name",
        "startDate": 1551225146847, "stopDate": 1551225151881,
        "details": "error and cause: aws stepfunctions describe-execution --execution-arn EXECUTION"}


def test_a_state_machine_that_does_not_wait_also_alerts_on_the_task(tmp_path):
    options = 'container_name = "app"\nwait = false'
    resources = render_text(tmp_path, manifest_text("trader", "sfn_task", options, PARAMETERS))["trader"].template["Resources"]
    assert {"TaskFailedAlertRule", "ExecutionFailedAlertRule"} <= set(resources)
    assert resources["TaskFailedAlertRule"]["Properties"]["EventPattern"]["detail"]["$or"][0]["containers"]["name"] == ["app"]


@pytest.mark.parametrize("name, code", [("sfn-execution-status-change-failed.json", 0), ("sfn-execution-status-change-succeeded.json", 1)])
def test_test_event_decides_execution_outcomes_for_the_example_state_machine(project, run_cli, name, code):
    # AWS's documented sample, moved to stock-trader-task's dev state machine (named after the stack)
    text = json.dumps(event(name)).replace("arn:aws:states:us-east-1:012345678912:stateMachine:state-machine",
                                           "arn:aws:states:us-east-1:123456789012:stateMachine:stock-trader-task-dev")
    text = text.replace('"account": "012345678912"', '"account": "123456789012"')
    (project / "event.json").write_text(text)
    result = run_cli("test-event", "stock-trader-task", "event.json", "--env", "dev", "--json", cwd=project)
    assert result.code == code, result.err
    verdict = json.loads(result.out)
    assert verdict["rule"] == "ExecutionFailedAlertRule"
    if code == 0:
        assert verdict["target"]["Input"]["status"] == "FAILED"
    else:
        assert verdict["mismatch"] == "detail.status"
