"""ECR redeploy: a new image in ECR → EventBridge rule → Python Lambda → ECS service redeploy, either
ecs:UpdateService(forceNewDeployment) or a new task definition revision naming the image by digest.

The function is an AWS SAM `AWS::Serverless::Function` (the template has the SAM transform, and
`CodeUri` points at `functions/redeploy/`, written beside the template). Its source is one file
shipped with the generator (generator/aws/functions/redeploy/app.py), copied at render.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

import awacs.ecs
import awacs.logs
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Output, Ref, Template
from troposphere import awslambda, events, logs, serverless

from generator.aws import iam
from generator.aws.arns import arn
from generator.aws import checkov_skips as skip_reasons
from generator.aws.alerts import AlertOptions, add_alerts
from generator.aws.checkov_skips import checkov_skips
from generator.aws.targets import rule_target
from generator.core.contract import Rendered, StackContext
from generator.aws.delivery import DeliveryOptions, add_dead_letter_queue, allow_rule_to_send
from generator.core.errors import UserError
from generator.aws.log_groups import validate_retention_days
from generator.core.options import OptionTable, did_you_mean, option

DESCRIPTION = ("Redeploy ECS services when an image is replicated (trigger = replication: needs ECR replication into this Region) "
               "or pushed to ECR (SAM Lambda; force a new deployment, or a new revision with the image digest)")

REDEPLOY_RULE = "RedeployRule"
REDEPLOY_FUNCTION = "RedeployFunction"
REDEPLOY_FUNCTION_ROLE = "RedeployFunctionRole"
REDEPLOY_LOG_GROUP = "RedeployLogGroup"
INVOKE_PERMISSION = "RedeployInvokePermission"
CODE_DIR = "functions/redeploy"
RUNTIME = "python3.13"
TIMEOUT_SECONDS = 60

# trigger → detail-type of the event it reacts to
TRIGGERS = {"replication": "ECR Replication Action", "cloudtrail": "AWS API Call via CloudTrail", "push": "ECR Image Action"}
# What each trigger needs to fire at all, in the words of the error when none is chosen.
TRIGGER_NEEDS = {
    "replication": "ECR's replication event, sent in the Region an image is replicated INTO (never fires without replication "
                   "configured towards this Region and account)",
    "cloudtrail": "ReplicateImage through CloudTrail (needs a trail logging management events)",
    "push": "a completed push to the repository in this Region",
}
# image_update → how the new image reaches the service
IMAGE_UPDATES = ("force", "digest")
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html
REPOSITORY_NAME = re.compile(r"^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ECS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")  # cluster and service names, task definition families
# An IAM role name, optionally with its path: path/name (IAM: name [\w+=,.@-]{1,64}, path segments alike).
ROLE_NAME = re.compile(r"^(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
MAX_FUNCTION_RETRIES = 2  # Lambda's limit for asynchronous invocations
EVENT_PATTERN_QUOTA = 2048  # EventBridge's default quota for one rule's pattern, in characters
ENVIRONMENT_QUOTA = 4096  # Lambda's limit for all environment variables together, in bytes


@dataclass(frozen=True, kw_only=True)
class EcsService(OptionTable):
    """One ECS service in the stack's account and Region."""

    cluster: str = option(doc="the cluster's name")
    service: str = option(doc="the service's name")
    family: str | None = option(None, doc='with image_update = "digest": the family of the service\'s task definition (the '
                                          "function registers revisions of it)", by_default="none")
    roles: tuple[str, ...] = option((), doc='with image_update = "digest": the names (with path, if any) of the roles the service\'s '
                                            "task definition passes (execution and task role), which the function may pass to ECS",
                                    by_default="none")

    def __post_init__(self):
        for name in ("cluster", "service"):
            if not ECS_NAME.match(getattr(self, name)):
                raise UserError(f"{getattr(self, name)!r} is not an ECS {name} name; allowed: up to 255 letters, digits, - and _", field=name)
        if self.family is not None and not ECS_NAME.match(self.family):
            raise UserError(f"{self.family!r} is not a task definition family; allowed: up to 255 letters, digits, - and _", field="family")
        for role in self.roles:
            if role.startswith("arn:") or not ROLE_NAME.match(role):
                raise UserError(f"{role!r} is not an IAM role name; allowed: the role's name, with its path if any "
                                "(e.g. ecsTaskExecutionRole or service-role/api-task), not an ARN", field="roles")
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class Options(DeliveryOptions, AlertOptions):
    """retry_attempts, max_event_age_seconds: the rule's delivery to the function. dead_letter_queue:
    one queue receives both undeliverable events and runs that failed after their retries. alerts:
    alarms on the function's Errors, DestinationDeliveryFailures and AsyncEventsDropped, the rules'
    FailedInvocations and the dead-letter queue's depth, and a rule on failed deployments of the
    mapped services, publish to it."""

    services: dict[str, tuple[EcsService, ...]] = option(
        doc="ECR repository name → the services to redeploy (each a cluster and a service)",
        example={"testrepo": [{"cluster": "main", "service": "api"}]})
    # No default: `replication` silently never fires without ECR replication into this Region.
    trigger: str = option(doc="the event that redeploys: " + "; ".join(f"{name} ({needs})" for name, needs in TRIGGER_NEEDS.items()),
                          example="push", allowed="; ".join(f"{name} ({needs})" for name, needs in TRIGGER_NEEDS.items()))
    image_update: str = option("force", doc="how the new image reaches the service: force (UpdateService with forceNewDeployment: "
                                            "the new image runs only if the task definition names a mutable tag the image was "
                                            "pushed under, e.g. latest) or digest (a new revision of the service's task definition "
                                            "naming the pushed image by digest; each service then needs family and roles; not "
                                            "with trigger = cloudtrail, whose event has no digest)",
                               by_default="force")
    tag_filter: tuple[str, ...] = option((), doc='image tags that redeploy; a trailing * makes a prefix ("release-*")',
                                         by_default="every tag")
    dry_run: bool = option(False, doc="only log what would be redeployed", by_default="false: services are redeployed")
    log_retention_days: int = option(30, doc="retention of the function's log group, in days (a CloudWatch Logs value)",
                                     by_default="30 days")
    function_retry_attempts: int = option(MAX_FUNCTION_RETRIES, doc=f"Lambda's retries of a failed run, 0 to {MAX_FUNCTION_RETRIES}",
                                          by_default=f"{MAX_FUNCTION_RETRIES} retries")

    def __post_init__(self):
        super().__post_init__()
        if not self.services:
            raise UserError("map at least one repository to its services", field="services")
        for repository, targets in self.services.items():
            if not REPOSITORY_NAME.match(repository):
                raise UserError(f"{repository!r} is not an ECR repository name (lowercase, digits, . _ - and / between parts)", field="services")
            if not targets:
                raise UserError("list at least one { cluster, service }", field=f"services.{repository}")
            if len(set(targets)) != len(targets):
                raise UserError("a service is listed twice", field=f"services.{repository}")
        if self.trigger not in TRIGGERS:
            raise UserError(f"{self.trigger!r} is not a trigger{did_you_mean(self.trigger, TRIGGERS)}; allowed: "
                            + "; ".join(f"{name} ({needs})" for name, needs in TRIGGER_NEEDS.items()), field="trigger")
        if self.image_update not in IMAGE_UPDATES:
            raise UserError(f"{self.image_update!r} is not allowed{did_you_mean(self.image_update, IMAGE_UPDATES)}; allowed: "
                            "force (restart with the task definition as it is), digest (a new revision naming the pushed image by digest)",
                            field="image_update")
        self._check_image_update()
        for entry in self.tag_filter:
            if not IMAGE_TAG.match(entry.removesuffix("*")):
                raise UserError(f"{entry!r} is not an image tag or a tag prefix ending in *", field="tag_filter")
        if self.tag_filter and self.trigger == "cloudtrail":
            raise UserError("the CloudTrail ReplicateImage event carries no image tag, so it cannot be filtered by tag; "
                            "use trigger = \"replication\" or \"push\", or drop tag_filter", field="tag_filter")
        validate_retention_days(self.log_retention_days)
        if not 0 <= self.function_retry_attempts <= MAX_FUNCTION_RETRIES:
            raise UserError(f"{self.function_retry_attempts} is out of range; allowed: 0 to {MAX_FUNCTION_RETRIES}", field="function_retry_attempts")
        if len(_compact(event_pattern(self))) > EVENT_PATTERN_QUOTA:
            raise UserError(f"the event pattern for these repositories is over EventBridge's {EVENT_PATTERN_QUOTA}-character quota; split them over several stacks", field="services")
        if sum(len(k) + len(v) for k, v in function_environment(self).items()) > ENVIRONMENT_QUOTA:
            raise UserError(f"the service mapping is over Lambda's {ENVIRONMENT_QUOTA}-byte environment limit; split it over several stacks", field="services")


    def _check_image_update(self) -> None:
        if self.image_update == "digest" and self.trigger == "cloudtrail":
            raise UserError("the CloudTrail ReplicateImage event names no image digest; allowed with trigger = \"cloudtrail\": "
                            "image_update = \"force\"", field="image_update")
        for repository, targets in self.services.items():
            for target in targets:
                where = f"services.{repository}"
                if self.image_update == "digest" and (target.family is None or not target.roles):
                    raise UserError(f"{target.cluster}/{target.service}: with image_update = \"digest\" each service needs family (its task "
                                    "definition family, whose revisions the function registers) and roles (the execution and task roles its "
                                    "task definition passes), e.g. { cluster = \"main\", service = \"api\", family = \"api\", roles = "
                                    "[\"ecsTaskExecutionRole\", \"api-task\"] }", field=where)
                if self.image_update == "force" and (target.family is not None or target.roles):
                    raise UserError(f"{target.cluster}/{target.service}: family and roles apply only with image_update = \"digest\"", field=where)


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def event_pattern(options: Options) -> dict:
    """The rule's pattern: only successful image events of the mapped repositories.

    No intrinsic functions inside, so the pattern can be evaluated offline (generator test-event).
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html
    """
    repositories = sorted(options.services)
    if options.trigger == "cloudtrail":
        # ReplicateImage names the repository only in detail.resources[].ARN. The rule sees this
        # account's events in this Region, so matching the ARN's `:repository/<name>` end suffices.
        detail = {
            "eventSource": ["ecr.amazonaws.com"],
            "eventName": ["ReplicateImage"],
            "errorCode": [{"exists": False}],
            "resources": {"ARN": [{"suffix": f":repository/{name}"} for name in repositories]},
        }
    else:
        detail = {"result": ["SUCCESS"], "repository-name": repositories}
        if options.trigger == "push":
            detail["action-type"] = ["PUSH"]
        if options.tag_filter:
            detail["image-tag"] = [{"prefix": t[:-1]} if t.endswith("*") else t for t in options.tag_filter]
    return {"source": ["aws.ecr"], "detail-type": [TRIGGERS[options.trigger]], "detail": detail}


def function_environment(options: Options) -> dict[str, str]:
    """What the handler reads (see generator/aws/functions/redeploy/app.py)."""
    services = {repo: [{"cluster": s.cluster, "service": s.service} for s in targets] for repo, targets in options.services.items()}
    if options.image_update == "digest":
        services = {repo: [{"cluster": s.cluster, "service": s.service, "family": s.family} for s in targets]
                    for repo, targets in options.services.items()}
    return {
        "SERVICES": _compact(services),
        "TAG_FILTER": _compact(list(options.tag_filter)),
        "DRY_RUN": "true" if options.dry_run else "false",
        "IMAGE_UPDATE": options.image_update,
    }


def service_arns(options: Options) -> list:
    """Each mapped service's ARN once (the long ARN format, service/<cluster>/<service>)."""
    pairs = sorted({(s.cluster, s.service) for targets in options.services.values() for s in targets})
    return [arn("ecs", f"service/{cluster}/{service}") for cluster, service in pairs]


def function_statements(options: Options, log_group, dead_letter_queue) -> list[Statement]:
    """Logs to its own log group and UpdateService on each mapped service once. With image_update =
    "digest" also: DescribeServices on those services (their current task definition),
    DescribeTaskDefinition (no resource-level permissions: "*"), RegisterTaskDefinition on the mapped
    families only, and PassRole on the listed roles to ECS tasks only.
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html"""
    statements = [
        Statement(Sid="WriteOwnLogs", Effect=Allow, Action=[awacs.logs.CreateLogStream, awacs.logs.PutLogEvents],
                  Resource=[GetAtt(log_group, "Arn")]),
        Statement(Sid="RedeployMappedServices", Effect=Allow,
                  Action=[awacs.ecs.UpdateService] + ([awacs.ecs.DescribeServices] if options.image_update == "digest" else []),
                  Resource=service_arns(options)),
    ]
    if options.image_update == "digest":
        targets = [s for targets in options.services.values() for s in targets]
        families = sorted({s.family for s in targets})
        roles = sorted({role for s in targets for role in s.roles})
        statements += [
            Statement(Sid="ReadTaskDefinitions", Effect=Allow, Action=[awacs.ecs.DescribeTaskDefinition], Resource=["*"]),
            Statement(Sid="RegisterMappedFamilies", Effect=Allow, Action=[awacs.ecs.RegisterTaskDefinition],
                      Resource=[arn("ecs", f"task-definition/{family}:*") for family in families]),
            iam.pass_role_statement([arn("iam", f"role/{role}", region=False) for role in roles]),
        ]
    if dead_letter_queue is not None:  # the on-failure destination: Lambda sends with the function's role
        statements.append(iam.send_message_statement(GetAtt(dead_letter_queue, "Arn")))
    return statements


def build(options: Options, stack: StackContext) -> Rendered:
    template = Template()
    template.set_transform("AWS::Serverless-2016-10-31")
    dead_letter_queue = add_dead_letter_queue(template) if options.dead_letter_queue else None
    log_group = template.add_resource(logs.LogGroup(REDEPLOY_LOG_GROUP, RetentionInDays=options.log_retention_days,
                                                    Metadata=checkov_skips(skip_reasons.LOG_GROUP_SERVICE_ENCRYPTION)))
    role = template.add_resource(iam.service_role(
        REDEPLOY_FUNCTION_ROLE, service="lambda.amazonaws.com", policy_name="redeploy",
        statements=function_statements(options, log_group, dead_letter_queue),
    ))
    invoke_config = {"MaximumRetryAttempts": options.function_retry_attempts}
    if dead_letter_queue is not None:
        invoke_config["DestinationConfig"] = serverless.DestinationConfiguration(
            OnFailure=serverless.OnFailure(Type="SQS", Destination=GetAtt(dead_letter_queue, "Arn")))
    function = template.add_resource(serverless.Function(
        REDEPLOY_FUNCTION,
        Metadata=checkov_skips(skip_reasons.LAMBDA_NOT_IN_VPC, skip_reasons.LAMBDA_FAILURE_DESTINATION,
                               skip_reasons.LAMBDA_NO_RESERVED_CONCURRENCY, skip_reasons.LAMBDA_ENVIRONMENT_NOT_SECRET),
        Description=f"{stack.name}: force a new deployment of the mapped ECS services",
        CodeUri=f"{CODE_DIR}/",
        Handler="app.handler",
        Runtime=RUNTIME,
        Timeout=TIMEOUT_SECONDS,
        Role=GetAtt(role, "Arn"),  # our least-privilege role: the SAM transform creates none
        Environment=awslambda.Environment(Variables=function_environment(options)),
        # The function logs to this stack's log group (with retention) whatever CloudFormation names it,
        # so no FunctionName is set: `<stack>-<env>-redeploy` could pass Lambda's 64-character limit.
        # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html
        LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_group)),
        EventInvokeConfig=serverless.EventInvokeConfiguration(**invoke_config),
    ))
    repositories = ", ".join(sorted(options.services))
    if len(repositories) > 400:  # a rule's Description takes at most 512 characters
        repositories = f"{len(options.services)} repositories"
    rule = template.add_resource(events.Rule(
        REDEPLOY_RULE,
        Description=f"{stack.name}: {TRIGGERS[options.trigger]} for {repositories}",
        EventPattern=event_pattern(options),
        State="ENABLED",
        Targets=[rule_target(REDEPLOY_FUNCTION, GetAtt(function, "Arn"), options, dead_letter_queue=dead_letter_queue)],
    ))
    template.add_resource(awslambda.Permission(
        INVOKE_PERMISSION, Action="lambda:InvokeFunction", FunctionName=GetAtt(function, "Arn"),
        Principal="events.amazonaws.com", SourceArn=GetAtt(rule, "Arn"),
    ))
    outputs = [("RedeployFunctionName", "The redeploy function", Ref(function)),
               ("RedeployLogGroupName", "The function's JSON log lines", Ref(log_group)),
               ("RedeployRuleArn", "The EventBridge rule", GetAtt(rule, "Arn"))]
    if dead_letter_queue is not None:
        allow_rule_to_send(template, dead_letter_queue, GetAtt(rule, "Arn"))
        outputs.insert(0, ("DeadLetterQueueUrl", "Undelivered events and failed redeploys land here", Ref(dead_letter_queue)))
    for name, description, value in outputs:
        template.add_output(Output(name, Description=description, Value=value))
    # No ECS task starts here (the service's scheduler starts the new tasks), so no task-stopped rule:
    # the alarms are on the rule's delivery, the function's errors and lost events, the dead-letter
    # queue; and a rule hears whether the rollout then fails: failed deployments of the mapped
    # services (ECS reports them for services with the deployment circuit breaker on).
    add_alerts(template, None, options, stack_name=stack.name, rule=rule, dead_letter_queue=dead_letter_queue,
               function_name=Ref(function), service_arns=service_arns(options))
    # The handler ships inside the generator package (one source of truth) and is copied beside the template.
    handler = (resources.files("generator.aws") / CODE_DIR / "app.py").read_text(encoding="utf-8")
    return Rendered(template, files={f"{CODE_DIR}/app.py": handler}, summary=summary(options), notes=notes(options))


def summary(options: Options) -> str:
    mapping = "; ".join(f"`{repo}` → " + ", ".join(f"`{s.cluster}/{s.service}`" for s in targets)
                        for repo, targets in sorted(options.services.items()))
    tags = f" with an image tag in {', '.join(f'`{t}`' for t in options.tag_filter)} (`*` ends a prefix)" if options.tag_filter else ""
    how = ("registers a new revision of the service's task definition naming the pushed image by digest and updates the service to it, "
           "for exactly the mapped ECS services" if options.image_update == "digest" else
           "forces a new deployment of exactly the mapped ECS services")
    return f"On `{TRIGGERS[options.trigger]}`{tags}, an AWS SAM Python function (`{CODE_DIR}/app.py`) {how}: {mapping}."


def notes(options: Options) -> list[str]:
    found = []
    if options.trigger == "replication":
        found.append("Trigger `replication`: ECR sends `ECR Replication Action` in the Region (and account) an image is replicated "
                     "into; without ECR replication configured towards this Region nothing ever triggers a redeploy (for images "
                     "pushed in this Region use `trigger = \"push\"`).")
    if options.trigger == "cloudtrail":
        found.append("Needs CloudTrail: `AWS API Call via CloudTrail` events reach EventBridge only while a trail logs "
                     "management events in this account and Region. Trigger `replication` (ECR's native event) needs none.")
    if options.image_update == "force":
        found.append("`image_update = \"force\"`: a forced deployment starts tasks from the service's current task definition, "
                     "so the new image runs only if that task definition names a mutable tag the image was pushed under "
                     "(e.g. `latest`); with immutable tags it restarts the old image. `image_update = \"digest\"` registers a "
                     "revision naming the pushed image by digest instead.")
    else:
        found.append("`image_update = \"digest\"`: each redeploy registers a revision of the service's task definition "
                     "(its family must be the mapped `family`; the roles it passes must be among the mapped `roles`) whose "
                     "containers from the repository name the image by digest; the task definition's tags are not copied "
                     "to the new revision.")
    if options.dry_run:
        found.append("Dry run: the function only logs which services it would redeploy.")
    found.append(_failure_note(options))
    return found


def _failure_note(options: Options) -> str:
    queued = ("events the rule cannot deliver, and runs that still fail after Lambda's retries, land in the SQS "
              "queue `DeadLetterQueueUrl`")
    if options.alerts == "off":
        return f"No alerts (`alerts = \"off\"`): {queued}, which nothing watches; a failed rollout is not watched either."
    topic = "the `AlertTopic` SNS topic (e-mailed to `AlertEmail` if set)" if options.alerts == "topic" else "the SNS topic `AlertTopicArn`"
    watched = ["the function's `Errors`, `DestinationDeliveryFailures` and `AsyncEventsDropped`",
               "the rules' `FailedInvocations`"] + (["the queue's depth"] if options.dead_letter_queue else [])
    start = (f"Failures are never silent: {queued}, and" if options.dead_letter_queue else
             "No dead-letter queue: an event that still fails after its retries is dropped, but")
    return (f"{start} CloudWatch alarms on {', '.join(watched[:-1])} and {watched[-1]} publish to {topic}. "
            "A failed rollout of a mapped service (`ECS Deployment State Change` `SERVICE_DEPLOYMENT_FAILED`) is alerted "
            "only if the service's deployment circuit breaker is on; without it a rollout that never becomes healthy is not watched.")
