"""Failure alerts for every blueprint that runs an ECS task: nobody should learn of a failed batch job
from its missing output.

- A rule on `ECS Task State Change` for this family's stopped tasks whose container exited non-zero
  or that failed to start, publishing a readable message to SNS. RunTask's own `failures[]` (no
  capacity…) are not invocation failures, so only this rule sees them.
- CloudWatch alarms on the dead-letter queue's depth and, for rules, on FailedInvocations; for a
  state machine on ExecutionsFailed, for a Lambda function on its Errors.
A stack that runs no ECS task itself (ecr_redeploy) gets the alarms only.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs.aws import Allow, ArnEquals, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
import awacs.kms
import awacs.sns
from troposphere import Equals, GetAtt, Not, Parameter, Ref, Sub, Template
from troposphere import cloudwatch, events, kms, sns

from generator.aws.arns import arn, sub
from generator.aws.capacity import SPOT_INTERRUPTION
from generator.aws.ecs_task import TaskRef
from generator.core.errors import UserError

ALERT_MODES = ("topic", "parameter", "off")
ALERT_TOPIC = "AlertTopic"
ALERT_TOPIC_KEY = "AlertTopicKey"
ALERT_TOPIC_POLICY = "AlertTopicPolicy"
ALERT_TOPIC_ARN = "AlertTopicArn"
ALERT_EMAIL = "AlertEmail"
HAS_ALERT_EMAIL = "HasAlertEmail"
ALERT_EMAIL_SUBSCRIPTION = "AlertEmailSubscription"
TASK_STOPPED_ALERT_RULE = "TaskFailedAlertRule"
DEAD_LETTER_QUEUE_ALARM = "DeadLetterQueueAlarm"
FAILED_INVOCATIONS_ALARM = "FailedInvocationsAlarm"
EXECUTIONS_FAILED_ALARM = "ExecutionsFailedAlarm"
FUNCTION_ERRORS_ALARM = "FunctionErrorsAlarm"
SCHEDULE_DROPPED_ALARM = "ScheduleDroppedAlarm"
EVENTS_SERVICE = "events.amazonaws.com"
CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
SNS_TOPIC_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
FIVE_MINUTES = 300


@dataclass(frozen=True, kw_only=True)
class AlertOptions:
    """alerts: "topic" (default: an encrypted SNS topic is created, with an optional e-mail
    subscription from the AlertEmail parameter), "parameter" (publish to an existing topic given
    per environment by the AlertTopicArn parameter; one shared topic for many stacks), or "off"."""

    alerts: str = "topic"

    def __post_init__(self):
        if self.alerts not in ALERT_MODES:
            raise UserError(f"{self.alerts!r} is not an alert mode; allowed: {', '.join(ALERT_MODES)}", field="alerts")


def task_failed_pattern(task: TaskRef) -> dict:
    """Stopped tasks of this family in this cluster that exited non-zero or never started."""
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": [task.cluster_arn],
            # RunTask puts standalone tasks in the group "family:<family>" unless told otherwise.
            "group": [sub("family:${Family}", Family=task.task_family)],
            "lastStatus": ["STOPPED"],
            "$or": [
                {"containers": {"exitCode": [{"anything-but": 0}]}},
                {"stopCode": ["TaskFailedToStart"]},
            ],
        },
    }


ALERT_MESSAGE = events.InputTransformer(
    InputPathsMap={
        "group": "$.detail.group",
        "task": "$.detail.taskArn",
        "reason": "$.detail.stoppedReason",
        "stopCode": "$.detail.stopCode",
        "exitCode": "$.detail.containers[0].exitCode",
    },
    # A quoted template yields a JSON string; EventBridge escapes the values put inside quotes.
    InputTemplate='"ECS task of <group> stopped: <reason> (stop code <stopCode>, first container exit code <exitCode>). Task: <task>"',
)


# --- Fargate Spot interruptions in the task-stopped alert (issue 15; kept apart from the rest) -----
# A task Fargate stops to take Spot capacity back has stopCode SpotInterruption (its container got a
# SIGTERM, then SIGKILL after the stop timeout; it may still exit 0). Whether that pages depends on
# whether anything runs the job again:
#   SPOT_PAGES:   nothing retries (an EventBridge rule or schedule started the task; their retry
#                 policy covers only the RunTask call): the run is lost, so every interrupted task
#                 alerts, whatever its exit code.
#   SPOT_RETRIED: the state machine re-runs interrupted tasks, and an execution that runs out of
#                 re-runs fails (ExecutionsFailed alarm): the interruption itself is not a job failure
#                 and is left out of the task rule.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
SPOT_PAGES, SPOT_RETRIED = "pages", "retried"


def with_spot_policy(pattern: dict, policy: str | None) -> dict:
    """The task-stopped alert pattern, adjusted for tasks that may run on Fargate Spot."""
    if policy is None:
        return pattern
    detail = dict(pattern["detail"])
    if policy == SPOT_PAGES:
        detail["$or"] = [*detail["$or"], {"stopCode": [SPOT_INTERRUPTION]}]
    elif policy == SPOT_RETRIED:
        # ECS gives every STOPPED task a stopCode, so "anything but" keeps the other stops.
        detail["stopCode"] = [{"anything-but": [SPOT_INTERRUPTION]}]
    else:
        raise ValueError(f"unknown Spot interruption policy {policy!r}")
    return {**pattern, "detail": detail}


def add_alerts(template: Template, task: TaskRef | None, options: AlertOptions, *, stack_name: str,
               rule=None, schedule_group=None, dead_letter_queue=None, state_machine_arn=None, function_name=None,
               spot_interruptions: str | None = None) -> object | None:
    """Add the alert rule and alarms; return the topic ARN expression (None when alerts are off).

    task: the ECS task whose failed runs the alert rule hears; None for a stack that starts no task.
    rule (FailedInvocations), schedule_group (the Scheduler's InvocationDroppedCount, its counterpart
    for a schedule), dead_letter_queue (its depth), state_machine_arn (ExecutionsFailed) and
    function_name (a Lambda function's Errors): each given one gets an alarm. spot_interruptions:
    SPOT_PAGES or SPOT_RETRIED when the task may run on Fargate Spot (see with_spot_policy).
    """
    if options.alerts == "off":
        return None
    # what the rule's target is, in the alarm descriptions
    target = "invoke the function" if function_name is not None else "start the task"
    watched = []
    if dead_letter_queue is not None:
        queued = ("a task start failed after its retries and is in the dead-letter queue" if function_name is None else
                  "an event the rule could not deliver, or a run that still failed after its retries, is in the dead-letter queue")
        watched.append((DEAD_LETTER_QUEUE_ALARM, queued,
                        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "QueueName", GetAtt(dead_letter_queue, "QueueName")))
    if rule is not None:
        watched.append((FAILED_INVOCATIONS_ALARM, f"EventBridge could not {target}",
                        "AWS/Events", "FailedInvocations", "Sum", "RuleName", Ref(rule)))
    if schedule_group is not None:
        # Dropped: Scheduler gave up after its retries (sent to the dead-letter queue, if there is
        # one, which alarms too; without one the run is lost). Published per schedule group only.
        watched.append((SCHEDULE_DROPPED_ALARM, f"EventBridge Scheduler could not {target}",
                        "AWS/Scheduler", "InvocationDroppedCount", "Sum", "ScheduleGroup", Ref(schedule_group)))
    if state_machine_arn is not None:
        # A failed execution (the task failed, timed out or never started) ends in the Fail state.
        watched.append((EXECUTIONS_FAILED_ALARM, "a state machine execution failed",
                        "AWS/States", "ExecutionsFailed", "Sum", "StateMachineArn", state_machine_arn))
    if function_name is not None:
        # Errors counts every failed attempt (exceptions, timeouts), so the first failure alarms even
        # if a retry then succeeds; runs that fail all their retries also reach the dead-letter queue.
        watched.append((FUNCTION_ERRORS_ALARM, "the function failed (an exception or a timeout)",
                        "AWS/Lambda", "Errors", "Sum", "FunctionName", function_name))
    publishers = ([EVENTS_SERVICE] if task is not None else []) + ([CLOUDWATCH_SERVICE] if watched else [])
    if not publishers:  # nothing here can fail in a way this module watches
        return None
    topic_arn = _alert_topic(template, options, publishers)
    alert_rule = None
    if task is not None:
        alert_rule = template.add_resource(events.Rule(
            TASK_STOPPED_ALERT_RULE,
            Description=f"{stack_name}: ECS task stopped with a non-zero exit code or failed to start"
                        + (" or was interrupted on Fargate Spot" if spot_interruptions == SPOT_PAGES else ""),
            EventPattern=with_spot_policy(task_failed_pattern(task), spot_interruptions),
            State="ENABLED",
            Targets=[events.Target(Id="Alert", Arn=topic_arn, InputTransformer=ALERT_MESSAGE)],
        ))
    alarms = [
        template.add_resource(cloudwatch.Alarm(
            logical_id,
            AlarmDescription=f"{stack_name}: {what}",
            Namespace=namespace, MetricName=metric,
            Dimensions=[cloudwatch.MetricDimension(Name=dimension, Value=value)],
            # any occurrence in five minutes alarms; no data (nothing ran) is not a failure
            Statistic=statistic, Period=FIVE_MINUTES, EvaluationPeriods=1, Threshold=0,
            ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
            AlarmActions=[topic_arn],
        ))
        for logical_id, what, namespace, metric, statistic, dimension, value in watched
    ]
    if options.alerts == "topic":
        _allow_publishers(template, alert_rule, alarms)
    return topic_arn


def _alert_topic(template: Template, options: AlertOptions, publishers: list[str]):
    if options.alerts == "parameter":
        template.add_parameter(Parameter(
            ALERT_TOPIC_ARN, Type="String", AllowedPattern=SNS_TOPIC_ARN_PATTERN,
            Description=f"Existing SNS topic for failure alerts (its policy must let {' and '.join(publishers)} publish)",
            ConstraintDescription="an SNS topic ARN: arn:aws:sns:<region>:<account>:<name>",
        ))
        return Ref(ALERT_TOPIC_ARN)
    template.add_parameter(Parameter(
        ALERT_EMAIL, Type="String", Default="", AllowedPattern=r"^$|^[^@\s]+@[^@\s]+$",
        Description="E-mail address subscribed to failure alerts (confirm the subscription mail); empty for none",
        ConstraintDescription="empty, or an e-mail address",
    ))
    template.add_condition(HAS_ALERT_EMAIL, Not(Equals(Ref(ALERT_EMAIL), "")))
    key = template.add_resource(kms.Key(
        ALERT_TOPIC_KEY,
        Description=Sub("${AWS::StackName} failure alert topic"),
        EnableKeyRotation=True,
        KeyPolicy=_alert_key_policy(publishers),
    ))
    topic = template.add_resource(sns.Topic(ALERT_TOPIC, KmsMasterKeyId=Ref(key)))
    template.add_resource(sns.SubscriptionResource(
        ALERT_EMAIL_SUBSCRIPTION, Condition=HAS_ALERT_EMAIL, TopicArn=Ref(topic), Protocol="email", Endpoint=Ref(ALERT_EMAIL),
    ))
    return Ref(topic)


def _alert_key_policy(publishers: list[str]) -> PolicyDocument:
    # EventBridge and CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key:
    # the topic needs a customer managed key whose policy lets them use it.
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html#eb-sns-permissions
    return PolicyDocument(Version="2012-10-17", Statement=[
        Statement(
            Sid="AccountAdministersKey", Effect=Allow,
            Principal=Principal("AWS", [arn("iam", "root", region=False)]),
            Action=[awacs.kms.Action("*")], Resource=["*"],  # in a key policy, "*" means this key
        ),
        Statement(
            Sid="AlertPublishersEncrypt", Effect=Allow,
            Principal=Principal("Service", publishers),
            Action=[awacs.kms.Decrypt, awacs.kms.GenerateDataKey], Resource=["*"],
            Condition=Condition(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
        ),
    ])


def _allow_publishers(template: Template, alert_rule, alarms: list) -> None:
    statements = []
    if alert_rule is not None:
        statements.append(Statement(
            Sid="AlertRulePublishes", Effect=Allow,
            Principal=Principal("Service", [EVENTS_SERVICE]),
            Action=[awacs.sns.Publish], Resource=[Ref(ALERT_TOPIC)],
            Condition=Condition(ArnEquals("aws:SourceArn", GetAtt(alert_rule, "Arn"))),
        ))
    if alarms:
        statements.append(Statement(
            Sid="AlarmsPublish", Effect=Allow,
            Principal=Principal("Service", [CLOUDWATCH_SERVICE]),
            Action=[awacs.sns.Publish], Resource=[Ref(ALERT_TOPIC)],
            Condition=Condition([
                ArnLike("aws:SourceArn", arn("cloudwatch", "alarm:*")),
                StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}")),
            ]),
        ))
    template.add_resource(sns.TopicPolicy(
        ALERT_TOPIC_POLICY, Topics=[Ref(ALERT_TOPIC)],
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements),
    ))
