"""The "missed run" alarm of a scheduled job: nobody hears of a job that silently stopped running
(its schedule disabled by hand, its rule deleted, every run failing before the task starts) from
failure alerts, because nothing fails. So the alarm watches for the absence of success instead.

Built from AWS parts only:
  EventBridge rule on `ECS Task State Change` (this family, this cluster, STOPPED, the job's
  container exited 0) → CloudWatch Logs log group (EventBridge writes each matching event as a
  log event; a log group resource policy lets it) → metric filter counting every log event in the
  group → CloudWatch alarm on that count over a window of 1.5 × the longest gap between scheduled
  runs, with missing data treated as breaching: no success in the window is an alarm.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-cloudwatchlogs-permissions
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CountingLogEventsExample.html
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data

What moto (the tests' local AWS) models, and what it does not: it creates the rule, the log group
and the resource policy from the template and delivers an event to the log group target; it does
not create AWS::Logs::MetricFilter or AWS::CloudWatch::Alarm from a template, does not turn log
events into metric data, and does not evaluate alarms. tests/test_missed_run.py says which piece
is checked where.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import functools
import math
import re
from dataclasses import dataclass

from troposphere import Ref, Sub, Template
from troposphere import cloudwatch, events, logs

from generator.aws import checkov_skips as skip_reasons
from generator.aws.alerts import task_succeeded_pattern, without_spot_interruptions
from generator.aws.arns import arn
from generator.aws.ecs_task import TaskRef
from generator.core.errors import UserError
from generator.aws.checkov_skips import checkov_skips
from generator.core.options import ascii_fullmatch

SUCCESSFUL_RUN_RULE = "SuccessfulRunRule"
SUCCESSFUL_RUNS_LOG_GROUP = "SuccessfulRunsLogGroup"
SUCCESSFUL_RUNS_LOG_POLICY = "SuccessfulRunsLogPolicy"
SUCCESSFUL_RUNS_METRIC_FILTER = "SuccessfulRunsMetricFilter"
MISSED_RUN_ALARM = "MissedRunAlarm"
SUCCESSFUL_RUNS_TARGET_ID = "SuccessfulRunsLog"
METRIC_NAME = "SuccessfulRuns"
# Runs are kept two weeks: long enough to see which runs an alarm is about, short enough to cost little.
SUCCESSFUL_RUNS_RETENTION_DAYS = 14
WINDOW_FACTOR = 1.5
# "An alarm's total current evaluation period can be no longer than seven days ... For alarms with a
# period of less than one hour (3,600 seconds), the total evaluation period can't be longer than one
# day" (CloudWatch API reference, PutMetricAlarm, Period).
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
MAX_WINDOW = 7 * 86400
MAX_SHORT_PERIOD_WINDOW = 86400
# Scheduled runs are looked at over a little more than a year from a fixed instant (as the README's
# run table is), so a schedule that skips months or ends in a given year shows its longest gap.
HORIZON = dt.timedelta(days=400)
ANCHOR = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class AlarmWindow:
    """How far back the alarm looks: `evaluation_periods` periods of `period` seconds (all must
    lack a success to alarm), at least WINDOW_FACTOR × `longest_gap`."""

    longest_gap: dt.timedelta
    period: int
    evaluation_periods: int

    @property
    def seconds(self) -> int:
        return self.period * self.evaluation_periods


def words(seconds: float) -> str:
    """A duration as a reader says it: 36 hours, 2 days 6 hours, 45 minutes."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{value} {unit}{'s' if value != 1 else ''}" for value, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")) if value]
    if days and days < 2 and not minutes:  # 1 day 12 hours reads better as 36 hours
        parts = [f"{days * 24 + hours} hours"]
    return " ".join(parts) or f"{seconds} seconds"


def longest_gap(expression: str, timezone: str | None) -> dt.timedelta:
    """The longest time between two scheduled runs (UserError when the schedule runs at most once).

    rate(N unit): N units. cron: a cron's runs are its times of day on its run days, so the longest
    gap is the longest between two times of one day, or between the last time of a run day and the
    first time of the next run day (or the end of the horizon, for a schedule that stops). In a time
    zone with daylight saving a gap can be one hour longer in UTC: one hour is added there.
    """
    rate = ascii_fullmatch(_RATE, expression)
    if rate:
        return dt.timedelta(seconds=int(rate.group(1)) * _UNITS[rate.group(2)])
    from generator.aws.schedules import cron_local_times

    minutes, hours, day_of_month, month, day_of_week, year = expression[len("cron("):-1].split()
    # Wall-clock times, naive: the schedule's own clock (a time zone adds at most an hour, below).
    day_start = ANCHOR.replace(tzinfo=None) if ANCHOR.tzinfo else ANCHOR
    one_day = dt.timedelta(days=1)
    times = list(itertools.takewhile(lambda t: t < day_start + one_day,
                                     cron_local_times(f"cron({minutes} {hours} * * ? *)", day_start - dt.timedelta(minutes=1))))
    first, last = times[0] - day_start, times[-1] - day_start
    first_minute, first_hour = first.seconds // 60 % 60, first.seconds // 3600
    days = list(itertools.takewhile(
        lambda t: t <= day_start + HORIZON,
        cron_local_times(f"cron({first_minute} {first_hour} {day_of_month} {month} {day_of_week} {year})", day_start - dt.timedelta(minutes=1))))
    run_days = [d - first for d in days]
    if len(run_days) * len(times) < 2:
        raise UserError(f"{expression} runs at most once in the next {HORIZON.days} days, so there is no gap to watch", field="missed_run_alarm")
    gaps = [b - a for a, b in zip(times, times[1:])]
    gaps += [(b + first) - (a + last) for a, b in zip(run_days, run_days[1:])]
    gaps.append(day_start + HORIZON - (run_days[-1] + last))
    gap = max(gaps)
    if timezone and _observes_daylight_saving(timezone):
        gap += dt.timedelta(hours=1)
    return gap


def _observes_daylight_saving(timezone: str) -> bool:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    offsets = {(ANCHOR + dt.timedelta(days=30 * month)).astimezone(zone).utcoffset() for month in range(14)}
    return len(offsets) > 1


@functools.lru_cache(maxsize=1024)
def alarm_window(expression: str, timezone: str | None) -> AlarmWindow:
    """The alarm's window for a schedule: WINDOW_FACTOR × its longest gap, rounded up to whole
    periods (1 minute under an hour, 5 minutes up to a day, 1 hour up to CloudWatch's 7 days).
    Kept per schedule (a pure function of it): walking a cron's run days costs about 15 ms, and
    a stack asks twice (its options' check and its build), many stacks often for the same schedule."""
    gap = longest_gap(expression, timezone)
    window = math.ceil(gap.total_seconds() * WINDOW_FACTOR)
    if window > MAX_WINDOW:
        raise UserError(f"the longest gap between runs of {expression} is {words(gap.total_seconds())}, and {WINDOW_FACTOR} times that "
                        f"({words(window)}) is longer than the 7 days a CloudWatch alarm can look back; allowed: schedules whose runs are "
                        f"at most {words(MAX_WINDOW / WINDOW_FACTOR)} apart", field="missed_run_alarm")
    period = 60 if window < 3600 else 300 if window <= MAX_SHORT_PERIOD_WINDOW else 3600
    return AlarmWindow(gap, period, math.ceil(window / period))


def add_successful_runs(template: Template, task: TaskRef, container_name: str, *, stack_name: str, spot: bool = False) -> events.Rule:
    """The rule that writes each successful run of the job to a log group of its own, the resource
    policy that lets EventBridge write there, and the metric filter that counts the runs. `spot`:
    the task may run on Fargate Spot, where an interrupted task that exited 0 is no success."""
    log_group = template.add_resource(logs.LogGroup(
        SUCCESSFUL_RUNS_LOG_GROUP,
        # /aws/events/ is where the EventBridge console puts log groups for rules.
        LogGroupName=Sub("/aws/events/${AWS::StackName}/successful-runs"),
        RetentionInDays=SUCCESSFUL_RUNS_RETENTION_DAYS,
        Metadata=checkov_skips(skip_reasons.LOG_GROUP_SERVICE_ENCRYPTION),
    ))
    # CloudWatch Logs takes EventBridge's writes only through a resource policy (an IAM role on the
    # target is not used for CloudWatch Logs). Scoped to this log group; no aws:SourceArn condition,
    # because EventBridge's documented policy for this target has none and whether EventBridge
    # sends the key to CloudWatch Logs is not documented (a condition it does not meet would drop
    # every success, and the alarm would then fire for runs that did succeed).
    document = {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EventBridgeWritesSuccessfulRuns", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${SuccessfulRunsLogGroup}:*",
        }],
    }
    template.add_resource(logs.ResourcePolicy(
        SUCCESSFUL_RUNS_LOG_POLICY,
        # An account has at most 10 CloudWatch Logs resource policies per Region (PutResourcePolicy).
        PolicyName=Sub("${AWS::StackName}-successful-runs"),
        PolicyDocument=Sub(json.dumps(document, separators=(",", ":"))),
    ))
    template.add_resource(logs.MetricFilter(
        SUCCESSFUL_RUNS_METRIC_FILTER,
        LogGroupName=Ref(log_group),
        FilterPattern="",  # an empty pattern matches every log event: the rule only writes successes
        MetricTransformations=[logs.MetricTransformation(
            MetricNamespace=metric_namespace(), MetricName=METRIC_NAME, MetricValue="1")],
    ))
    return template.add_resource(events.Rule(
        SUCCESSFUL_RUN_RULE,
        Description=f"{stack_name}: successful runs of the job (container {container_name} exited 0), for the missed-run alarm",
        EventPattern=without_spot_interruptions(task_succeeded_pattern(task, container_name)) if spot else
        task_succeeded_pattern(task, container_name),
        State="ENABLED",
        Targets=[events.Target(Id=SUCCESSFUL_RUNS_TARGET_ID,
                               Arn=arn("logs", "log-group:${Group}", Group=Ref(log_group)))],
    ))


def metric_namespace() -> Sub:
    """One custom namespace per stack, so two jobs' successes never count for each other."""
    return Sub("ecs-batch-templates/${AWS::StackName}")


def add_missed_run_alarm(template: Template, window: AlarmWindow, topic_arn, *, stack_name: str, schedule: str) -> cloudwatch.Alarm:
    return template.add_resource(cloudwatch.Alarm(
        MISSED_RUN_ALARM,
        AlarmDescription=(f"{stack_name}: no run of the job succeeded in the last {words(window.seconds)} ({WINDOW_FACTOR} x the longest "
                          f"gap between runs of {schedule}, {words(window.longest_gap.total_seconds())})"),
        Namespace=metric_namespace(), MetricName=METRIC_NAME, Statistic="Sum",
        Period=window.period, EvaluationPeriods=window.evaluation_periods, DatapointsToAlarm=window.evaluation_periods,
        Threshold=1, ComparisonOperator="LessThanThreshold",
        # No success recorded in a period is no data, not 0: treated as breaching, every period of
        # the window without a success counts against the job.
        TreatMissingData="breaching",
        AlarmActions=[topic_arn],
    ))
