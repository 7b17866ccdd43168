"""Scheduled ECS task: a schedule runs the latest revision of a Fargate task family.

With a `timezone` the schedule is an EventBridge Scheduler schedule (cron evaluated in that zone,
what AWS now recommends); without one, an EventBridge rule, whose cron is always UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Output, Ref, Template
from troposphere import events

from generator.aws import iam
from generator.aws.alerts import AlertOptions, add_alerts
from generator.aws.capacity import places_on_spot
from generator.core.contract import Rendered, StackContext
from generator.core.options import option
from generator.aws.delivery import DeliveryOptions, add_dead_letter_queue, allow_rule_to_send
from generator.aws.ecs_task import RunTaskOptions, refuse_concurrency, run_task_notes, task_ref
from generator.core.errors import UserError
from generator.aws.missed_run import (
    MISSED_RUN_ALARM, SUCCESSFUL_RUNS_RETENTION_DAYS, WINDOW_FACTOR, AlarmWindow, add_missed_run_alarm, add_successful_runs,
    alarm_window, words,
)
from generator.aws.schedules import validate_schedule_expression, validate_timezone
from generator.aws.targets import add_schedule, ecs_rule_target, ecs_schedule_target, invoke_statements
from generator.aws.task_tags import task_tag_refs

DESCRIPTION = "Run an ECS Fargate task on a cron/rate schedule (EventBridge Scheduler with a time zone, else a UTC rule)"

SCHEDULE_RULE = "ScheduleRule"
RUN_TASK_ROLE = "RunTaskRole"


@dataclass(frozen=True, kw_only=True)
class Options(RunTaskOptions, DeliveryOptions, AlertOptions):
    schedule: str = option(doc="cron(…) (six fields, ? in exactly one day field) or rate(…)", example="cron(0 2 * * ? *)")
    timezone: str | None = option(None, doc="an IANA time zone name (e.g. Asia/Tokyo): an EventBridge Scheduler schedule in that zone",
                                  by_default="an EventBridge rule, whose schedule is evaluated in UTC")
    enabled: bool = option(True, doc="whether the schedule runs", by_default="true (false creates it disabled)")
    # It costs a custom metric, an alarm and one of the account's 10 CloudWatch Logs resource policies
    # per Region, hence off unless asked for.
    missed_run_alarm: bool = option(False, doc="alarm (to the alert topic) when no run of the job's family in its cluster has stopped "
                                               "with container_name exiting 0 within 1.5 × the longest gap between scheduled runs "
                                               "(at most 7 days, CloudWatch's limit)",
                                    by_default="false: no missed-run alarm")

    def __post_init__(self):
        super().__post_init__()
        validate_schedule_expression(self.schedule)
        if self.timezone is not None:
            validate_timezone(self.timezone)
        refuse_concurrency(self, "scheduled_task")
        if self.missed_run_alarm:
            if not self.enabled:
                raise UserError("a disabled schedule never runs, so the alarm would always be on; allowed: enabled = true",
                                field="missed_run_alarm")
            if self.alerts == "off":
                raise UserError("the alarm publishes to the alert topic; allowed with alerts = \"topic\" or \"parameter\"",
                                field="missed_run_alarm")
            alarm_window(self.schedule, self.timezone)  # refused here when the window does not fit an alarm

    @property
    def missed_run_window(self) -> AlarmWindow | None:
        return alarm_window(self.schedule, self.timezone) if self.missed_run_alarm else None


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
    successes = (add_successful_runs(template, task, options.container_name, stack_name=stack.name, spot=places_on_spot(options.strategy))
                 if options.missed_run_alarm else None)
    topic_arn = add_alerts(template, task, options, stack_name=stack.name, container_name=options.container_name, rule=rule,
                           schedule_group=schedule_group, dead_letter_queue=dead_letter_queue,
                           watched_rules=[successes] if successes is not None else [],
                           spot_interruptions_alert=places_on_spot(options.strategy))
    notes = []
    if successes is not None:
        window = options.missed_run_window
        add_missed_run_alarm(template, window, topic_arn, stack_name=stack.name, schedule=options.schedule)
        notes.append(f"Missed-run alarm: `{MISSED_RUN_ALARM}` alarms when no run of the task family in its cluster has stopped with "
                     f"container `{options.container_name}` exiting 0 for {words(window.seconds)} ({WINDOW_FACTOR} × the longest "
                     f"gap between runs of `{options.schedule}`, {words(window.longest_gap.total_seconds())}). Right after deployment, "
                     "until the first run succeeds, it is in ALARM. Successful runs are kept "
                     f"{SUCCESSFUL_RUNS_RETENTION_DAYS} days in the log group `/aws/events/<stack name>/successful-runs`; the stack uses "
                     "one of the account's 10 CloudWatch Logs resource policies in the Region.")
    notes += run_task_notes(options, spot_retries=None)
    return Rendered(template, summary=_summary(options), notes=notes)


def _summary(options: Options) -> str:
    where = f"in {options.timezone} (EventBridge Scheduler)" if options.timezone else "in UTC (EventBridge rule)"
    failure = (
        f"a start still failing after {options.retry_attempts} retries lands in the dead-letter queue"
        if options.dead_letter_queue else "failed starts are dropped after the retries (no dead-letter queue)"
    )
    return f"Runs the latest ACTIVE revision of the task family on `{options.schedule}` {where}, overriding container `{options.container_name}`; {failure}."
