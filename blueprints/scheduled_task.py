"""Scheduled ECS task: a schedule runs the latest revision of a Fargate task family.

With a `timezone` the schedule is an EventBridge Scheduler schedule (cron evaluated in that zone,
what AWS now recommends); without one, an EventBridge rule, whose cron is always UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Output, Ref, Template
from troposphere import events

from generator.aws import iam
from generator.aws.alerts import SPOT_PAGES, AlertOptions, add_alerts
from generator.aws.capacity import places_on_spot
from generator.core.contract import Rendered, StackContext
from generator.aws.delivery import DeliveryOptions, add_dead_letter_queue, allow_rule_to_send
from generator.aws.ecs_task import RunTaskOptions, refuse_concurrency, run_task_notes, task_ref
from generator.aws.schedules import validate_schedule_expression, validate_timezone
from generator.aws.targets import add_schedule, ecs_rule_target, ecs_schedule_target, invoke_statements
from generator.aws.task_tags import task_tag_refs

DESCRIPTION = "Run an ECS Fargate task on a cron/rate schedule (EventBridge Scheduler with a time zone, else a UTC rule)"

SCHEDULE_RULE = "ScheduleRule"
RUN_TASK_ROLE = "RunTaskRole"


@dataclass(frozen=True, kw_only=True)
class Options(RunTaskOptions, DeliveryOptions, AlertOptions):
    """schedule: cron(...) or rate(...). timezone: IANA name; default: none, the schedule runs in UTC.
    enabled: default true; false creates the schedule disabled."""

    schedule: str
    timezone: str | None = None
    enabled: bool = True

    def __post_init__(self):
        RunTaskOptions.__post_init__(self)
        DeliveryOptions.__post_init__(self)
        AlertOptions.__post_init__(self)
        validate_schedule_expression(self.schedule)
        if self.timezone is not None:
            validate_timezone(self.timezone)
        refuse_concurrency(self, "scheduled_task")


def build(options: Options, stack: StackContext) -> Rendered:
    template = Template()
    task = task_ref(template, options)
    tags = task_tag_refs(template, options, stack.environment_tags)
    dead_letter_queue = add_dead_letter_queue(template) if options.dead_letter_queue else None
    state = "ENABLED" if options.enabled else "DISABLED"
    rule = schedule_group = None

    if options.timezone:
        role = template.add_resource(iam.service_role(
            RUN_TASK_ROLE, service="scheduler.amazonaws.com", policy_name="run-task",
            statements=invoke_statements(task, dead_letter_queue=dead_letter_queue, tags_tasks=options.tags_tasks),
        ))
        _, schedule_group = add_schedule(
            template, description=f"{stack.name}: {options.schedule} in {options.timezone}", expression=options.schedule,
            timezone=options.timezone, enabled=options.enabled,
            target=ecs_schedule_target(task, options, options, role=role, dead_letter_queue=dead_letter_queue,
                                       input_text=options.static_input(), tags=tags),
        )
    else:
        role = template.add_resource(iam.service_role(
            RUN_TASK_ROLE, service="events.amazonaws.com", policy_name="run-task",
            statements=invoke_statements(task, tags_tasks=options.tags_tasks),
        ))
        rule = template.add_resource(events.Rule(
            SCHEDULE_RULE,
            Description=f"{stack.name}: {options.schedule} (UTC)",
            ScheduleExpression=options.schedule,
            State=state,
            Targets=[ecs_rule_target(
                task, options, options, role=role, dead_letter_queue=dead_letter_queue,
                input_text=options.static_input(), tags=tags,
            )],
        ))
        if dead_letter_queue is not None:
            allow_rule_to_send(template, dead_letter_queue, GetAtt(rule, "Arn"))
        template.add_output(Output("ScheduleRuleArn", Description="The EventBridge rule", Value=GetAtt(rule, "Arn")))

    if dead_letter_queue is not None:
        template.add_output(Output("DeadLetterQueueUrl", Description="Failed task starts land here", Value=Ref(dead_letter_queue)))
    add_alerts(template, task, options, stack_name=stack.name, rule=rule, schedule_group=schedule_group,
               dead_letter_queue=dead_letter_queue, spot_interruptions=SPOT_PAGES if places_on_spot(options.strategy) else None)
    return Rendered(template, summary=_summary(options), notes=run_task_notes(options, spot_retries=None))


def _summary(options: Options) -> str:
    where = f"in {options.timezone} (EventBridge Scheduler)" if options.timezone else "in UTC (EventBridge rule)"
    failure = (
        f"a start still failing after {options.retry_attempts} retries lands in the dead-letter queue"
        if options.dead_letter_queue else "failed starts are dropped after the retries (no dead-letter queue)"
    )
    return f"Runs the latest ACTIVE revision of the task family on `{options.schedule}` {where}, overriding container `{options.container_name}`; {failure}."
