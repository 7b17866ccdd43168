"""ECS RunTask targets for EventBridge rules and EventBridge Scheduler, and the role that invokes them.

The two services shape the same request differently (Scheduler: `AwsvpcConfiguration`,
`PlacementStrategy`, `Tags`; rules: `AwsVpcConfiguration`, `PlacementStrategies`, `TagList`), so each
has its builder here and nowhere else.
"""

from __future__ import annotations

from awacs.aws import Allow, Statement
import awacs.states
from troposphere import GetAtt, Output, Ref, Tags, Template
from troposphere import events, scheduler

from generator.aws import iam
from generator.aws.capacity import strategy_properties
from generator.aws.delivery import DeliveryOptions
from generator.aws.ecs_task import RunTaskOptions, TaskRef

RUN_TASK_TARGET_ID = "RunTask"
SCHEDULE = "Schedule"
SCHEDULE_GROUP = "ScheduleGroup"


def invoke_statements(task: TaskRef, *, dead_letter_queue=None, tags_tasks: bool = False) -> list:
    """What the service that starts the task needs: RunTask on the family, PassRole on its roles,
    TagResource on the tasks it creates when RunTask tags them (`tags_tasks`), and (for Scheduler,
    which sends with the schedule's role) SendMessage to the dead-letter queue."""
    statements = [
        iam.run_task_statement(
            family_arn=task.family_arn, family_revisions_arn=task.family_revisions_arn, cluster_arn=task.cluster_arn
        ),
        iam.pass_role_statement(task.passed_role_arns),
    ]
    if tags_tasks:
        statements.append(iam.tag_on_run_task_statement(task.task_arns_in_cluster))
    if dead_letter_queue is not None:
        statements.append(iam.send_message_statement(GetAtt(dead_letter_queue, "Arn")))
    return statements


def rule_target(
    target_id: str,
    arn,
    delivery: DeliveryOptions,
    *,
    role=None,
    dead_letter_queue=None,
    input_text: str | None = None,
    input_transformer: events.InputTransformer | None = None,
    **extra,
) -> events.Target:
    """An EventBridge rule target with its delivery settings: retry policy, dead-letter queue, input.
    (Properties are given in reading order; the rendered YAML keeps it.)"""
    properties = {"Id": target_id, "Arn": arn}
    if role is not None:
        properties["RoleArn"] = GetAtt(role, "Arn")
    properties.update(extra)
    properties["RetryPolicy"] = events.RetryPolicy(
        MaximumRetryAttempts=delivery.retry_attempts,
        MaximumEventAgeInSeconds=delivery.max_event_age_seconds,
    )
    if input_transformer is not None:
        properties["InputTransformer"] = input_transformer
    elif input_text is not None:
        properties["Input"] = input_text
    if dead_letter_queue is not None:
        properties["DeadLetterConfig"] = events.DeadLetterConfig(Arn=GetAtt(dead_letter_queue, "Arn"))
    return events.Target(**properties)


def add_schedule(template: Template, *, description: str, expression: str, timezone: str, enabled: bool,
                 target: scheduler.Target) -> tuple[scheduler.Schedule, scheduler.ScheduleGroup]:
    """An EventBridge Scheduler schedule, in a schedule group of its own: Scheduler publishes its
    metrics (dropped invocations among them) per group only, so a group per stack is what lets an
    alarm watch this schedule and nothing else. The group's name is CloudFormation's to choose."""
    group = template.add_resource(scheduler.ScheduleGroup(SCHEDULE_GROUP))
    schedule = template.add_resource(scheduler.Schedule(
        SCHEDULE,
        Description=description,
        GroupName=Ref(group),
        ScheduleExpression=expression,
        ScheduleExpressionTimezone=timezone,
        FlexibleTimeWindow=scheduler.FlexibleTimeWindow(Mode="OFF"),
        State="ENABLED" if enabled else "DISABLED",
        Target=target,
    ))
    template.add_output(Output("ScheduleArn", Description="The EventBridge Scheduler schedule", Value=GetAtt(schedule, "Arn")))
    return schedule, group


def schedule_target(arn, delivery: DeliveryOptions, *, role, dead_letter_queue=None, input_text: str, **extra) -> scheduler.Target:
    """An EventBridge Scheduler target with its delivery settings: retry policy, dead-letter queue, input."""
    properties = {"Arn": arn, "RoleArn": GetAtt(role, "Arn"), "Input": input_text, **extra}
    properties["RetryPolicy"] = scheduler.RetryPolicy(
        MaximumRetryAttempts=delivery.retry_attempts,
        MaximumEventAgeInSeconds=delivery.max_event_age_seconds,
    )
    if dead_letter_queue is not None:
        properties["DeadLetterConfig"] = scheduler.DeadLetterConfig(Arn=GetAtt(dead_letter_queue, "Arn"))
    return scheduler.Target(**properties)


class SchedulerEcsParameters(scheduler.EcsParameters):
    """troposphere 4.11 refuses Scheduler's `Tags` ("TagMap ... not currently supported by AWS
    CloudFormation"), but CloudFormation's AWS::Scheduler::Schedule schema (as cfn-lint ships it) has
    `Tags` as a list of string maps. Each map is one tag written {"key": K, "value": V}: the shape the
    AWS CDK's EcsRunTask scheduler target renders (aws-scheduler-targets/lib/ecs-run-task.ts), and
    the one Scheduler reads, judging by terraform-provider-aws#32259 (maps named by the tag key gave
    "Multiple tags contain the same key") and #45629 (CreateSchedule expects
    `[{"key": ..., "value": ...}]`). AWS's own pages do not settle it: the CloudFormation reference
    writes the property `Tags: [ {Key: Value, ...}, ... ]` and Scheduler's API reference "Array of
    string to string maps", naming no keys:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-scheduler-schedule-ecsparameters.html
    https://docs.aws.amazon.com/scheduler/latest/APIReference/API_EcsParameters.html
    Not confirmed against a deployed schedule here (moto does not model Scheduler): the README says so."""

    props = {**scheduler.EcsParameters.props, "Tags": (list, False)}


def _ecs_parameters(service, task: TaskRef, options: RunTaskOptions, tags: list | tuple = ()):
    """RunTask on the family's latest revision on Fargate, for `service` (troposphere.events or
    troposphere.scheduler: the two APIs spell the awsvpc key and the tags differently). With a
    capacity provider strategy there is no LaunchType: AWS rejects a request with both. `tags`:
    (key, value expression) pairs put on the task."""
    vpc_key = "AwsVpcConfiguration" if service is events else "AwsvpcConfiguration"
    properties: dict = {"TaskDefinitionArn": task.family_arn, "TaskCount": options.task_count}
    if options.strategy:
        properties["CapacityProviderStrategy"] = strategy_properties(options.strategy, service.CapacityProviderStrategyItem)
    else:
        properties["LaunchType"] = "FARGATE"
    properties["PlatformVersion"] = options.platform_version
    properties["NetworkConfiguration"] = service.NetworkConfiguration(**{vpc_key: service.AwsVpcConfiguration(
        Subnets=task.subnets,
        SecurityGroups=task.security_groups,
        AssignPublicIp="ENABLED" if options.assign_public_ip else "DISABLED",
    )})
    if options.propagate_tags:
        properties["PropagateTags"] = options.propagate_tags
    if options.enable_ecs_managed_tags:
        properties["EnableECSManagedTags"] = True
    if tags and service is events:
        properties["TagList"] = Tags(dict(tags))
    elif tags:
        properties["Tags"] = [{"key": key, "value": value} for key, value in tags]
    return (events.EcsParameters if service is events else SchedulerEcsParameters)(**properties)


def ecs_rule_target(task: TaskRef, options: RunTaskOptions, delivery: DeliveryOptions, *, tags=(), **delivery_kwargs) -> events.Target:
    """An EventBridge rule target that runs the task family's latest revision on Fargate."""
    return rule_target(RUN_TASK_TARGET_ID, task.cluster_arn, delivery, EcsParameters=_ecs_parameters(events, task, options, tags),
                       **delivery_kwargs)


def ecs_schedule_target(task: TaskRef, options: RunTaskOptions, delivery: DeliveryOptions, *, tags=(), **delivery_kwargs) -> scheduler.Target:
    """An EventBridge Scheduler target that runs the task family's latest revision on Fargate."""
    return schedule_target(task.cluster_arn, delivery, EcsParameters=_ecs_parameters(scheduler, task, options, tags), **delivery_kwargs)


# --- Step Functions state machines as targets (sfn_task's triggers) --------------------------

START_EXECUTION_TARGET_ID = "StartExecution"


def start_execution_statements(state_machine_arn, *, dead_letter_queue=None) -> list:
    """What a rule or schedule needs to start one state machine: states:StartExecution on it only,
    and (Scheduler, which sends with the schedule's role) SendMessage to the dead-letter queue."""
    statements = [Statement(Sid="StartThisStateMachine", Effect=Allow, Action=[awacs.states.StartExecution], Resource=[state_machine_arn])]
    if dead_letter_queue is not None:
        statements.append(iam.send_message_statement(GetAtt(dead_letter_queue, "Arn")))
    return statements


def state_machine_rule_target(state_machine_arn, delivery: DeliveryOptions, **delivery_kwargs) -> events.Target:
    """An EventBridge rule target that starts an execution; its input is `input_text` or the transformer's."""
    return rule_target(START_EXECUTION_TARGET_ID, state_machine_arn, delivery, **delivery_kwargs)


def state_machine_schedule_target(state_machine_arn, delivery: DeliveryOptions, **delivery_kwargs) -> scheduler.Target:
    """An EventBridge Scheduler target that starts an execution with `input_text` as its input."""
    return schedule_target(state_machine_arn, delivery, **delivery_kwargs)
