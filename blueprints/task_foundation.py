"""ECS task foundation: the cluster, Fargate task definition, log group and roles the trigger stacks
start, exported as `${AWS::StackName}-ClusterArn`, `-TaskFamily`, `-ExecutionRoleArn`, `-TaskRoleArn`
and `-LogGroup` for their `import_from`.

The image is a parameter (ImageTag with `image_repository`, else ImageUri): deploying a new tag
changes the container definition, so CloudFormation registers a new revision of the family, which
is what RunTask on the family then starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from awacs.aws import Action, Allow, Statement
import awacs.ecr
import awacs.logs
import awacs.secretsmanager
import awacs.ssm
from troposphere import Export, GetAtt, Output, Parameter, Ref, Sub, Template
from troposphere import ecs, iam as cfn_iam, logs

from generator.aws import iam
from generator.aws.arns import arn, is_wildcard_resource
from generator.aws import checkov_skips as skip_reasons
from generator.aws.checkov_skips import checkov_skips
from generator.core.contract import BlueprintOptions, Rendered, StackContext
from generator.aws.ecs_task import ENV_NAME, TASK_FOUNDATION
from generator.core.errors import UserError
from generator.core.options import OptionTable, did_you_mean, option
from generator.aws.log_groups import validate_retention_days
from generator.aws.capacity import FARGATE, FARGATE_PROVIDERS, FARGATE_SPOT
from generator.aws.fargate import NEEDS_PLATFORM_1_4, validate_task_size
from generator.aws.parameters import TASK_FAMILY_PATTERN

DESCRIPTION = "ECS cluster, Fargate task definition (image tag from a parameter), log group and roles, exported for import_from"
PROVIDES = frozenset({TASK_FOUNDATION})  # its exports are what `import_from` imports (ecs_task.FOUNDATION_EXPORTS)

CLUSTER, TASK_DEFINITION, LOG_GROUP = "Cluster", "TaskDefinition", "LogGroup"
CAPACITY_PROVIDERS = "ClusterCapacityProviders"
EPHEMERAL_STORAGE_GIB = (21, 200)  # Fargate: "minimum supported value is 21 GiB and the maximum ... 200 GiB"
STOP_TIMEOUT_SECONDS = (2, 120)    # Fargate: "The valid values for Fargate are 2-120 seconds"
# ECS Ulimit names: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Ulimit.html
ULIMIT_NAMES = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio",
                "rttime", "sigpending", "stack")
EXECUTION_ROLE, TASK_ROLE = "ExecutionRole", "TaskRole"
IMAGE_URI, IMAGE_TAG = "ImageUri", "ImageTag"
CPU_ARCHITECTURES = ("X86_64", "ARM64")
_ARN_HEAD = r"^arn:(?:aws[a-z-]*|\{partition\}):SERVICE:(?:[a-z0-9-]+|\{region\}):(?:\d{12}|\{account_id\}):"
SSM_PARAMETER_ARN = re.compile(_ARN_HEAD.replace("SERVICE", "ssm") + r"parameter/[A-Za-z0-9_.\-/]+$")
# A secret ARN, optionally followed by :json-key:version-stage:version-id (ECS `valueFrom` syntax).
SECRET_ARN = re.compile("(" + _ARN_HEAD.replace("SERVICE", "secretsmanager") + r"secret:[A-Za-z0-9/_+=.@-]+)(?::[^:]*:[^:]*:[^:]*)?$")
FULL_SECRET_NAME = re.compile(r"-[A-Za-z0-9]{6}$")  # Secrets Manager appends -<6 random characters>
REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
# ARNs in options may name the stack's own partition, Region and account with these tokens, so one
# manifest serves accounts; `${AWS::…}` itself is not accepted in options because it would be
# copied into the template's Description and Metadata, where CloudFormation does not substitute it.
ARN_TOKENS = {"{partition}": "${AWS::Partition}", "{region}": "${AWS::Region}", "{account_id}": "${AWS::AccountId}"}


def _value(text: str):
    """An option's ARN as a template value: an Fn::Sub when it uses {partition}/{region}/{account_id}."""
    substituted = text
    for token, pseudo in ARN_TOKENS.items():
        substituted = substituted.replace(token, pseudo)
    return Sub(substituted) if substituted != text else text


def _check_arn_text(text: str, *, field: str) -> None:
    if "${" in text:
        raise UserError(f"{text!r}: write {', '.join(ARN_TOKENS)} instead of ${{AWS::…}}", field=field)


def secret_arn(value: str) -> str:
    """`ssm:/name` is shorthand for the SSM parameter of that name in the stack's account and Region."""
    if value.startswith("ssm:"):
        return "arn:{partition}:ssm:{region}:{account_id}:parameter/" + value[len("ssm:"):].lstrip("/")
    return value


@dataclass(frozen=True, kw_only=True)
class TaskRoleStatement(OptionTable):
    """One Allow statement for the task role."""

    actions: tuple[str, ...] = option(doc='IAM actions such as "s3:GetObject" (no service:* wildcards)')
    resources: tuple[str, ...] = option(doc="ARNs, which may use {partition}, {region} and {account_id} for the stack's own")

    def __post_init__(self):
        if not self.actions or not self.resources:
            raise UserError("a statement needs at least one action and one resource", field="actions" if not self.actions else "resources")
        for action in self.actions:
            if not IAM_ACTION.match(action) or set(action.split(":", 1)[1]) == {"*"}:
                raise UserError(f"{action!r} is not allowed; name actions like s3:GetObject (no service:* wildcards)", field="actions")
        for resource in self.resources:
            _check_arn_text(resource, field="resources")
        # the lint rule E9003's own tests, so render and lint agree
        wide = [resource for resource in self.resources if is_wildcard_resource(resource)]
        if wide and not all(iam.is_star_only_action(action) for action in self.actions):
            raise UserError(f'{wide[0]!r} covers every resource of the service (like "*"), which is only allowed for actions '
                            "without resource-level permissions; name the ARNs", field="resources")
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class Ulimit(OptionTable):
    """One container ulimit (soft <= hard)."""

    name: str = option(doc=f"the limit's name: {', '.join(ULIMIT_NAMES)}")
    soft: int = option(doc="the soft limit")
    hard: int = option(doc="the hard limit")

    def __post_init__(self):
        if self.name not in ULIMIT_NAMES:
            raise UserError(f"{self.name!r} is not a ulimit{did_you_mean(self.name, ULIMIT_NAMES)}; allowed: {', '.join(ULIMIT_NAMES)}",
                            field="name")
        if not 0 <= self.soft <= self.hard:
            raise UserError(f"soft {self.soft} and hard {self.hard}: the soft limit must be from 0 to the hard limit", field="soft")
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class Options(BlueprintOptions):
    container_name: str = option("app", doc="the container's name", by_default="app")
    family: str | None = option(None, doc="the task definition family (letters, digits, - and _)",
                                by_default="the CloudFormation stack's name (one family per environment)")
    cpu: int = option(256, doc="Fargate CPU units, checked with memory against Fargate's table", by_default="256 (.25 vCPU)")
    memory: int = option(512, doc="Fargate memory in MiB", by_default="512")
    cpu_architecture: str = option("X86_64", doc="X86_64 or ARM64", by_default="X86_64")
    image_repository: str | None = option(None, doc="an ECR repository in the stack's account and Region, pulled with tag "
                                                    "parameter ImageTag (the execution role may pull from it)",
                                          by_default="parameter ImageUri names the whole image; the execution role gets no ECR permissions")
    command: tuple[str, ...] = option((), doc="the container's command", by_default="the image's")
    environment: dict[str, str] = option(doc="the container's environment variables", default_factory=dict, by_default="none")
    secrets: dict[str, str] = option(doc="variable name → `ssm:/<parameter name>` (the stack's account and Region), an SSM "
                                         "parameter ARN or a Secrets Manager secret ARN (ARNs may use {partition}, {region}, "
                                         "{account_id}); the execution role may read exactly these (a customer managed KMS key "
                                         "also needs kms:Decrypt, not granted here)",
                                     default_factory=dict, by_default="none")
    log_retention_days: int = option(30, doc="retention of the log group, in days (a CloudWatch Logs value)", by_default="30 days")
    container_insights: bool = option(False, doc="CloudWatch Container Insights on the cluster", by_default="off")
    task_role_statements: tuple[TaskRoleStatement, ...] = option(
        (), doc='Allow statements of the task role, e.g. [{ actions = ["s3:GetObject"], resources = ["arn:{partition}:s3:::bucket/*"] }]',
        by_default="the task role allows nothing")
    capacity_providers: tuple[str, ...] = option(
        (), doc="FARGATE and/or FARGATE_SPOT: associated with the cluster, so jobs may use a capacity provider strategy (the "
                "cluster's default strategy is FARGATE when associated, else FARGATE_SPOT)",
        by_default="none: tasks start with launch type FARGATE only")
    ephemeral_storage_gib: int | None = option(None, doc="the task's ephemeral storage, 21-200 GiB", by_default="Fargate's 20 GiB")
    readonly_root_filesystem: bool = option(False, doc="a read-only root file system for the container", by_default="false")
    stop_timeout: int | None = option(None, doc="2-120 seconds between SIGTERM and SIGKILL", by_default="30 seconds")
    ulimits: tuple[Ulimit, ...] = option((), doc='the container\'s ulimits, e.g. [{ name = "nofile", soft = 1024, hard = 4096 }]',
                                         by_default="none")
    init_process_enabled: bool = option(False, doc="run an init process in the container that forwards signals and reaps child "
                                                   "processes", by_default="false")

    def __post_init__(self):
        super().__post_init__()
        if not re.match(r"^[A-Za-z0-9_-]{1,255}$", self.container_name):
            raise UserError(f"{self.container_name!r} is not a container name (letters, digits, - and _)", field="container_name")
        if self.family is not None and not re.match(TASK_FAMILY_PATTERN, self.family):
            raise UserError(f"{self.family!r} is not a task definition family (letters, digits, - and _, no :revision)", field="family")
        validate_task_size(self.cpu, self.memory)
        if self.cpu_architecture not in CPU_ARCHITECTURES:
            raise UserError(f"{self.cpu_architecture!r} is not allowed; allowed: {', '.join(CPU_ARCHITECTURES)}", field="cpu_architecture")
        if self.image_repository is not None and not REPOSITORY_NAME.match(self.image_repository):
            raise UserError(f"{self.image_repository!r} is not an ECR repository name", field="image_repository")
        for name in (*self.environment, *self.secrets):
            if not ENV_NAME.match(name):
                raise UserError(f"{name!r} is not a valid environment variable name", field="secrets" if name in self.secrets else "environment")
        both = sorted(set(self.environment) & set(self.secrets))
        if both:
            raise UserError(f"{both[0]!r} is set both in environment and in secrets", field="secrets")
        for name, value in self.secrets.items():
            _check_arn_text(value, field=f"secrets.{name}")
            if not (SSM_PARAMETER_ARN.match(secret_arn(value)) or SECRET_ARN.match(value)):
                raise UserError(f"{value!r} is not ssm:/<parameter name>, an SSM parameter ARN or a Secrets Manager secret ARN "
                                "(arn:…:secretsmanager:<region>:<account>:secret:<name>)", field=f"secrets.{name}")
        validate_retention_days(self.log_retention_days)
        for provider in self.capacity_providers:
            if provider not in FARGATE_PROVIDERS:
                raise UserError(f"{provider!r} is not a Fargate capacity provider{did_you_mean(provider, FARGATE_PROVIDERS)}; "
                                f"allowed: {', '.join(FARGATE_PROVIDERS)}", field="capacity_providers")
        if len(set(self.capacity_providers)) != len(self.capacity_providers):
            raise UserError("a capacity provider is listed twice", field="capacity_providers")
        if FARGATE_SPOT in self.capacity_providers and self.cpu_architecture == "ARM64":
            raise UserError("Fargate Spot runs X86_64 tasks only and this family is ARM64; drop FARGATE_SPOT or use X86_64",
                            field="capacity_providers")
        for name, (low, high), unit in (("ephemeral_storage_gib", EPHEMERAL_STORAGE_GIB, "GiB"), ("stop_timeout", STOP_TIMEOUT_SECONDS, "s")):
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise UserError(f"{value} is out of range; allowed: {low} to {high} ({unit}, Fargate's limits)", field=name)
        names = [limit.name for limit in self.ulimits]
        if len(set(names)) != len(names):
            raise UserError("a ulimit is listed twice", field="ulimits")

    @property
    def minimum_platform_version(self) -> tuple[tuple[int, ...], str] | None:
        """The oldest Fargate platform version a task of this family runs on, and why (None: any)."""
        if self.cpu in NEEDS_PLATFORM_1_4:
            return (1, 4, 0), f"its {self.cpu // 1024} vCPU size"
        if self.ephemeral_storage_gib is not None:
            return (1, 4, 0), "its ephemeral_storage_gib"
        if self.stop_timeout is not None:
            return (1, 3, 0), "its stop_timeout"
        return None


def _secret_statements(secrets: dict[str, str]) -> list[Statement]:
    """Read exactly the listed secrets (ECS fetches them with the execution role at task start)."""
    ssm = [_value(secret_arn(v)) for v in secrets.values() if SSM_PARAMETER_ARN.match(secret_arn(v))]
    managed = []
    for value in secrets.values():
        if match := SECRET_ARN.match(value):
            arn_text = match.group(1)
            # A partial ARN (no -XXXXXX suffix) needs the wildcard AWS documents for it.
            managed.append(_value(arn_text if FULL_SECRET_NAME.search(arn_text) else f"{arn_text}-??????"))
    statements = []
    if ssm:
        statements.append(Statement(Sid="ReadTaskSecretsFromSsm", Effect=Allow, Action=[awacs.ssm.GetParameters], Resource=ssm))
    if managed:
        statements.append(Statement(Sid="ReadTaskSecretsFromSecretsManager", Effect=Allow,
                                    Action=[awacs.secretsmanager.GetSecretValue], Resource=managed))
    return statements


def build(options: Options, stack: StackContext) -> Rendered:
    template = Template()
    if options.image_repository:
        tag = template.add_parameter(Parameter(
            IMAGE_TAG, Type="String", Description=f"Tag of the image in ECR repository {options.image_repository}; a new tag registers a new task definition revision",
            AllowedPattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", ConstraintDescription="an image tag: letters, digits, _ . -, at most 128"))
        image = Sub(f"${{AWS::AccountId}}.dkr.ecr.${{AWS::Region}}.${{AWS::URLSuffix}}/{options.image_repository}:${{{tag.title}}}")
    else:
        image = Ref(template.add_parameter(Parameter(
            IMAGE_URI, Type="String", Description="Image with a tag or digest (registry/repository:tag); a new value registers a new task definition revision",
            AllowedPattern=r"^[^\s@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$",
            ConstraintDescription="an image reference ending in :tag or @sha256:digest")))

    log_group = template.add_resource(logs.LogGroup(LOG_GROUP, LogGroupName=Sub("/ecs/${AWS::StackName}"), RetentionInDays=options.log_retention_days,
                                                    Metadata=checkov_skips(skip_reasons.LOG_GROUP_SERVICE_ENCRYPTION)))
    execution_statements = []
    if options.image_repository:
        execution_statements += [
            # An ECR registry token is account-wide: no resource-level permission exists for it.
            Statement(Sid="GetRegistryToken", Effect=Allow, Action=[awacs.ecr.GetAuthorizationToken], Resource=["*"]),
            Statement(Sid="PullImage", Effect=Allow,
                      Action=[awacs.ecr.BatchCheckLayerAvailability, awacs.ecr.GetDownloadUrlForLayer, awacs.ecr.BatchGetImage],
                      Resource=[arn("ecr", f"repository/{options.image_repository}")]),
        ]
    execution_statements.append(Statement(
        Sid="WriteTaskLogs", Effect=Allow, Action=[awacs.logs.CreateLogStream, awacs.logs.PutLogEvents],
        Resource=[arn("logs", "log-group:${LogGroup}", LogGroup=Ref(log_group)),
                  arn("logs", "log-group:${LogGroup}:log-stream:*", LogGroup=Ref(log_group))],
    ))
    execution_statements += _secret_statements(options.secrets)
    execution_role = template.add_resource(iam.service_role(
        EXECUTION_ROLE, service="ecs-tasks.amazonaws.com", policy_name="task-execution", statements=execution_statements))

    task_statements = [
        Statement(Effect=Allow, Action=[Action(*a.split(":", 1)) for a in s.actions], Resource=[_value(r) for r in s.resources])
        for s in options.task_role_statements
    ]
    if task_statements:
        task_role = template.add_resource(iam.service_role(TASK_ROLE, service="ecs-tasks.amazonaws.com", policy_name="task", statements=task_statements))
    else:
        task_role = template.add_resource(cfn_iam.Role(TASK_ROLE, AssumeRolePolicyDocument=iam.trust_policy("ecs-tasks.amazonaws.com")))

    cluster = template.add_resource(ecs.Cluster(CLUSTER, ClusterSettings=[
        ecs.ClusterSetting(Name="containerInsights", Value="enabled" if options.container_insights else "disabled")],
        **({} if options.container_insights else {"Metadata": checkov_skips(skip_reasons.CONTAINER_INSIGHTS_OFF)})))
    if options.capacity_providers:
        # Its DefaultCapacityProviderStrategy is required, and used only by a RunTask that names neither
        # a launch type nor a strategy (the jobs always name one).
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-clustercapacityproviderassociations.html
        default = FARGATE if FARGATE in options.capacity_providers else FARGATE_SPOT
        template.add_resource(ecs.ClusterCapacityProviderAssociations(
            CAPACITY_PROVIDERS, Cluster=Ref(cluster), CapacityProviders=list(options.capacity_providers),
            DefaultCapacityProviderStrategy=[ecs.CapacityProviderStrategy(CapacityProvider=default, Weight=1)]))
    family = options.family or Sub("${AWS::StackName}")
    container = {
        "Name": options.container_name, "Image": image, "Essential": True,
        "LogConfiguration": ecs.LogConfiguration(LogDriver="awslogs", Options={
            "awslogs-group": Ref(log_group), "awslogs-region": Ref("AWS::Region"), "awslogs-stream-prefix": options.container_name}),
    }
    if options.command:
        container["Command"] = list(options.command)
    if options.environment:
        container["Environment"] = [ecs.Environment(Name=k, Value=v) for k, v in sorted(options.environment.items())]
    if options.secrets:
        container["Secrets"] = [ecs.Secret(Name=k, ValueFrom=_value(secret_arn(v))) for k, v in sorted(options.secrets.items())]
    if options.readonly_root_filesystem:
        container["ReadonlyRootFilesystem"] = True
    if options.stop_timeout is not None:
        container["StopTimeout"] = options.stop_timeout
    if options.ulimits:
        container["Ulimits"] = [ecs.Ulimit(Name=u.name, SoftLimit=u.soft, HardLimit=u.hard) for u in options.ulimits]
    if options.init_process_enabled:
        container["LinuxParameters"] = ecs.LinuxParameters(InitProcessEnabled=True)
    task_extra = {}
    if options.ephemeral_storage_gib is not None:
        task_extra["EphemeralStorage"] = ecs.EphemeralStorage(SizeInGiB=options.ephemeral_storage_gib)
    task_definition = template.add_resource(ecs.TaskDefinition(
        TASK_DEFINITION, Family=family, Cpu=str(options.cpu), Memory=str(options.memory), NetworkMode="awsvpc",
        RequiresCompatibilities=["FARGATE"],
        RuntimePlatform=ecs.RuntimePlatform(OperatingSystemFamily="LINUX", CpuArchitecture=options.cpu_architecture),
        ExecutionRoleArn=GetAtt(execution_role, "Arn"), TaskRoleArn=GetAtt(task_role, "Arn"),
        ContainerDefinitions=[ecs.ContainerDefinition(**container)], **task_extra,
    ))

    exports = {  # ecs_task.FOUNDATION_EXPORTS (which importing stacks read) and LogGroup
        "ClusterArn": ("The ECS cluster", GetAtt(cluster, "Arn")),
        "TaskFamily": ("Task definition family (RunTask on it starts the latest ACTIVE revision)", family),
        "ExecutionRoleArn": ("Task execution role (image pull, logs, secrets)", GetAtt(execution_role, "Arn")),
        "TaskRoleArn": ("Role the container's code uses", GetAtt(task_role, "Arn")),
        "LogGroup": ("Log group of the container's output", Ref(log_group)),
    }
    for name, (text, value) in exports.items():
        template.add_output(Output(name, Description=text, Value=value, Export=Export(Sub(f"${{AWS::StackName}}-{name}"))))
    template.add_output(Output("TaskDefinitionArn", Description="The current revision", Value=Ref(task_definition)))
    image = f"`{options.image_repository}:<ImageTag>` from ECR" if options.image_repository else "the ImageUri parameter"
    summary = (f"An ECS cluster and Fargate task definition family `{options.family or '<stack name>'}` ({options.cpu} CPU units, "
               f"{options.memory} MiB, {options.cpu_architecture}) running {image}, logging to `/ecs/<stack name>` "
               f"(kept {options.log_retention_days} days), exported as `<stack name>-ClusterArn`, `-TaskFamily`, `-ExecutionRoleArn`, "
               f"`-TaskRoleArn` and `-LogGroup` for stacks that set `import_from = \"{stack.name}\"`.")
    notes = ["A new image tag or URI registers a new task definition revision; triggers run the latest one."]
    if options.minimum_platform_version:
        version, why = options.minimum_platform_version
        notes.append(f"Because of {why}, tasks of this family need Fargate platform version {'.'.join(map(str, version))} or later "
                     "(LATEST) in the stacks that run them.")
    if options.capacity_providers:
        notes.append(f"The cluster has capacity providers {', '.join(f'`{p}`' for p in options.capacity_providers)}, so jobs may set "
                     "`capacity_provider_strategy` (or `spot = true`) with them.")
    if options.stop_timeout is not None:
        notes.append(f"A stopped task's container gets SIGTERM and, {options.stop_timeout} s later, SIGKILL (on Fargate Spot the "
                     "whole task is reclaimed two minutes after the warning).")
    return Rendered(template, summary=summary, notes=notes)
