"""How a trigger delivers to its target reliably: retry policy and an SQS dead-letter queue.

A RunTask that EventBridge cannot make (throttled, missing permission) is retried and then lands in
the dead-letter queue, so a failed start is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs.aws import Allow, ArnEquals, Condition, PolicyDocument, Principal, Statement
import awacs.sqs
from troposphere import GetAtt, Ref, Template
from troposphere.sqs import Queue, QueuePolicy

from generator.core.contract import BlueprintOptions
from generator.core.errors import UserError
from generator.core.options import option
from generator.aws.checkov_skips import SQS_MANAGED_ENCRYPTION, checkov_skips

DEAD_LETTER_QUEUE = "DeadLetterQueue"
DEAD_LETTER_QUEUE_POLICY = "DeadLetterQueuePolicy"
# Both EventBridge rules and EventBridge Scheduler accept 0-185 attempts and 60-86400 s.
MAX_RETRY_ATTEMPTS = 185
EVENT_AGE_RANGE = (60, 86400)
FOURTEEN_DAYS = 1_209_600


@dataclass(frozen=True, kw_only=True)
class DeliveryOptions(BlueprintOptions):
    """Retry and dead-letter behaviour of a rule or schedule target."""

    retry_attempts: int = option(185, doc=f"retries of a delivery to the target that failed, 0 to {MAX_RETRY_ATTEMPTS}",
                                 by_default=f"{MAX_RETRY_ATTEMPTS} retries")
    max_event_age_seconds: int = option(86400, doc=f"how long a delivery is retried, {EVENT_AGE_RANGE[0]} to {EVENT_AGE_RANGE[1]} seconds",
                                        by_default="24 hours")
    dead_letter_queue: bool = option(True, doc="keep what could not be delivered after the retries in an SQS dead-letter queue",
                                     by_default="true: an encrypted queue is created (false: failed deliveries are dropped)")

    def __post_init__(self):
        if not 0 <= self.retry_attempts <= MAX_RETRY_ATTEMPTS:
            raise UserError(f"{self.retry_attempts} is out of range; allowed: 0 to {MAX_RETRY_ATTEMPTS}", field="retry_attempts")
        low, high = EVENT_AGE_RANGE
        if not low <= self.max_event_age_seconds <= high:
            raise UserError(f"{self.max_event_age_seconds} is out of range; allowed: {low} to {high} seconds", field="max_event_age_seconds")
        super().__post_init__()


def add_dead_letter_queue(template: Template) -> Queue:
    """A standard (not FIFO: Scheduler refuses FIFO) encrypted queue that keeps failures 14 days."""
    return template.add_resource(
        Queue(
            DEAD_LETTER_QUEUE,
            SqsManagedSseEnabled=True,
            MessageRetentionPeriod=FOURTEEN_DAYS,
            Metadata=checkov_skips(SQS_MANAGED_ENCRYPTION),
        )
    )


def allow_rule_to_send(template: Template, queue: Queue, rule_arn, *, sid: str = "OnlyThisRuleSendsFailedEvents") -> QueuePolicy:
    """Only these rules (`rule_arn`: one ARN or a list), through EventBridge, may put messages in the
    queue. Called again for more rules (the alert rules), it adds a statement to the same policy."""
    statement = Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("Service", ["events.amazonaws.com"]),
        Action=[awacs.sqs.SendMessage],
        Resource=[GetAtt(queue, "Arn")],
        Condition=Condition(ArnEquals("aws:SourceArn", rule_arn[0] if isinstance(rule_arn, list) and len(rule_arn) == 1 else rule_arn)),
    )
    policy = template.resources.get(DEAD_LETTER_QUEUE_POLICY)
    if policy is not None:
        policy.PolicyDocument.Statement.append(statement)
        return policy
    return template.add_resource(
        QueuePolicy(
            DEAD_LETTER_QUEUE_POLICY,
            Queues=[Ref(queue)],
            PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[statement]),
        )
    )
