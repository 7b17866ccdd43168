"""S3 object → EventBridge → ECS task: an object created in a bucket (optionally matching a key
filter) runs the latest revision of a Fargate task family, with the bucket name and object key in
container environment variables.

S3 publishes `Object Created` to EventBridge itself once the bucket has EventBridge notifications
on (`NotificationConfiguration.EventBridgeConfiguration`); no CloudTrail trail is needed.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html

The container gets `detail.object.key` exactly as the event carries it: URL-encoded, as S3 writes
keys in its notifications ("The object key name value is URL encoded", notification-content-
structure.html; the EventBridge event reference, ev-events.html, does not say either way, but AWS
Lambda Powertools decodes it with unquote_plus). Key filters are compared in that encoded form
(generator.aws.event_rules.s3_encode) and the stack README says how the container decodes the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from awacs.aws import Policy
from troposphere import GetAtt, Output, Parameter, Ref, Template
from troposphere import events, s3

from generator.aws import iam
from generator.aws import checkov_skips as skip_reasons
from generator.aws.checkov_skips import checkov_skips
from generator.aws.alerts import AlertOptions, add_alerts
from generator.aws.capacity import places_on_spot
from generator.aws.buckets import private_bucket_properties, tls_only_statement
from generator.core.contract import Rendered, StackContext
from generator.aws.delivery import DeliveryOptions, add_dead_letter_queue, allow_rule_to_send
from generator.aws.ecs_task import ENV_NAME, RunTaskOptions, refuse_concurrency, run_task_notes, task_ref
from generator.core.errors import UserError
from generator.core.options import option
from generator.aws.event_rules import (
    BUCKET_NAME_PATH, OBJECT_CREATED, OBJECT_KEY_PATH, OBJECT_RESTORE_COMPLETED, S3KeyFilter,
    container_override_transformer, encoded_key_notes, s3_object_created_pattern,
)
from generator.aws.targets import ecs_rule_target, invoke_statements
from generator.aws.task_tags import task_tag_refs

DESCRIPTION = "Run an ECS Fargate task for each S3 object created (native S3 → EventBridge events, key prefix/suffix/wildcard filter)"

BUCKET_NAME = "BucketName"
BUCKET = "Bucket"
BUCKET_POLICY = "BucketPolicy"
RULE = "ObjectCreatedRule"
RUN_TASK_ROLE = "RunTaskRole"
ENCRYPTIONS = ("AES256", "aws:kms")
BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
EXISTING_BUCKET_NOTE = ("Requires Amazon EventBridge notifications on for the existing bucket (S3 console: Properties, Event "
                        "notifications, Amazon EventBridge: On; or add \"EventBridgeConfiguration\": {} to the bucket's notification "
                        "configuration, which put-bucket-notification-configuration replaces as a whole).")


@dataclass(frozen=True, kw_only=True)
class Options(RunTaskOptions, DeliveryOptions, S3KeyFilter, AlertOptions):
    """The bucket's name is the BucketName parameter (per environment)."""

    existing_bucket: bool | str = option(False, doc="true, or a bucket name (the BucketName parameter's default): use a bucket that "
                                                    "exists, whose EventBridge notifications must be on",
                                         by_default="the stack creates the bucket (encrypted, private, TLS only, EventBridge "
                                                    "notifications on, kept when the stack is deleted)")
    bucket_versioning: bool = option(False, doc="turn on versioning of the bucket the stack creates", by_default="versioning off")
    bucket_encryption: str = option("AES256", doc="encryption of the bucket the stack creates: AES256 (SSE-S3) or aws:kms "
                                                  "(SSE-KMS, AWS managed key)", by_default="AES256")
    restore_completed: bool = option(False, doc="also run the task on `Object Restore Completed`", by_default="only on `Object Created`")
    bucket_env_var: str = option("S3_BUCKET", doc="container environment variable that receives the bucket name", by_default="S3_BUCKET")
    key_env_var: str = option("OBJECT_KEY", doc="container environment variable that receives the object key exactly as the "
                                                "event's detail.object.key: URL-encoded as S3 sends it (a space as +, other "
                                                "characters as %XX; decode with urllib.parse.unquote_plus)", by_default="OBJECT_KEY")
    enabled: bool = option(True, doc="whether the rule runs the task", by_default="true (false creates the rule disabled)")

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.existing_bucket, str):
            if not re.match(BUCKET_NAME_PATTERN, self.existing_bucket):
                raise UserError(f"{self.existing_bucket!r} is not an S3 bucket name", field="existing_bucket")
        if self.bucket_encryption not in ENCRYPTIONS:
            raise UserError(f"{self.bucket_encryption!r} is not allowed; allowed: {', '.join(ENCRYPTIONS)}", field="bucket_encryption")
        if self.existing_bucket is not False and (self.bucket_versioning or self.bucket_encryption != "AES256"):
            raise UserError("applies only to a bucket the stack creates", field="bucket_versioning" if self.bucket_versioning else "bucket_encryption")
        for name in ("bucket_env_var", "key_env_var"):
            value = getattr(self, name)
            if not ENV_NAME.match(value):
                raise UserError(f"{value!r} is not a valid environment variable name", field=name)
            if value in self.environment:
                raise UserError(f"{value!r} is also in environment; the event's value would be overridden", field=name)
        if self.bucket_env_var == self.key_env_var:
            raise UserError("must differ from bucket_env_var", field="key_env_var")
        refuse_concurrency(self, "s3_object_task")

    @property
    def creates_bucket(self) -> bool:
        return self.existing_bucket is False

    def check_parameter_values(self, values: dict[str, str]) -> None:
        """An environment's BucketName against the key filter (a filter that starts with it matches no key)."""
        super().check_parameter_values(values)
        bucket = values.get(BUCKET_NAME, self.existing_bucket if isinstance(self.existing_bucket, str) else "")
        self.check_bucket(str(bucket))


def _bucket(template: Template, options: Options) -> s3.Bucket:
    if options.bucket_encryption == "aws:kms":
        default = s3.ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms")
        rule = s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=default, BucketKeyEnabled=True)
    else:
        rule = s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256"))
    extra = {}
    skips = [skip_reasons.BUCKET_ACCESS_LOGS]
    if options.bucket_versioning:
        extra["VersioningConfiguration"] = s3.VersioningConfiguration(Status="Enabled")
    else:
        skips.append(skip_reasons.BUCKET_VERSIONING_OFF)
    bucket = template.add_resource(s3.Bucket(
        BUCKET,
        # Data outlives the stack: deleting or replacing the stack never deletes the objects.
        DeletionPolicy="Retain", UpdateReplacePolicy="Retain",
        Metadata=checkov_skips(*skips),
        BucketName=Ref(BUCKET_NAME),
        BucketEncryption=s3.BucketEncryption(ServerSideEncryptionConfiguration=[rule]),
        **private_bucket_properties(),
        NotificationConfiguration=s3.NotificationConfiguration(
            EventBridgeConfiguration=s3.EventBridgeConfiguration(EventBridgeEnabled=True)),
        **extra,
    ))
    template.add_resource(s3.BucketPolicy(
        BUCKET_POLICY, Bucket=Ref(bucket),
        PolicyDocument=Policy(Version=iam.POLICY_VERSION, Statement=[tls_only_statement(bucket)]),
    ))
    return bucket


def build(options: Options, stack: StackContext) -> Rendered:
    template = Template()
    bucket_parameter = {"Type": "String", "AllowedPattern": BUCKET_NAME_PATTERN,
                        "ConstraintDescription": "an S3 bucket name: 3-63 lowercase letters, digits, . and -"}
    if options.creates_bucket:
        bucket_parameter["Description"] = "Name of the bucket this stack creates"
    else:
        bucket_parameter["Description"] = "Name of the existing bucket; its EventBridge notifications must be on"
        template.set_description(EXISTING_BUCKET_NOTE)
        if isinstance(options.existing_bucket, str):
            bucket_parameter["Default"] = options.existing_bucket
    template.add_parameter(Parameter(BUCKET_NAME, **bucket_parameter))
    task = task_ref(template, options)
    tags = task_tag_refs(template, options, stack.environment_tags)
    bucket = _bucket(template, options) if options.creates_bucket else None
    dead_letter_queue = add_dead_letter_queue(template) if options.dead_letter_queue else None

    role = template.add_resource(iam.service_role(
        RUN_TASK_ROLE, service="events.amazonaws.com", policy_name="run-task",
        statements=invoke_statements(task, tags_tasks=options.tags_tasks)))
    detail_types = (OBJECT_CREATED, OBJECT_RESTORE_COMPLETED) if options.restore_completed else (OBJECT_CREATED,)
    try:
        transformer = container_override_transformer(options, {options.bucket_env_var: BUCKET_NAME_PATH, options.key_env_var: OBJECT_KEY_PATH})
    except UserError as error:  # a size limit or a placeholder in static text: say which stack and option
        raise error.within(stack=stack.name, field_prefix="options") from None
    rule = template.add_resource(events.Rule(
        RULE,
        Description=f"{stack.name}: {' or '.join(detail_types)} in the bucket → ECS task",
        EventPattern=s3_object_created_pattern(Ref(BUCKET_NAME), options, detail_types=detail_types),
        State="ENABLED" if options.enabled else "DISABLED",
        Targets=[ecs_rule_target(task, options, options, role=role, dead_letter_queue=dead_letter_queue, input_transformer=transformer,
                                 tags=tags)],
    ))
    if dead_letter_queue is not None:
        allow_rule_to_send(template, dead_letter_queue, GetAtt(rule, "Arn"))
        template.add_output(Output("DeadLetterQueueUrl", Description="Failed task starts land here", Value=Ref(dead_letter_queue)))
    template.add_output(Output("BucketName", Description="The bucket whose new objects start the task", Value=Ref(bucket or BUCKET_NAME)))
    template.add_output(Output("RuleArn", Description="The EventBridge rule", Value=GetAtt(rule, "Arn")))
    add_alerts(template, task, options, stack_name=stack.name, container_name=options.container_name, rule=rule,
               dead_letter_queue=dead_letter_queue, spot_interruptions_alert=places_on_spot(options.strategy))
    notes = ([] if options.creates_bucket else [EXISTING_BUCKET_NOTE]) + encoded_key_notes(options, options.key_env_var)
    if options.import_from:
        notes.append(f"FoundationStack is `{options.import_from}-<environment>` (the `{options.import_from}` stack deployed for the "
                     "same environment, in the same account and Region) unless the environment sets it.")
    notes += run_task_notes(options, spot_retries=None)
    return Rendered(template, summary=_summary(options), notes=notes)


def _summary(options: Options) -> str:
    filters = {"key_wildcard": "matches the wildcard", "key_prefix": "starts with", "key_suffix": "ends with"}
    which = " and ".join(f"{filters[name]} `{getattr(options, name)}`" for name in filters if getattr(options, name) is not None)
    created = "the bucket it creates" if options.creates_bucket else "an existing bucket"
    return (f"Each object created in {created}{' whose key ' + which if which else ''} runs the latest revision of the task family "
            f"on Fargate, with the bucket name in `{options.bucket_env_var}` and the key in `{options.key_env_var}` of container "
            f"`{options.container_name}`.")
