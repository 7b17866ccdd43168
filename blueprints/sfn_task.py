"""Step Functions → ECS task: a SAM state machine runs a Fargate task with `ecs:runTask.sync` and
its execution fails when the task fails; optionally started by a schedule or by S3 objects.

The ASL is data (generator.aws.step_functions) written beside the template as statemachine/<name>.asl.json
(DefinitionUri); what differs per environment reaches it through DefinitionSubstitutions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from troposphere import GetAtt, Output, Parameter, Ref, Sub, Template
from troposphere import events, stepfunctions

from generator.aws import step_functions as asl
from generator.aws import iam
from generator.aws.alerts import AlertOptions, add_alerts
from generator.aws.arns import arn
from generator.aws.capacity import places_on_spot, strategy_properties
from generator.core.contract import Rendered, StackContext
from generator.aws.delivery import DeliveryOptions, add_dead_letter_queue, allow_rule_to_send
from generator.aws.ecs_task import ENV_NAME, RunTaskOptions, run_task_notes, task_ref
from generator.core.errors import UserError
from generator.core.options import ascii_fullmatch, option
from generator.aws.event_rules import (
    BUCKET_NAME_PATH, OBJECT_KEY_PATH, Placeholder, S3KeyFilter, encoded_key_notes, json_input_transformer, s3_object_created_pattern,
)
from generator.aws.log_groups import validate_retention_days
from generator.aws.schedules import validate_schedule_expression, validate_timezone
from generator.aws.targets import add_schedule, start_execution_statements, state_machine_rule_target, state_machine_schedule_target
from generator.aws.task_tags import task_tag_refs

DESCRIPTION = "Run an ECS Fargate task from a Step Functions state machine (SAM, ecs:runTask.sync: the execution fails when the task fails), optionally on a schedule or S3 upload"

STATE_MACHINE, STATE_MACHINE_ROLE, LOG_GROUP = "StateMachine", "StateMachineRole", "StateMachineLogGroup"
START_ROLE, SCHEDULE_RULE, S3_RULE, BUCKET_NAME = "StartExecutionRole", "ScheduleRule", "ObjectCreatedRule", "BucketName"
LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what state machine logging allows in a name
MAX_STATE_MACHINE_NAME = 80  # Step Functions: a state machine name is 1-80 characters
MAX_SECONDS = 31_536_000  # a Standard workflow runs at most one year
PLACEHOLDER_START = "${"
BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


@dataclass(frozen=True, kw_only=True)
class S3Trigger(S3KeyFilter):
    """Objects created in the bucket named by the BucketName parameter (an existing bucket whose
    EventBridge notifications are on) start an execution, filtered as in s3_object_task (filters
    compared with the URL-encoded key)."""

    bucket_env_var: str = option("S3_BUCKET", doc="container environment variable that receives the bucket name", by_default="S3_BUCKET")
    key_env_var: str = option("OBJECT_KEY", doc="container environment variable that receives the object key, URL-encoded as S3 "
                                                "sends it", by_default="OBJECT_KEY")

    def __post_init__(self):
        super().__post_init__()
        for name in ("bucket_env_var", "key_env_var"):
            if not ascii_fullmatch(ENV_NAME, getattr(self, name)):
                raise UserError(f"{getattr(self, name)!r} is not a valid environment variable name", field=name)
        if self.bucket_env_var == self.key_env_var:
            raise UserError("must differ from bucket_env_var", field="key_env_var")


@dataclass(frozen=True, kw_only=True)
class Options(RunTaskOptions, DeliveryOptions, AlertOptions):
    """retry_attempts, max_event_age_seconds and dead_letter_queue apply to the trigger (schedule or s3),
    if any. concurrency = 1: an execution that starts while an earlier one is still running does nothing."""

    name: str | None = option(None, doc="letters, digits, - and _: the state machine is `<stack>-<env>-<name>` (at most 80 characters "
                                        "in every environment) and its ASL file `<name>.asl.json`",
                              by_default="the state machine is `<stack>-<env>`, the ASL file named after the stack")
    wait: bool = option(True, doc="wait for the task to stop (ecs:runTask.sync): the execution fails when the task fails",
                        by_default="true (false only starts the task, ecs:runTask)")
    input_overrides: bool = option(False, doc="let the execution input set `command`, and `environment.<NAME>` for the names in "
                                              "`environment`, each falling back to the option",
                                   by_default="false: the input is ignored")
    timeout_seconds: int | None = option(None, doc="the limit of each attempt of the task, in seconds (every retry gets it again; "
                                                   "past it the attempt fails with States.Timeout, which is never retried)",
                                         by_default="no time limit")
    execution_timeout_seconds: int | None = option(None, doc="the limit of the whole execution, retries included, in seconds "
                                                             "(top-level TimeoutSeconds: the execution then ends TIMED_OUT)",
                                                   by_default="no limit but Step Functions' one year")
    ecs_retry_attempts: int = option(3, doc="retries of throttling and capacity errors from ECS", by_default="3")
    ecs_retry_interval_seconds: int = option(10, doc="seconds before the first of those retries", by_default="10")
    # The options are recorded in the template's Metadata, where cfn-lint (E4002) allows no
    # fractional number: __post_init__ keeps a fractional rate as its decimal text; `backoff_rate`
    # is the number the definition gets.
    ecs_retry_backoff_rate: float = option(2, doc="multiplier of the interval at each retry, a number from 1.0 (e.g. 1.5)",
                                           by_default="2")
    task_failure_retry_attempts: int = option(0, doc="re-run the task up to this many times after any error but a timeout "
                                                     "(States.TaskFailed in a retrier matches every error except States.Timeout, "
                                                     "so permanent ones such as ECS.AccessDeniedException are retried too)",
                                              by_default="0: a failed task is not run again")
    log_level: str = option("ERROR", doc="execution logging: ALL, ERROR, FATAL or OFF", by_default="ERROR")
    log_execution_data: bool = option(False, doc="include execution input and output in the logs",
                                      by_default="false: only the events are logged")
    log_retention_days: int = option(30, doc="retention of the state machine's log group, in days (a CloudWatch Logs value)",
                                     by_default="30 days")
    tracing: bool = option(False, doc="X-Ray tracing", by_default="off")
    schedule: str | None = option(None, doc="start an execution on this cron(…) or rate(…) schedule (not with s3)",
                                  by_default="no schedule: started through the Step Functions API or console")
    timezone: str | None = option(None, doc="an IANA time zone name for the schedule: an EventBridge Scheduler schedule in that zone",
                                  by_default="an EventBridge rule in UTC")
    s3: S3Trigger | None = option(None, doc="start an execution for each object created in the bucket of the BucketName parameter, "
                                            "e.g. { key_prefix = \"in/\" } (not with schedule)",
                                  by_default="no S3 trigger")
    on_overlap: str | None = option(None, doc="with concurrency = 1, what an execution that finds an earlier one running does: "
                                              "skip (it succeeds, its output says so) or fail (error PreviousRunStillRunning, which alerts)",
                                    by_default="skip")
    spot_retry_attempts: int | None = option(None, doc="with a strategy that may place the task on Fargate Spot and wait = true, "
                                                       "how often a task interrupted on Spot is run again",
                                             by_default="2")

    def __post_init__(self):
        super().__post_init__()
        if self.name is not None and not ascii_fullmatch(NAME, self.name):
            raise UserError(f"{self.name!r} is not allowed; allowed: 1-64 letters, digits, - and _", field="name")
        if self.task_count != 1:
            raise UserError(f"{self.task_count}: an execution runs one task; allowed: 1 (start several executions for more)", field="task_count")
        for field_name, text in [("container_name", self.container_name), *[("command", c) for c in self.command], *[("environment", v) for v in self.environment.values()]]:
            if text is not None and PLACEHOLDER_START in text:  # container_name is None until import_from's foundation names it
                raise UserError(f"{text!r}: CloudFormation reads ${{...}} in a state machine definition as a DefinitionSubstitutions placeholder", field=field_name)
        if self.task_failure_retry_attempts and not self.wait:
            raise UserError("applies only with wait = true (without it a task's failure is not seen)", field="task_failure_retry_attempts")
        if self.input_overrides and not self.command:
            raise UserError("input_overrides needs a default command (used when the execution input has none)", field="command")
        _in_range(self.timeout_seconds, 1, MAX_SECONDS, "timeout_seconds")
        _in_range(self.execution_timeout_seconds, 1, MAX_SECONDS, "execution_timeout_seconds")
        if self.timeout_seconds and self.execution_timeout_seconds and self.timeout_seconds > self.execution_timeout_seconds:
            raise UserError(f"{self.execution_timeout_seconds} is shorter than timeout_seconds ({self.timeout_seconds}), the limit of one "
                            "attempt; allowed: at least timeout_seconds", field="execution_timeout_seconds")
        _in_range(self.ecs_retry_attempts, 0, 99_999_999, "ecs_retry_attempts")
        _in_range(self.ecs_retry_interval_seconds, 1, 99_999_999, "ecs_retry_interval_seconds")
        rate = self.ecs_retry_backoff_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):  # (build_dataclass checks this too)
            raise UserError(f"expected a number, got {rate!r}", field="ecs_retry_backoff_rate")
        _in_range(rate, 1.0, 100, "ecs_retry_backoff_rate")  # ASL: BackoffRate >= 1.0
        if isinstance(rate, float):
            # a whole rate is kept as an integer, another as its decimal text ("1.5"), for the Metadata
            object.__setattr__(self, "ecs_retry_backoff_rate", int(rate) if rate.is_integer() else repr(rate))
        _in_range(self.task_failure_retry_attempts, 0, 99_999_999, "task_failure_retry_attempts")
        if self.log_level not in LOG_LEVELS:
            raise UserError(f"{self.log_level!r} is not a log level; allowed: {', '.join(LOG_LEVELS)}", field="log_level")
        if self.log_execution_data and self.log_level == "OFF":
            raise UserError("applies only when logging is on (log_level other than OFF)", field="log_execution_data")
        validate_retention_days(self.log_retention_days)
        if self.schedule is not None:
            validate_schedule_expression(self.schedule)
        if self.timezone is not None:
            if self.schedule is None:
                raise UserError("applies only with a schedule", field="timezone")
            validate_timezone(self.timezone)
        if self.s3 is not None:
            if self.schedule is not None:
                raise UserError("use either schedule or s3, not both", field="s3")
            for name in (self.s3.bucket_env_var, self.s3.key_env_var):
                if name in self.environment:
                    raise UserError(f"{name!r} is also in environment; the event's value would be overridden", field="s3")
        if self.s3 is not None and self.concurrency is not None:
            raise UserError("with an s3 trigger a skipped run would be an object never processed; concurrency = 1 is for "
                            "scheduled or API-started runs", field="concurrency")
        if self.concurrency is not None and not self.wait:
            # Without .sync an execution ends once RunTask returns, so the RUNNING executions it lists
            # say nothing about tasks still running: the next run would start beside them.
            raise UserError("concurrency = 1 needs wait = true: without waiting, an execution ends as soon as its task starts, "
                            "so a running task is not seen and the next run starts beside it", field="concurrency")
        if self.on_overlap is not None:
            if self.concurrency is None:
                raise UserError("applies only with concurrency = 1", field="on_overlap")
            if self.on_overlap not in asl.ON_OVERLAP:
                raise UserError(f"{self.on_overlap!r} is not allowed; allowed: {', '.join(asl.ON_OVERLAP)}", field="on_overlap")
        if self.spot_retry_attempts is not None:
            if not (places_on_spot(self.strategy) and self.wait):
                raise UserError("applies only when the task may run on Fargate Spot (spot or a FARGATE_SPOT strategy) and "
                                "wait = true", field="spot_retry_attempts")
            _in_range(self.spot_retry_attempts, 0, 100, "spot_retry_attempts")

    @property
    def spot_reruns(self) -> int | None:
        """How often an interrupted Spot task is run again; None when no Spot check is made (no
        Spot in the strategy, or wait = false: then nothing sees the task stop)."""
        if not (places_on_spot(self.strategy) and self.wait):
            return None
        return 2 if self.spot_retry_attempts is None else self.spot_retry_attempts

    def check_parameter_values(self, values: dict[str, str]) -> None:
        """An environment's BucketName against the S3 trigger's key filter (a filter that starts with it matches no key)."""
        super().check_parameter_values(values)
        if self.s3 is not None:
            self.s3.check_bucket(str(values.get(BUCKET_NAME, "")), field_prefix="s3.")

    @property
    def backoff_rate(self) -> int | float:
        """ecs_retry_backoff_rate as the number the definition's retriers take."""
        rate = self.ecs_retry_backoff_rate
        return float(rate) if isinstance(rate, str) else rate


def _in_range(value: int | float | None, low: int | float, high: int, field: str) -> None:
    if value is not None and not low <= value <= high:  # (NaN is never in range)
        raise UserError(f"{value} is out of range; allowed: {low} to {high}", field=field)


def check_state_machine_names(stack_name: str, environments, name: str | None) -> None:
    """Every environment's state machine name, `${AWS::StackName}-<name>` with the stack name
    samconfig gives it (`<stack>-<env>`), fits Step Functions' 80 characters, else UserError.

    Without `name` it always fits: the manifest allows a stack name of 63 characters and an
    environment name of 16. `environments`: the environment names; None when unknown (a
    StackContext built without them, as in unit tests), and then only the shortest possible
    environment name (one character) is checked.
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html
    """
    if name is None:
        return
    for environment in environments if environments is not None else [None]:
        stack_name_for_env = f"{stack_name}-{environment or 'e'}"
        full_name = f"{stack_name_for_env}-{name}"
        if len(full_name) > MAX_STATE_MACHINE_NAME:
            room = MAX_STATE_MACHINE_NAME - len(stack_name_for_env) - 1
            where = f"in environment {environment}: {full_name!r}" if environment else \
                f"with even a one-letter environment: {stack_name}-<env>-{name}"
            allowed = f"at most {room} characters for name here" if room > 0 else "no name: omit it (the stack name is too long)"
            raise UserError(f"the state machine name <stack>-<env>-<name> would be {len(full_name)} characters {where}; "
                            f"Step Functions allows at most {MAX_STATE_MACHINE_NAME}; allowed: {allowed}",
                            stack=stack_name, field="options.name")


def definition(options: Options, stack: StackContext, tags: list = ()) -> dict:
    """The state machine's ASL; `tags`: (key, parameter name) pairs put on the task, each value a
    DefinitionSubstitutions placeholder."""
    input_environment = {k: options.environment[k] for k in sorted(options.environment)} if options.input_overrides else {}
    if options.s3 is not None:
        input_environment.update({options.s3.bucket_env_var: "", options.s3.key_env_var: ""})
    waits = " and waits for it to stop" if options.wait else ""
    tagging: dict = {}
    if options.propagate_tags:
        tagging["PropagateTags"] = options.propagate_tags
    if options.enable_ecs_managed_tags:
        tagging["EnableECSManagedTags"] = True
    if tags:
        tagging["Tags"] = [{"Key": key, "Value": f"${{{name}}}"} for key, name in tags]
    retry = asl.ecs_job_retry(interval_seconds=options.ecs_retry_interval_seconds, backoff_rate=options.backoff_rate,
                              attempts=options.ecs_retry_attempts, task_failure_attempts=options.task_failure_retry_attempts)
    concurrency = None
    if options.concurrency is not None:
        # Listing executions only reads, so any error of the call is retried like a transient ECS error.
        concurrency = {"on_overlap": options.on_overlap or "skip", "retry": [asl.retrier(
            ["States.ALL"], interval_seconds=options.ecs_retry_interval_seconds, max_attempts=options.ecs_retry_attempts,
            backoff_rate=options.backoff_rate)]}
    return asl.ecs_job_definition(
        comment=f"{stack.name}: runs container {options.container_name} on Fargate{waits}; any error fails the execution",
        container_name=options.container_name, command=options.command,
        environment={} if options.input_overrides else dict(options.environment),
        input_command=options.input_overrides, input_environment=input_environment, wait=options.wait,
        platform_version=options.platform_version, assign_public_ip=options.assign_public_ip,
        timeout_seconds=options.timeout_seconds, execution_timeout_seconds=options.execution_timeout_seconds, retry=retry,
        capacity_provider_strategy=strategy_properties(options.strategy),
        task_size={key.capitalize(): value for key, value in options.task_size_override().items()},
        tagging=tagging, concurrency=concurrency, spot_rerun_attempts=options.spot_reruns,
    )


def build(options: Options, stack: StackContext) -> Rendered:
    template = Template()
    template.set_transform("AWS::Serverless-2016-10-31")
    task = task_ref(template, options)
    tags = [(key, ref.data["Ref"]) for key, ref in task_tag_refs(template, options, stack.environment_tags)]
    name = options.name or stack.name
    document = definition(options, stack, tags)
    substitutions = {**asl.ecs_job_substitutions(task), **{parameter: Ref(parameter) for _, parameter in tags}}
    try:
        asl.check_substitutions(document, substitutions)
    except UserError as error:
        raise error.within(stack=stack.name) from None
    check_state_machine_names(stack.name, stack.environments or None, options.name)
    definition_path = f"statemachine/{name}.asl.json"

    # The state machine's own ARN, built from its name: a Ref to it from its role would be a circular dependency.
    own_arn = arn("states", "stateMachine:${AWS::StackName}" + (f"-{options.name}" if options.name else ""))
    statements = asl.ecs_job_statements(task, wait=options.wait, tags_tasks=options.tags_tasks,
                                        list_executions_of=own_arn if options.concurrency is not None else None)
    role = template.add_resource(iam.service_role(STATE_MACHINE_ROLE, service="states.amazonaws.com", policy_name="run-ecs-task",
                                                  statements=statements + asl.state_machine_statements(
                                                      logging=options.log_level != "OFF", tracing=options.tracing)))
    extra = {}
    if options.log_level != "OFF":
        extra["Logging"] = asl.add_log_group(template, LOG_GROUP, level=options.log_level, retention_days=options.log_retention_days,
                                             include_execution_data=options.log_execution_data)
    if options.tracing:
        extra["Tracing"] = stepfunctions.TracingConfiguration(Enabled=True)
    machine = template.add_resource(asl.SamStateMachine(
        STATE_MACHINE, Type="STANDARD",  # Express workflows cannot wait for a task (.sync)
        Name=Sub("${AWS::StackName}" + (f"-{options.name}" if options.name else "")),
        DefinitionUri=definition_path, DefinitionSubstitutions=substitutions, Role=GetAtt(role, "Arn"), **extra,
    ))
    template.add_output(Output("StateMachineArn", Description="Start an execution of this state machine to run the task", Value=Ref(machine)))
    rule, schedule_group, dead_letter_queue = _add_trigger(template, options, stack, Ref(machine))
    # The outcome of an execution is what matters: with wait (.sync) a failed task fails the
    # execution, after whatever retries the definition makes, so the execution alert says it once.
    # Without wait nothing watches the task but the task alert (and nothing retries it): there a
    # Fargate Spot interruption is a lost run and alerts too; with wait the definition re-runs an
    # interrupted task (spot_states) and only an execution out of re-runs fails and alerts.
    add_alerts(template, None if options.wait else task, options, stack_name=stack.name, container_name=options.container_name,
               rule=rule, schedule_group=schedule_group, dead_letter_queue=dead_letter_queue, state_machine_arn=Ref(machine),
               spot_interruptions_alert=not options.wait and places_on_spot(options.strategy))
    return Rendered(template, files={definition_path: asl.dump_json(document)}, summary=_summary(options), notes=_notes(options))


def _add_trigger(template: Template, options: Options, stack: StackContext, machine_arn) -> tuple:
    """The trigger's rule or (with a time zone) Scheduler schedule group, and dead-letter queue, when there is a trigger."""
    if options.schedule is None and options.s3 is None:
        return None, None, None
    rule = schedule_group = None
    dead_letter_queue = add_dead_letter_queue(template) if options.dead_letter_queue else None
    # Scheduler sends to the dead-letter queue with the schedule's role; a rule, by the queue policy.
    role = template.add_resource(iam.service_role(
        START_ROLE, service="scheduler.amazonaws.com" if options.timezone else "events.amazonaws.com", policy_name="start-execution",
        statements=start_execution_statements(machine_arn, dead_letter_queue=dead_letter_queue if options.timezone else None)))
    target = {"role": role, "dead_letter_queue": dead_letter_queue}
    if options.timezone:
        _, schedule_group = add_schedule(
            template, description=f"{stack.name}: {options.schedule} in {options.timezone}", expression=options.schedule,
            timezone=options.timezone, enabled=True, target=state_machine_schedule_target(machine_arn, options, input_text="{}", **target))
    elif options.schedule:
        rule = template.add_resource(events.Rule(
            SCHEDULE_RULE, Description=f"{stack.name}: {options.schedule} (UTC)", ScheduleExpression=options.schedule, State="ENABLED",
            Targets=[state_machine_rule_target(machine_arn, options, input_text="{}", **target)]))
    else:
        template.add_parameter(Parameter(
            BUCKET_NAME, Type="String", AllowedPattern=BUCKET_NAME_PATTERN, ConstraintDescription="an S3 bucket name: 3-63 lowercase letters, digits, . and -",
            Description="Name of the existing bucket whose new objects start an execution; its EventBridge notifications must be on"))
        # The execution input carries the object; the definition reads it into the container's environment.
        environment = {options.s3.bucket_env_var: Placeholder("bucket"), options.s3.key_env_var: Placeholder("key")}
        transformer = json_input_transformer({"environment": environment}, {"bucket": BUCKET_NAME_PATH, "key": OBJECT_KEY_PATH})
        rule = template.add_resource(events.Rule(
            S3_RULE, Description=f"{stack.name}: Object Created in the bucket → state machine", State="ENABLED",
            EventPattern=s3_object_created_pattern(Ref(BUCKET_NAME), options.s3),
            Targets=[state_machine_rule_target(machine_arn, options, input_transformer=transformer, **target)]))
    if not options.timezone:
        if dead_letter_queue is not None:
            allow_rule_to_send(template, dead_letter_queue, GetAtt(rule, "Arn"))
        template.add_output(Output("RuleArn", Description="The EventBridge rule that starts executions", Value=GetAtt(rule, "Arn")))
    if dead_letter_queue is not None:
        template.add_output(Output("DeadLetterQueueUrl", Description="Executions that could not be started land here", Value=Ref(dead_letter_queue)))
    return rule, schedule_group, dead_letter_queue


def _summary(options: Options) -> str:
    how = "waits for it to stop; a task that fails, times out or cannot start fails the execution" if options.wait else "returns once ECS has started it"
    trigger = (f" Started on `{options.schedule}`" + (f" in {options.timezone}." if options.timezone else " (UTC).")) if options.schedule else \
        " Started for each object created in the BucketName bucket." if options.s3 else " Started through the Step Functions API or console."
    return f"A Step Functions state machine runs the latest ACTIVE revision of the task family on Fargate (container `{options.container_name}`) and {how}.{trigger}"


def _notes(options: Options) -> list[str]:
    notes = [f"A failed execution reports error `{asl.JOB_FAILED_ERROR}`; its cause is JSON with the original `Error` "
             "(e.g. `States.TaskFailed` for a non-zero exit, `States.Timeout`) and its `Cause` (ECS's description of the task)."]
    if options.timeout_seconds is not None or options.execution_timeout_seconds is not None:
        per_attempt = (f"`timeout_seconds` ({options.timeout_seconds} s) limits each attempt of the task: every retry gets it again"
                       if options.timeout_seconds is not None else "Each attempt of the task has no time limit of its own")
        whole = (f"`execution_timeout_seconds` ({options.execution_timeout_seconds} s) limits the whole execution, retries included "
                 "(it then ends `TIMED_OUT`)" if options.execution_timeout_seconds is not None else
                 "the whole execution has no limit but Step Functions' one year (set `execution_timeout_seconds`)")
        notes.append(f"{per_attempt}; {whole}.")
    if options.alerts != "off":
        watched = ("Alerts are on the outcome: an execution that ends `FAILED`, `TIMED_OUT` or `ABORTED` (after its retries) "
                   "is alerted once, with its ARN; an attempt that a retry recovers is not.")
        if not options.wait:
            watched += (" With `wait = false` the execution succeeds once the task has started, so the task's own failure "
                        "(its container `" + options.container_name + "` exiting non-zero) is alerted by the task rule.")
        notes.append(watched)
    if options.task_failure_retry_attempts:
        notes.append(f"The task is run again up to {options.task_failure_retry_attempts} time(s) after any error but a timeout: "
                     "`States.TaskFailed` in a retrier matches every error except `States.Timeout`, so permanent ones "
                     "(e.g. `ECS.AccessDeniedException`) are retried too. The job must be safe to run again.")
    if options.input_overrides:
        names = ", ".join(sorted(options.environment)) or "none"
        notes.append('Execution input such as `{"command": ["..."], "environment": {"NAME": "value"}}` overrides the command and the '
                     f"variables listed in `environment` ({names}); an absent field keeps the value from the manifest.")
    if options.s3 is not None:
        notes += encoded_key_notes(options.s3, options.s3.key_env_var)
        notes.append("Requires EventBridge notifications on for the existing bucket (aws s3api put-bucket-notification-configuration "
                     "--notification-configuration '{\"EventBridgeConfiguration\": {}}').")
    if options.concurrency is not None:
        ending = (f"ends in the Succeed state `{asl.RUN_SKIPPED}` with output `{{\"skipped\": …, \"runningExecution\": <ARN>}}`"
                  if (options.on_overlap or "skip") == "skip" else
                  f"fails in `{asl.RUN_SKIPPED}` with error `{asl.RUN_SKIPPED_ERROR}` (and so alerts)")
        notes.append("No overlapping runs (`concurrency = 1`): an execution first lists this state machine's RUNNING executions; if an "
                     f"older one is still running it starts no task and {ending}. ListExecutions is eventually consistent, so two "
                     "executions started within moments of each other may both run; if the list cannot be read the execution fails.")
    return notes + run_task_notes(options, spot_retries=options.spot_reruns)
