"""Application event → ECS task: an event an application puts on the default EventBridge bus (its
`source` and `detail-type`) runs the latest revision of a Fargate task family.

Written only from ecs-batch-templates' building blocks, so it gets their least-privilege RunTask
role, retry policy, dead-letter queue and failure alerts, and is checked by the same lint rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Output, Ref, Template
from troposphere import events

from generator.aws import iam
from generator.aws.alerts import AlertOptions, add_alerts
from generator.aws.delivery import DeliveryOptions, add_dead_letter_queue, allow_rule_to_send
from generator.aws.ecs_task import RunTaskOptions, task_ref
from generator.aws.targets import ecs_rule_target, invoke_statements
from generator.core.contract import Rendered, StackContext
from generator.core.errors import UserError
from generator.core.options import option

DESCRIPTION = "Run an ECS Fargate task for each application event (source and detail-type) on the default EventBridge bus"

# Logical ids: renaming one replaces the resource on the next deploy.
EVENT_RULE = "EventRule"
RUN_TASK_ROLE = "RunTaskRole"


@dataclass(frozen=True, kw_only=True)
class Options(RunTaskOptions, DeliveryOptions, AlertOptions):
    source: str = option(doc="the events' source, as the application puts them", example="acme.orders")
    detail_types: tuple[str, ...] = option(doc="the events' detail-type values that run the task", example=["OrderPlaced"])
    enabled: bool = option(True, doc="whether the rule runs the task", by_default="true (false creates the rule disabled)")

    def __post_init__(self):
        super().__post_init__()  # the mixins' checks: container, retries, alerts
        if not self.source.strip():
            raise UserError("name the events' source, e.g. acme.orders", field="source")
        if not self.detail_types or not all(detail_type.strip() for detail_type in self.detail_types):
            raise UserError('list at least one detail-type, e.g. ["OrderPlaced"]', field="detail_types")


def build(options: Options, stack: StackContext) -> Rendered:
    template = Template()
    task = task_ref(template, options)  # ClusterArn, TaskFamily... parameters, or import_from's exports
    dead_letter_queue = add_dead_letter_queue(template) if options.dead_letter_queue else None
    role = template.add_resource(iam.service_role(
        RUN_TASK_ROLE, service="events.amazonaws.com", policy_name="run-task", statements=invoke_statements(task)))
    rule = template.add_resource(events.Rule(
        EVENT_RULE,
        Description=f"{stack.name}: {options.source} {' or '.join(options.detail_types)} → ECS task",
        EventPattern={"source": [options.source], "detail-type": list(options.detail_types)},
        State="ENABLED" if options.enabled else "DISABLED",
        Targets=[ecs_rule_target(task, options, options, role=role, dead_letter_queue=dead_letter_queue,
                                 input_text=options.static_input())],
    ))
    if dead_letter_queue is not None:
        allow_rule_to_send(template, dead_letter_queue, GetAtt(rule, "Arn"))
        template.add_output(Output("DeadLetterQueueUrl", Description="Failed task starts land here", Value=Ref(dead_letter_queue)))
    template.add_output(Output("RuleArn", Description="The EventBridge rule", Value=GetAtt(rule, "Arn")))
    add_alerts(template, task, options, stack_name=stack.name, rule=rule, dead_letter_queue=dead_letter_queue)
    summary = (f"Each `{options.source}` event of detail-type {', '.join(f'`{t}`' for t in options.detail_types)} on the default "
               f"event bus runs the latest ACTIVE revision of the task family, overriding container `{options.container_name}`.")
    return Rendered(template, summary=summary)
