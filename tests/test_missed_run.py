"""The missed-run alarm of scheduled_task (generator/aws/missed_run.py): the window derived from the
schedule, the rule that hears successful runs, and each AWS piece, on moto where moto models it.

What is checked where:
- the success rule's pattern: against AWS's sample ECS events (and the sidecar variants) with the
  array-consistent matcher of generator.review.event_simulator;
- rule → log group → resource policy: deployed on the moto server, and an event delivered by moto's
  rule to the log group target (moto creates the rule, log group and resource policy);
- metric filter and alarm: moto creates neither from a template, turns no log event into metric
  data and evaluates no alarm, so their properties are asserted as rendered and accepted by moto's
  PutMetricFilter / PutMetricAlarm APIs (shape only).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from generator.aws.missed_run import alarm_window, longest_gap
from generator.core.errors import UserError
from generator.review.event_simulator import eventbridge_views, pattern_matches
from support.manifests import manifest_text, render_text
from support.moto_deploy import client, create_stack, physical_ids
from support.paths import REFERENCE_EVENTS

EVENTS = Path(__file__).parent / "events"
CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/example-cluster"
PARAMETERS = f'''ClusterArn = "{CLUSTER}"
TaskFamily = "report"
Subnets = "subnet-0a1b2c3d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::111122223333:role/exec"'''


def rendered(tmp_path, schedule: str = "cron(20 2 * * ? *)", extra: str = ""):
    options = f'schedule = "{schedule}"\ncontainer_name = "app"\nmissed_run_alarm = true\n{extra}'
    return render_text(tmp_path, manifest_text("report-job", "scheduled_task", options, PARAMETERS))["report-job"]


def event(name: str) -> dict:
    folder = REFERENCE_EVENTS if (REFERENCE_EVENTS / name).exists() else EVENTS
    return json.loads((folder / name).read_text())


# --- the window: 1.5 x the longest gap between scheduled runs, in whole alarm periods ---------------

@pytest.mark.parametrize("schedule, timezone, gap, period, periods", [
    ("rate(15 minutes)", None, dt.timedelta(minutes=15), 60, 23),                 # 22.5 minutes, in 1-minute periods
    ("rate(6 hours)", None, dt.timedelta(hours=6), 300, 108),                      # 9 hours, in 5-minute periods
    ("cron(20 2 * * ? *)", None, dt.timedelta(days=1), 3600, 36),                  # daily: 36 hours
    ("cron(0 2 * * ? *)", "Asia/Tokyo", dt.timedelta(days=1), 3600, 36),           # no daylight saving there
    ("cron(0 2 * * ? *)", "Europe/Paris", dt.timedelta(hours=25), 3600, 38),       # a DST night makes a gap 1 hour longer
    ("cron(0 9,17 ? * MON-FRI *)", None, dt.timedelta(days=2, hours=16), 3600, 96),  # Friday 17:00 to Monday 09:00
    ("cron(0/5 * ? * MON-FRI *)", None, dt.timedelta(days=2, minutes=5), 3600, 73),
])
def test_the_window_is_one_and_a_half_times_the_longest_gap(schedule, timezone, gap, period, periods):
    assert longest_gap(schedule, timezone) == gap
    window = alarm_window(schedule, timezone)
    assert (window.period, window.evaluation_periods) == (period, periods)
    assert window.seconds >= 1.5 * gap.total_seconds() > window.seconds - period


@pytest.mark.parametrize("options, message", [
    ('schedule = "cron(0 2 1 * ? *)"', "the longest gap between runs of cron(0 2 1 * ? *) is 31 days"),
    ('schedule = "cron(0 2 ? * MON *)"', "is longer than the 7 days a CloudWatch alarm can look back"),
    ('schedule = "cron(0 2 1 1 ? 2026)"', "runs at most once in the next 400 days"),
    ('schedule = "rate(1 hour)"\nenabled = false', "a disabled schedule never runs"),
    ('schedule = "rate(1 hour)"\nalerts = "off"', "publishes to the alert topic"),
])
def test_what_no_alarm_can_watch_is_refused(tmp_path, options, message):
    text = manifest_text("report-job", "scheduled_task", f'container_name = "app"\nmissed_run_alarm = true\n{options}', PARAMETERS)
    with pytest.raises(UserError) as error:
        render_text(tmp_path, text)
    assert error.value.field == "options.missed_run_alarm" and message in error.value.message


def test_off_by_default(tmp_path):
    text = manifest_text("report-job", "scheduled_task", 'schedule = "rate(1 hour)"\ncontainer_name = "app"', PARAMETERS)
    resources = render_text(tmp_path, text)["report-job"].template["Resources"]
    assert not {"SuccessfulRunRule", "MissedRunAlarm", "SuccessfulRunsLogGroup"} & set(resources)


# --- the pieces ----------------------------------------------------------------------------------

def test_the_rule_hears_only_runs_whose_job_container_exited_zero(tmp_path):
    rule = rendered(tmp_path).template["Resources"]["SuccessfulRunRule"]["Properties"]
    pattern = json.loads(json.dumps(rule["EventPattern"]).replace('{"Ref": "ClusterArn"}', json.dumps(CLUSTER))
                         .replace('{"Fn::Sub": "family:${TaskFamily}"}', '"family:report"'))
    assert pattern["detail"]["containers"] == {"name": ["app"], "exitCode": [0]}
    for name, success in [("ecs-task-state-change-stopped-exit0.json", True), ("ecs-task-state-change-stopped-exit1.json", False),
                          ("ecs-task-state-change-failed-to-start.json", False),
                          ("ecs-task-state-change-sidecar-first-job-succeeded.json", True),  # the sidecar's 143 does not matter
                          ("ecs-task-state-change-sidecar-first-job-failed.json", False)]:    # nor its name: app exited 1
        assert pattern_matches(pattern, event(name)) is success, name


def test_rule_log_group_policy_metric_filter_and_alarm_as_rendered(tmp_path):
    stack = rendered(tmp_path)
    resources = stack.template["Resources"]
    (target,) = resources["SuccessfulRunRule"]["Properties"]["Targets"]
    # the log group's ARN without the trailing :* that its Arn attribute carries
    assert target == {"Id": "SuccessfulRunsLog", "Arn": {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${SuccessfulRunsLogGroup}"}}
    assert resources["SuccessfulRunsLogGroup"]["Properties"] == {
        "LogGroupName": {"Fn::Sub": "/aws/events/${AWS::StackName}/successful-runs"}, "RetentionInDays": 14}
    policy = resources["SuccessfulRunsLogPolicy"]["Properties"]
    assert policy["PolicyName"] == {"Fn::Sub": "${AWS::StackName}-successful-runs"}
    assert json.loads(policy["PolicyDocument"]["Fn::Sub"]) == {"Version": "2012-10-17", "Statement": [{
        "Sid": "EventBridgeWritesSuccessfulRuns", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${SuccessfulRunsLogGroup}:*"}]}
    namespace = {"Fn::Sub": "ecs-batch-templates/${AWS::StackName}"}
    assert resources["SuccessfulRunsMetricFilter"]["Properties"] == {
        "LogGroupName": {"Ref": "SuccessfulRunsLogGroup"}, "FilterPattern": "",
        "MetricTransformations": [{"MetricNamespace": namespace, "MetricName": "SuccessfulRuns", "MetricValue": "1"}]}
    assert resources["MissedRunAlarm"]["Properties"] == {
        "AlarmDescription": "report-job: no run of the job succeeded in the last 36 hours (1.5 x the longest gap between runs of "
                            "cron(20 2 * * ? *), 24 hours)",
        "Namespace": namespace, "MetricName": "SuccessfulRuns", "Statistic": "Sum",
        "Period": 3600, "EvaluationPeriods": 36, "DatapointsToAlarm": 36, "Threshold": 1, "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching", "AlarmActions": [{"Ref": "AlertTopic"}]}
    # the rule itself is watched: a success it cannot write is an alarm too (lint rule E9010)
    alarm = resources["SuccessfulRunRuleFailedInvocationsAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Dimensions"]) == ("FailedInvocations", [{"Name": "RuleName", "Value": {"Ref": "SuccessfulRunRule"}}])
    readme = stack.files["report-job/README.md"]
    assert "Missed-run alarm: `MissedRunAlarm` alarms when no run" in readme and "until the first run succeeds, it is in ALARM" in readme


def resources_pattern(template: dict) -> dict:
    return template["Resources"]["SuccessfulRunRule"]["Properties"]["EventPattern"]


@pytest.mark.deploy
@pytest.mark.slow
def test_the_pieces_deploy_on_moto_and_a_success_reaches_the_log_group(tmp_path, moto_endpoint):
    from moto.events.models import events_backends

    stack = rendered(tmp_path)
    template = dict(stack.template)
    resources = template["Resources"]
    region, name = "us-west-2", "report-job-missed-run"
    overrides = {"ClusterArn": CLUSTER, "TaskFamily": "report", "Subnets": "subnet-0a1b2c3d",
                 "SecurityGroups": "sg-0123456789abcdef0", "ExecutionRoleArn": "arn:aws:iam::111122223333:role/exec"}
    created = create_stack(moto_endpoint, region, name, json.dumps(template), overrides, ["CAPABILITY_IAM"])
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    ids = physical_ids(moto_endpoint, region, name)
    logs = client("logs", moto_endpoint, region)
    (group,) = logs.describe_log_groups(logGroupNamePrefix=f"/aws/events/{name}/")["logGroups"]
    assert (group["logGroupName"], group["retentionInDays"]) == (f"/aws/events/{name}/successful-runs", 14)
    policies = {p["policyName"]: json.loads(p["policyDocument"]) for p in logs.describe_resource_policies()["resourcePolicies"]}
    (statement,) = policies[f"{name}-successful-runs"]["Statement"]
    assert statement["Resource"].endswith(f":log-group:/aws/events/{name}/successful-runs:*")
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    rule_name = ids["SuccessfulRunRule"].split("/")[-1].split("|")[0]
    events = client("events", moto_endpoint, region)
    (target,) = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Arn"].endswith(f":log-group:/aws/events/{name}/successful-runs")

    # moto's rule matches without looking into arrays of objects, so it is handed the event as
    # EventBridge's matcher sees it (the job's container picked out of the array, eventbridge_views),
    # and its time and ingestion time as moto's PutEvents would hand them over (seconds).
    rule = events_backends["123456789012"][region].describe_rule(rule_name, None)  # moto's default account
    pattern = json.loads(json.dumps(resources_pattern(template)).replace('{"Ref": "ClusterArn"}', json.dumps(CLUSTER))
                         .replace('{"Fn::Sub": "family:${TaskFamily}"}', '"family:report"'))
    seen = event("ecs-task-state-change-sidecar-first-job-succeeded.json")
    (as_matched,) = [view for view in eventbridge_views(seen, pattern) if view["detail"]["containers"]["name"] == "app"]
    timestamp = dt.datetime(2020, 1, 23, 17, 57, 58, tzinfo=dt.timezone.utc).timestamp()
    rule.send_to_targets(dict(as_matched, time=timestamp, **{"ingestion-time": timestamp}))
    failed = dict(as_matched, time=timestamp, **{"ingestion-time": timestamp}, detail={**as_matched["detail"], "containers": {**as_matched["detail"]["containers"], "exitCode": 1}})
    rule.send_to_targets(failed)  # not written: the job's container exited 1
    messages = [json.loads(e["message"]) for s in logs.describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]
                for e in logs.get_log_events(logGroupName=group["logGroupName"], logStreamName=s["logStreamName"])["events"]]
    assert [m["detail"]["containers"] for m in messages] == [seen["detail"]["containers"][1]]

    # The metric filter and the alarm: not created by moto's CloudFormation; their rendered
    # properties are accepted by moto's APIs (shape only: moto computes no metric, evaluates no alarm).
    metric_filter = resources["SuccessfulRunsMetricFilter"]["Properties"]
    namespace = f"ecs-batch-templates/{name}"
    logs.put_metric_filter(logGroupName=group["logGroupName"], filterName="successful-runs",
                           filterPattern=metric_filter["FilterPattern"],
                           metricTransformations=[{"metricNamespace": namespace, "metricName": "SuccessfulRuns", "metricValue": "1"}])
    alarm = {k: v for k, v in resources["MissedRunAlarm"]["Properties"].items() if k not in ("Namespace", "AlarmActions")}
    client("cloudwatch", moto_endpoint, region).put_metric_alarm(AlarmName="missed-run", Namespace=namespace, **alarm)
    (described,) = client("cloudwatch", moto_endpoint, region).describe_alarms(AlarmNames=["missed-run"])["MetricAlarms"]
    assert (described["TreatMissingData"], described["DatapointsToAlarm"], described["EvaluationPeriods"]) == ("breaching", 36, 36)
