"""Failure alerts: nobody should learn of a failed batch job from its missing output.

What a stack watches depends on what it runs (each piece is optional, see add_alerts):
- EventBridge rules publishing a readable JSON message to the alert topic:
  - `ECS Task State Change` for this family's stopped tasks in its cluster whose job container (the
    one named by `container_name`) exited non-zero, or that failed to start (stopCode
    TaskFailedToStart). A RunTask answered with `failures[]` creates no task, so no such event
    exists for it (see README, "Not watched").
  - `Step Functions Execution Status Change` to FAILED, TIMED_OUT or ABORTED for a state machine:
    the outcome of an execution, after its retries.
  - `ECS Deployment State Change` SERVICE_DEPLOYMENT_FAILED for services a stack redeploys.
- CloudWatch alarms on the dead-letter queue's depth and, for every EventBridge rule of the stack
  (the trigger and the alert rules themselves), on its FailedInvocations; for an EventBridge
  Scheduler schedule on InvocationDroppedCount; for a state machine on ExecutionsFailed; for a
  Lambda function on Errors, DestinationDeliveryFailures and AsyncEventsDropped.
The alert rules also send what they cannot deliver to the stack's dead-letter queue, when it has
one: an alert that cannot reach the topic still leaves a trace and an alarm.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html
https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
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
from generator.aws.delivery import allow_rule_to_send
from generator.aws.ecs_task import TaskRef
from generator.core.contract import BlueprintOptions
from generator.core.errors import UserError
from generator.core.options import option
from generator.aws.event_rules import Placeholder, json_input_transformer

ALERT_MODES = ("topic", "parameter", "off")
ALERT_TOPIC = "AlertTopic"
ALERT_TOPIC_KEY = "AlertTopicKey"
ALERT_TOPIC_POLICY = "AlertTopicPolicy"
ALERT_TOPIC_ARN = "AlertTopicArn"
ALERT_EMAIL = "AlertEmail"
HAS_ALERT_EMAIL = "HasAlertEmail"
ALERT_EMAIL_SUBSCRIPTION = "AlertEmailSubscription"
TASK_STOPPED_ALERT_RULE = "TaskFailedAlertRule"
EXECUTION_FAILED_ALERT_RULE = "ExecutionFailedAlertRule"
DEPLOYMENT_FAILED_ALERT_RULE = "DeploymentFailedAlertRule"
DEAD_LETTER_QUEUE_ALARM = "DeadLetterQueueAlarm"
FAILED_INVOCATIONS_ALARM = "FailedInvocationsAlarm"
EXECUTIONS_FAILED_ALARM = "ExecutionsFailedAlarm"
FUNCTION_ERRORS_ALARM = "FunctionErrorsAlarm"
FUNCTION_DESTINATION_FAILURES_ALARM = "FunctionDestinationFailuresAlarm"
FUNCTION_EVENTS_DROPPED_ALARM = "FunctionEventsDroppedAlarm"
SCHEDULE_DROPPED_ALARM = "ScheduleDroppedAlarm"
ALERT_TARGET_ID = "Alert"
EVENTS_SERVICE = "events.amazonaws.com"
CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
SNS_TOPIC_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
FIVE_MINUTES = 300
# SNS puts the topic's ARN in the encryption context of every KMS call it makes for the topic.
# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
SNS_TOPIC_ENCRYPTION_CONTEXT = "kms:EncryptionContext:aws:sns:topicArn"
# Step Functions statuses of an execution that did not succeed.
EXECUTION_FAILURES = ("FAILED", "TIMED_OUT", "ABORTED")


def failed_invocations_alarm_id(rule_id: str) -> str:
    """The logical id of the FailedInvocations alarm on an alert rule (the trigger rule's is FAILED_INVOCATIONS_ALARM)."""
    return f"{rule_id}FailedInvocationsAlarm"


@dataclass(frozen=True, kw_only=True)
class AlertOptions(BlueprintOptions):
    """Where failure alerts go."""

    alerts: str = option("topic", doc="failure alerts: topic (a new topic), parameter (an existing topic, one for many stacks, "
                                      "from the AlertTopicArn parameter) or off",
                         by_default="topic: a new SNS topic encrypted with its own KMS key, the AlertEmail parameter subscribed if set")

    def __post_init__(self):
        if self.alerts not in ALERT_MODES:
            raise UserError(f"{self.alerts!r} is not an alert mode; allowed: {', '.join(ALERT_MODES)}", field="alerts")
        super().__post_init__()


# --- what the alert rules hear -------------------------------------------------------------------

def _stopped_task_detail(task: TaskRef) -> dict:
    return {
        "clusterArn": [task.cluster_arn],
        # RunTask puts standalone tasks in the group "family:<family>" unless told otherwise.
        "group": [sub("family:${Family}", Family=task.task_family)],
        "lastStatus": ["STOPPED"],
    }


def task_failed_pattern(task: TaskRef, container_name: str) -> dict:
    """Stopped tasks of this family in this cluster whose job container exited non-zero, or that never started.

    The event lists every container of the task, sidecars included and in no promised order, so
    the job's container is picked by name: one element of `containers` must have that name AND a
    non-zero exitCode (EventBridge's matcher does not combine fields of different elements: see
    generator.review.event_simulator.eventbridge_views). A container that never ran has no exitCode; a task
    that could not start says so in its stopCode.
    """
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            **_stopped_task_detail(task),
            "$or": [
                {"containers": {"name": [container_name], "exitCode": [{"anything-but": 0}]}},
                {"stopCode": ["TaskFailedToStart"]},
            ],
        },
    }


# --- Fargate Spot interruptions (issue 15; kept apart from the rest) --------------------------------
# A task Fargate stops to take Spot capacity back has stopCode SpotInterruption (its containers got a
# SIGTERM, then SIGKILL after the stop timeout; the job container may still exit 0). Where nothing
# runs the job again (an EventBridge rule or schedule started the task, whose retries cover only the
# RunTask call; a state machine that does not wait for its task), the run is lost: the task alert
# then also matches every interrupted task, whatever its exit code. A state machine that waits for
# its task runs an interrupted one again and is watched by its execution's outcome (no task alert),
# so an interruption followed by a re-run never pages there.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html

def with_spot_interruptions(pattern: dict) -> dict:
    """The task-failed pattern, also matching tasks stopped by a Fargate Spot interruption."""
    detail = dict(pattern["detail"])
    detail["$or"] = [*detail["$or"], {"stopCode": [SPOT_INTERRUPTION]}]
    return {**pattern, "detail": detail}


def without_spot_interruptions(pattern: dict) -> dict:
    """A stopped-task pattern that leaves out Spot interruptions: for successes (a job container that
    exited 0 on the SIGTERM of an interruption did not finish its work). ECS gives every stopped
    task a stopCode, which "anything-but" needs to be present."""
    return {**pattern, "detail": {**pattern["detail"], "stopCode": [{"anything-but": [SPOT_INTERRUPTION]}]}}


def task_succeeded_pattern(task: TaskRef, container_name: str) -> dict:
    """Stopped tasks of this family in this cluster whose job container exited 0: a successful run."""
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {**_stopped_task_detail(task), "containers": {"name": [container_name], "exitCode": [0]}},
    }


def execution_failed_pattern(state_machine_arn) -> dict:
    """Executions of this state machine that ended without succeeding (after all their retries)."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [state_machine_arn], "status": list(EXECUTION_FAILURES)},
    }


def deployment_failed_pattern(service_arns: list) -> dict:
    """Failed deployments of these ECS services. ECS sends SERVICE_DEPLOYMENT_FAILED only for services
    whose deployment circuit breaker is on; the service's ARN is the event's only resource."""
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        "resources": list(service_arns),
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }


# --- what the alert says ---------------------------------------------------------------------------
# JSON objects whose event values are bare placeholders: EventBridge writes each as JSON, so a
# reason with quotes or backslashes cannot break the message (values inside quotes are not escaped).
# An input template cannot pick an array element by a field's value (JSON paths allow only dot
# notation, indices and *), so the task alert lists every container with its exit code and reason.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html

def task_failed_message(stack_name: str, container_name: str, *, spot: bool = False) -> events.InputTransformer:
    interrupted = ", or Fargate Spot interrupted it (stopCode SpotInterruption; nothing runs it again)" if spot else ""
    return json_input_transformer({
        "alert": f"{stack_name}: the job's ECS task failed: container {container_name} exited non-zero, or the task did not start{interrupted}",
        "jobContainer": container_name,
        "group": Placeholder("group"),
        "stopCode": Placeholder("stopCode"),
        "stoppedReason": Placeholder("reason"),
        "containers": Placeholder("containers"),
        "task": Placeholder("task"),
    }, {"group": "$.detail.group", "stopCode": "$.detail.stopCode", "reason": "$.detail.stoppedReason",
        "containers": "$.detail.containers", "task": "$.detail.taskArn"})


def execution_failed_message(stack_name: str) -> events.InputTransformer:
    return json_input_transformer({
        "alert": f"{stack_name}: a Step Functions execution did not succeed",
        "status": Placeholder("status"),
        "execution": Placeholder("execution"),
        "startDate": Placeholder("startDate"),
        "stopDate": Placeholder("stopDate"),
        "details": "error and cause: aws stepfunctions describe-execution --execution-arn EXECUTION",
    }, {"status": "$.detail.status", "execution": "$.detail.executionArn",
        "startDate": "$.detail.startDate", "stopDate": "$.detail.stopDate"})


def deployment_failed_message(stack_name: str) -> events.InputTransformer:
    return json_input_transformer({
        "alert": f"{stack_name}: an ECS service deployment failed (the deployment circuit breaker stopped it)",
        "services": Placeholder("services"),
        "deploymentId": Placeholder("deployment"),
        "reason": Placeholder("reason"),
        "time": Placeholder("time"),
    }, {"services": "$.resources", "deployment": "$.detail.deploymentId", "reason": "$.detail.reason", "time": "$.time"})


# --- the stack's alerts ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Alarm:
    logical_id: str
    what: str
    namespace: str
    metric: str
    statistic: str
    dimension: str
    value: object


def add_alerts(template: Template, task: TaskRef | None, options: AlertOptions, *, stack_name: str, container_name: str | None = None,
               rule=None, watched_rules=(), schedule_group=None, dead_letter_queue=None, state_machine_arn=None,
               function_name=None, service_arns=(), spot_interruptions_alert: bool = False) -> object | None:
    """Add the alert rules and alarms; return the topic ARN expression (None when alerts are off).

    task + container_name: the ECS task whose failed runs an alert rule hears (None: no task alert,
    e.g. a state machine that waits for its task and is watched by its outcome instead).
    rule: the stack's trigger rule (alarm FAILED_INVOCATIONS_ALARM); watched_rules: other rules of
    the stack whose FailedInvocations are watched too. schedule_group (the Scheduler's
    InvocationDroppedCount), dead_letter_queue (its depth; alert rules also dead-letter to it),
    state_machine_arn (ExecutionsFailed, and the execution outcome rule), function_name (a Lambda
    function invoked asynchronously: Errors, DestinationDeliveryFailures, AsyncEventsDropped) and
    service_arns (failed deployments of those ECS services). spot_interruptions_alert: the task may
    run on Fargate Spot and nothing re-runs it, so an interruption alerts too (with_spot_interruptions).
    """
    if options.alerts == "off":
        if dead_letter_queue is None and (rule is not None or schedule_group is not None or watched_rules):
            raise UserError("with alerts = \"off\" and no dead-letter queue nothing would record an event the trigger cannot "
                            "deliver; allowed: dead_letter_queue = true, or alerts = \"topic\"/\"parameter\"", field="options.dead_letter_queue")
        return None
    alert_rules = []  # (logical id, description, pattern, message)
    if task is not None:
        pattern = task_failed_pattern(task, container_name)
        if spot_interruptions_alert:
            pattern = with_spot_interruptions(pattern)
        what = "failed, did not start or was interrupted on Fargate Spot" if spot_interruptions_alert else "failed or did not start"
        alert_rules.append((TASK_STOPPED_ALERT_RULE, f"{stack_name}: the job's ECS task {what}",
                            pattern, task_failed_message(stack_name, container_name, spot=spot_interruptions_alert)))
    if state_machine_arn is not None:
        alert_rules.append((EXECUTION_FAILED_ALERT_RULE, f"{stack_name}: a state machine execution failed, timed out or was aborted",
                            execution_failed_pattern(state_machine_arn), execution_failed_message(stack_name)))
    if service_arns:
        alert_rules.append((DEPLOYMENT_FAILED_ALERT_RULE, f"{stack_name}: a deployment of a redeployed ECS service failed",
                            deployment_failed_pattern(service_arns), deployment_failed_message(stack_name)))
    alarms = _alarms(rule, watched_rules, schedule_group, dead_letter_queue, state_machine_arn, function_name)
    alarms += [_Alarm(failed_invocations_alarm_id(logical_id), f"EventBridge could not deliver an alert of {logical_id}",
                      "AWS/Events", "FailedInvocations", "Sum", "RuleName", Ref(logical_id)) for logical_id, *_ in alert_rules]
    topic_arn = _alert_topic(template, options, events_publish=bool(alert_rules))
    rules = []
    for logical_id, description, pattern, message in alert_rules:
        target = {"Id": ALERT_TARGET_ID, "Arn": topic_arn, "InputTransformer": message}
        if dead_letter_queue is not None:
            target["DeadLetterConfig"] = events.DeadLetterConfig(Arn=GetAtt(dead_letter_queue, "Arn"))
        rules.append(template.add_resource(events.Rule(
            logical_id, Description=description, EventPattern=pattern, State="ENABLED", Targets=[events.Target(**target)])))
    if dead_letter_queue is not None and rules:
        allow_rule_to_send(template, dead_letter_queue, [GetAtt(r, "Arn") for r in rules], sid="AlertRulesSendUndeliveredAlerts")
    alarm_resources = [
        template.add_resource(cloudwatch.Alarm(
            alarm.logical_id,
            AlarmDescription=f"{stack_name}: {alarm.what}",
            Namespace=alarm.namespace, MetricName=alarm.metric,
            Dimensions=[cloudwatch.MetricDimension(Name=alarm.dimension, Value=alarm.value)],
            # any occurrence in five minutes alarms; no data (nothing ran) is not a failure
            Statistic=alarm.statistic, Period=FIVE_MINUTES, EvaluationPeriods=1, Threshold=0,
            ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
            AlarmActions=[topic_arn],
        ))
        for alarm in alarms
    ]
    if options.alerts == "topic":
        _allow_publishers(template, rules, alarm_resources)
    return topic_arn


def _alarms(rule, watched_rules, schedule_group, dead_letter_queue, state_machine_arn, function_name) -> list[_Alarm]:
    # what the rule's target is, in the alarm descriptions
    target = ("invoke the function" if function_name is not None else
              "start an execution" if state_machine_arn is not None else "start the task")
    started = "an execution start" if state_machine_arn is not None else "a task start"
    alarms = []
    if dead_letter_queue is not None:
        queued = (f"{started} that failed after its retries, or an alert that could not be delivered, is in the dead-letter queue"
                  if function_name is None else
                  "an event the rule could not deliver, a run that still failed after its retries, or an undelivered alert, "
                  "is in the dead-letter queue")
        alarms.append(_Alarm(DEAD_LETTER_QUEUE_ALARM, queued, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
                             "QueueName", GetAtt(dead_letter_queue, "QueueName")))
    if rule is not None:
        alarms.append(_Alarm(FAILED_INVOCATIONS_ALARM, f"EventBridge could not {target}", "AWS/Events", "FailedInvocations", "Sum",
                             "RuleName", Ref(rule)))
    for watched in watched_rules:
        alarms.append(_Alarm(failed_invocations_alarm_id(watched.title), f"EventBridge could not deliver an event of {watched.title}",
                             "AWS/Events", "FailedInvocations", "Sum", "RuleName", Ref(watched)))
    if schedule_group is not None:
        # Dropped: Scheduler gave up after its retries (sent to the dead-letter queue, if there is
        # one, which alarms too; without one the run is lost). Published per schedule group only.
        alarms.append(_Alarm(SCHEDULE_DROPPED_ALARM, f"EventBridge Scheduler could not {target}", "AWS/Scheduler",
                             "InvocationDroppedCount", "Sum", "ScheduleGroup", Ref(schedule_group)))
    if state_machine_arn is not None:
        # A failed execution (the task failed, timed out or never started) ends in the Fail state.
        alarms.append(_Alarm(EXECUTIONS_FAILED_ALARM, "a state machine execution failed", "AWS/States", "ExecutionsFailed", "Sum",
                             "StateMachineArn", state_machine_arn))
    if function_name is not None:
        # Errors counts every failed attempt (exceptions, timeouts), so the first failure alarms even
        # if a retry then succeeds; runs that fail all their retries also reach the dead-letter queue.
        alarms.append(_Alarm(FUNCTION_ERRORS_ALARM, "the function failed (an exception or a timeout)", "AWS/Lambda", "Errors", "Sum",
                             "FunctionName", function_name))
        # An asynchronous invocation can also be lost without an error of the function's own: the
        # on-failure destination refused it, or Lambda dropped the event (too old, retries exhausted
        # while throttled). https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
        alarms.append(_Alarm(FUNCTION_DESTINATION_FAILURES_ALARM, "Lambda could not send a failed run to its on-failure destination",
                             "AWS/Lambda", "DestinationDeliveryFailures", "Sum", "FunctionName", function_name))
        alarms.append(_Alarm(FUNCTION_EVENTS_DROPPED_ALARM, "Lambda dropped an event without running the function successfully",
                             "AWS/Lambda", "AsyncEventsDropped", "Sum", "FunctionName", function_name))
    return alarms


def _alert_topic(template: Template, options: AlertOptions, *, events_publish: bool):
    if options.alerts == "parameter":
        publishers = " and ".join(([EVENTS_SERVICE] if events_publish else []) + [CLOUDWATCH_SERVICE])
        template.add_parameter(Parameter(
            ALERT_TOPIC_ARN, Type="String", AllowedPattern=SNS_TOPIC_ARN_PATTERN,
            Description=f"Existing SNS topic for failure alerts (its policy, and its KMS key's if encrypted, must let {publishers} publish)",
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
        KeyPolicy=alert_key_policy(events_publish=events_publish),
    ))
    topic = template.add_resource(sns.Topic(ALERT_TOPIC, KmsMasterKeyId=Ref(key)))
    template.add_resource(sns.SubscriptionResource(
        ALERT_EMAIL_SUBSCRIPTION, Condition=HAS_ALERT_EMAIL, TopicArn=Ref(topic), Protocol="email", Endpoint=Ref(ALERT_EMAIL),
    ))
    return Ref(topic)


def alert_key_policy(*, events_publish: bool) -> PolicyDocument:
    """The alert topic key's policy: the account administers it; EventBridge (if an alert rule
    publishes) and CloudWatch alarms may use it for this account's SNS topics in this Region.

    EventBridge and CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key:
    the topic needs a customer managed key whose policy lets them use it.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html#eb-sns-permissions
    EventBridge gets a statement of its own, without aws:SourceAccount/aws:SourceArn: the SNS
    developer guide's key management page lists aws:SourceAccount, aws:SourceArn and
    aws:SourceOrgID as not supported in a key policy for EventBridge publishing to an encrypted
    topic (publishing fails). It is narrowed instead by the encryption context SNS sends, the
    topic's ARN (the topic's own ARN cannot be named here: the topic refers to this key, so the
    key cannot refer back to the topic). CloudWatch alarms support aws:SourceAccount and keep it.
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    (lint rule E9009 keeps the conditions off EventBridge's statement.)
    """
    topics_here = ArnLike(SNS_TOPIC_ENCRYPTION_CONTEXT, arn("sns", "*"))
    statements = [Statement(
        Sid="AccountAdministersKey", Effect=Allow,
        Principal=Principal("AWS", [arn("iam", "root", region=False)]),
        Action=[awacs.kms.Action("*")], Resource=["*"],  # in a key policy, "*" means this key
    )]
    if events_publish:
        statements.append(Statement(
            Sid="AlertRulesEncrypt", Effect=Allow, Principal=Principal("Service", [EVENTS_SERVICE]),
            Action=[awacs.kms.Decrypt, awacs.kms.GenerateDataKey], Resource=["*"],
            Condition=Condition([topics_here]),
        ))
    statements.append(Statement(
        Sid="AlarmsEncrypt", Effect=Allow, Principal=Principal("Service", [CLOUDWATCH_SERVICE]),
        Action=[awacs.kms.Decrypt, awacs.kms.GenerateDataKey], Resource=["*"],
        Condition=Condition([StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}")), topics_here]),
    ))
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def _allow_publishers(template: Template, rules: list, alarms: list) -> None:
    statements = []
    if rules:
        statements.append(Statement(
            Sid="AlertRulesPublish", Effect=Allow,
            Principal=Principal("Service", [EVENTS_SERVICE]),
            Action=[awacs.sns.Publish], Resource=[Ref(ALERT_TOPIC)],
            Condition=Condition(ArnEquals("aws:SourceArn", [GetAtt(r, "Arn") for r in rules] if len(rules) > 1 else GetAtt(rules[0], "Arn"))),
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
