"""Step Functions state machines: Amazon States Language (ASL) documents built as Python data, the
`.asl.json` file SAM deploys, and what the state machine's role needs to run them.

A definition may contain `${Name}` placeholders; CloudFormation replaces each with the value of
`DefinitionSubstitutions[Name]` when it creates the state machine (textual replacement, so a
placeholder always sits inside a JSON string and the file stays valid JSON before and after).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-stepfunctions-statemachine.html#cfn-stepfunctions-statemachine-definitionsubstitutions

Key order is the insertion order of the dicts built here (ASL fields in the order the Step
Functions documentation lists them), so the written file is stable and reads top-down.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator, Mapping

from awacs.aws import Allow, Statement
import awacs.ecs
import awacs.events
import awacs.logs
import awacs.states
import awacs.xray
from troposphere import GetAtt, Join, Output, Ref, Sub, Template
from troposphere import logs, serverless, stepfunctions

from generator.aws import iam
from generator.aws.arns import arn
from generator.aws.capacity import SPOT_INTERRUPTION
from generator.aws.ecs_task import TaskRef
from generator.core.errors import UserError
from generator.aws.checkov_skips import LOG_GROUP_SERVICE_ENCRYPTION, checkov_skips

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
RUN_TASK_ARN = "arn:${Partition}:states:::ecs:runTask"
RUN_TASK_SYNC_ARN = RUN_TASK_ARN + ".sync"
# `.sync` and `.waitForTaskToken` are integration patterns of the same RunTask API, the only ECS
# API Step Functions' optimized integration offers.
# https://docs.aws.amazon.com/step-functions/latest/dg/connect-ecs.html
ECS_INTEGRATIONS = ("runTask", "runTask.sync", "runTask.waitForTaskToken")
RUN_TASK_RESOURCE = re.compile(r"^arn:[^:]+:states:::ecs:runTask(\.sync|\.waitForTaskToken)?$")
ECS_RESOURCE = re.compile(r"^arn:[^:]+:states:::ecs:(?P<integration>.*)$")  # any optimized ECS integration, valid or not


# --- states -----------------------------------------------------------------------------


def state_machine(*, comment: str, start_at: str, states: dict[str, dict], timeout_seconds: int | None = None) -> dict:
    """`timeout_seconds`: the whole execution's limit (top-level TimeoutSeconds): past it the
    execution fails with States.Timeout, whatever state it is in.
    https://docs.aws.amazon.com/step-functions/latest/dg/statemachine-structure.html"""
    machine: dict = {"Comment": comment, "StartAt": start_at}
    if timeout_seconds is not None:
        machine["TimeoutSeconds"] = timeout_seconds
    machine["States"] = states
    return machine


def _flow(state: dict, next_state: str | None) -> dict:
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def pass_state(*, parameters: dict, next_state: str | None, comment: str | None = None, result_path: str | None = None) -> dict:
    state: dict = {"Type": "Pass"}
    if comment:
        state["Comment"] = comment
    state["Parameters"] = parameters
    if result_path is not None:
        state["ResultPath"] = result_path
    return _flow(state, next_state)


def fail_state(*, error: str, cause_path: str, comment: str | None = None) -> dict:
    """A Fail state with a fixed error name and the cause computed from its input.

    The error name is fixed, not taken from the input with ErrorPath: names starting with
    `States.` are reserved for Step Functions ("States can report errors with other names, which
    must not begin with the prefix States."), and the caught error is usually one of those.
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
    """
    state: dict = {"Type": "Fail"}
    if comment:
        state["Comment"] = comment
    state.update({"Error": error, "CausePath": cause_path})
    return state


def choice_state(*, choices: list[dict], default: str, comment: str | None = None) -> dict:
    state: dict = {"Type": "Choice"}
    if comment:
        state["Comment"] = comment
    state.update({"Choices": choices, "Default": default})
    return state


def succeed_state(*, comment: str | None = None) -> dict:
    return {"Type": "Succeed", **({"Comment": comment} if comment else {})}


def retrier(errors: list[str], *, interval_seconds: int, max_attempts: int, backoff_rate: int | float) -> dict:
    """Retry with exponential backoff and full jitter, so retries of many executions throttled at
    the same moment spread out instead of colliding again."""
    return {
        "ErrorEquals": list(errors),
        "IntervalSeconds": interval_seconds,
        "MaxAttempts": max_attempts,
        "BackoffRate": backoff_rate,
        "JitterStrategy": "FULL",
    }


def catcher(errors: list[str], *, next_state: str, result_path: str) -> dict:
    return {"ErrorEquals": list(errors), "ResultPath": result_path, "Next": next_state}


def run_task_state(
    *,
    wait: bool,
    cluster: str,
    task_definition: str,
    network: dict,
    platform_version: str,
    container_override: dict,
    result_path: str | None,
    next_state: str | None,
    timeout_seconds: int | None = None,
    retry: list[dict] = (),
    catch: list[dict] = (),
    comment: str | None = None,
    capacity_provider_strategy: list[dict] = (),
    task_size: dict | None = None,
    tagging: dict | None = None,
) -> dict:
    """A Task state running one Fargate task with the optimized ECS integration; parameters are
    RunTask's in PascalCase. `wait`: ecs:runTask.sync (wait for the task to stop, fail if it fails)
    rather than ecs:runTask (return once ECS accepted the request). `capacity_provider_strategy`
    replaces LaunchType (RunTask takes one or the other); `task_size`: {"Cpu", "Memory"} of the
    TaskOverride; `tagging`: PropagateTags / EnableECSManagedTags / Tags.
    https://docs.aws.amazon.com/step-functions/latest/dg/connect-ecs.html
    """
    state: dict = {"Type": "Task"}
    if comment:
        state["Comment"] = comment
    state["Resource"] = RUN_TASK_SYNC_ARN if wait else RUN_TASK_ARN
    parameters: dict = {"CapacityProviderStrategy": list(capacity_provider_strategy)} if capacity_provider_strategy else {"LaunchType": "FARGATE"}
    parameters.update({
        "PlatformVersion": platform_version,
        "Cluster": cluster,
        "TaskDefinition": task_definition,
        "NetworkConfiguration": {"AwsvpcConfiguration": network},
        "Overrides": {**(task_size or {}), "ContainerOverrides": [container_override]},
    })
    parameters.update(tagging or {})
    state["Parameters"] = parameters
    if result_path is not None:
        state["ResultPath"] = result_path
    if timeout_seconds is not None:
        state["TimeoutSeconds"] = timeout_seconds
    if retry:
        state["Retry"] = list(retry)
    if catch:
        state["Catch"] = list(catch)
    return _flow(state, next_state)


def split_list(placeholder: str) -> str:
    """A JsonPath intrinsic that turns a comma-separated placeholder into a JSON array at run time.

    A List parameter (subnets, security groups) cannot be substituted as an array: substitution is
    textual and the placeholder must sit inside a JSON string. So the value is substituted joined
    with commas and split by Step Functions (States.StringSplit). IDs of subnets and security
    groups contain none of the characters an intrinsic string literal must escape (' { } \\).
    https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html#asl-intrsc-func-string-operation
    """
    return f"States.StringSplit('${{{placeholder}}}', ',')"


# --- the SAM resource and its logging ---------------------------------------------------------


class SamStateMachine(serverless.StateMachine):
    """troposphere 4.11 names SAM's `Tracing` property `TracingConfiguration`, which SAM rejects."""

    props = {**serverless.StateMachine.props, "Tracing": (stepfunctions.TracingConfiguration, False)}


def add_log_group(template: Template, logical_id: str, *, level: str, retention_days: int,
                  include_execution_data: bool) -> stepfunctions.LoggingConfiguration:
    """A log group for the execution history, and the state machine's Logging pointing at it.

    Named /aws/vendedlogs/states/<stack>: AWS advises the /aws/vendedlogs/ prefix for vended logs,
    which keeps the CloudWatch Logs resource policy Step Functions writes from growing per group.
    https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
    """
    log_group = template.add_resource(logs.LogGroup(
        logical_id, LogGroupName=Sub("/aws/vendedlogs/states/${AWS::StackName}"), RetentionInDays=retention_days,
        Metadata=checkov_skips(LOG_GROUP_SERVICE_ENCRYPTION)))
    template.add_output(Output("LogGroupName", Description="Execution history events are logged here", Value=Ref(log_group)))
    return stepfunctions.LoggingConfiguration(
        Level=level, IncludeExecutionData=include_execution_data,
        Destinations=[stepfunctions.LogDestination(
            CloudWatchLogsLogGroup=stepfunctions.CloudWatchLogsLogGroup(LogGroupArn=GetAtt(log_group, "Arn")))])


# --- an ECS job: run one task, fail the execution on any error --------------------------------

# Transient start failures of the ECS integration: throttling ("Rate exceeded") arrives as
# ECS.AmazonECSException, ECS 5xx as ECS.ServerException, RunTask failures[] (e.g. no Fargate
# capacity) under .sync as AmazonECS.Unknown. https://docs.aws.amazon.com/step-functions/latest/dg/connect-ecs.html
ECS_TRANSIENT_ERRORS = ("ECS.AmazonECSException", "ECS.ServerException", "AmazonECS.Unknown")


def ecs_job_retry(*, interval_seconds: int, backoff_rate: int | float, attempts: int, task_failure_attempts: int) -> list[dict]:
    """Retry transient start failures; any other failure only when asked (`task_failure_attempts`),
    since re-running a job that may have done half its work is the user's call.

    No error name means "the container exited non-zero" alone: `.sync` reports that as
    States.TaskFailed, and States.TaskFailed in a retrier is a wildcard for every error name but
    States.Timeout. So that retrier also re-runs permanent failures (ECS.AccessDeniedException,
    ECS.InvalidParameterException, ECS.ClusterNotFoundException...); only a timeout is never
    retried. Retriers are tried in order and an exhausted one does not fall through to the next,
    so transient errors stay with the first.
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
    """
    retry = [retrier(list(ECS_TRANSIENT_ERRORS), interval_seconds=interval_seconds, max_attempts=attempts, backoff_rate=backoff_rate)]
    if task_failure_attempts:
        retry.append(retrier(["States.TaskFailed"], interval_seconds=interval_seconds, max_attempts=task_failure_attempts,
                             backoff_rate=backoff_rate))
    return retry


READ_INPUT, MERGE_INPUT, MERGE_ENVIRONMENT = "Read execution input", "Merge input over defaults", "Merge environment over defaults"
RUN_TASK, CHECK_STARTED, NOT_STARTED, STARTED = "Run ECS task", "Check task started", "Task not started", "Task started"
RECORD_FAILURE, JOB_FAILED = "Record failure", "Job failed"
JOB_FAILED_ERROR = "EcsJobFailed"
# concurrency = 1 (see concurrency_states)
CHECK_RUNNING, COUNT_RUNNING, ANY_RUNNING = "Check for a running execution", "Count running executions", "Any execution running?"
FIND_OLDEST, ANOTHER_RUNNING = "Find oldest running execution", "Previous run still running?"
RECORD_SKIP, RUN_SKIPPED = "Record skipped run", "Run skipped: previous run still running"
RUN_SKIPPED_ERROR = "PreviousRunStillRunning"
LIST_EXECUTIONS_ARN = "arn:${Partition}:states:::aws-sdk:sfn:listExecutions"
LIST_EXECUTIONS_PAGE = 100  # with concurrency = 1 the list is short: every overlapping run ends at once
ON_OVERLAP = ("skip", "fail")
# Fargate Spot re-runs (see spot_states)
CHECK_FAILED_STOP, READ_STOPPED_TASK = "Check failed task for Spot interruption", "Read stopped task"
FAILED_ON_SPOT, SUCCEEDED_ON_SPOT = "Failed task interrupted on Spot?", "Task interrupted on Spot?"
RERUN_AFTER_SPOT, FIRST_SPOT_RERUN, NEXT_SPOT_RERUN = "Run again after Spot interruption?", "Count first Spot re-run", "Count Spot re-run"
SPOT_RERUNS_USED_UP, JOB_SUCCEEDED = "Spot re-runs used up", "Job succeeded"
SPOT_INTERRUPTED_ERROR = "SpotInterruption"


def concurrency_states(*, next_state: str, on_overlap: str, retry: list[dict]) -> dict[str, dict]:
    """Start only when no earlier execution of this state machine is still RUNNING; otherwise end
    the run at once, visibly: `skip` ends in a Succeed state named for it (output: which execution
    still runs), `fail` in a Fail state with error PreviousRunStillRunning (alerted as a failure).

    ListExecutions returns the newest execution first, so the last one of the list is the oldest
    still running; this execution goes on only if that is itself (or the list is empty), so two
    executions that see each other agree on which one goes on. ListExecutions "is eventually
    consistent": executions started within moments of each other may not see each other, and both
    run. The check fails closed: if it cannot list, the execution fails. The oldest is picked with
    intrinsic functions and compared by paths without array indexes.
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
    https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
    """
    states: dict[str, dict] = {
        CHECK_RUNNING: {
            "Type": "Task",
            "Comment": "concurrency = 1: list this state machine's RUNNING executions (newest first)",
            "Resource": LIST_EXECUTIONS_ARN,
            "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": LIST_EXECUTIONS_PAGE},
            "ResultSelector": {"running.$": "$.Executions", "self.$": "$$.Execution.Id"},
            "ResultPath": "$.concurrency",
            "Retry": list(retry),
            "Catch": [catcher(["States.ALL"], next_state=RECORD_FAILURE, result_path="$.error")],
            "Next": COUNT_RUNNING,
        },
        COUNT_RUNNING: pass_state(parameters={
            "running.$": "$.concurrency.running", "count.$": "States.ArrayLength($.concurrency.running)", "self.$": "$.concurrency.self",
        }, result_path="$.concurrency", next_state=ANY_RUNNING),
        ANY_RUNNING: choice_state(choices=[{"Variable": "$.concurrency.count", "NumericEquals": 0, "Next": next_state}],
                                  default=FIND_OLDEST),
        FIND_OLDEST: pass_state(parameters={
            "oldest.$": "States.ArrayGetItem($.concurrency.running, States.MathAdd($.concurrency.count, -1))",
            "self.$": "$.concurrency.self",
        }, result_path="$.concurrency", next_state=ANOTHER_RUNNING),
        ANOTHER_RUNNING: choice_state(choices=[{
            "Not": {"Variable": "$.concurrency.oldest.ExecutionArn", "StringEqualsPath": "$.concurrency.self"},
            "Next": RECORD_SKIP if on_overlap == "skip" else RUN_SKIPPED,
        }], default=next_state),
    }
    if on_overlap == "skip":
        states[RECORD_SKIP] = pass_state(parameters={
            "skipped": "a previous run of this state machine is still running",
            "runningExecution.$": "$.concurrency.oldest.ExecutionArn",
        }, next_state=RUN_SKIPPED)
        states[RUN_SKIPPED] = succeed_state(comment="concurrency = 1: this run did nothing; its output names the running execution")
    else:
        states[RUN_SKIPPED] = fail_state(
            error=RUN_SKIPPED_ERROR, comment="concurrency = 1, on_overlap = fail: this run did nothing",
            cause_path="States.Format('execution {} is still running', $.concurrency.oldest.ExecutionArn)")
    return states


def spot_states(*, rerun_attempts: int) -> dict[str, dict]:
    """After a task that may have run on Fargate Spot: was it interrupted (stop code SpotInterruption),
    and if so run it again, up to `rerun_attempts` times; then fail with error SpotInterruption.

    An interrupted task is told with SIGTERM, so its container may still exit 0 and `.sync` succeed:
    both the failed task (the Cause of States.TaskFailed is the stopped task as JSON) and the
    succeeded one ($.task) are checked. A Cause that is not a JSON object is never parsed
    (States.StringToJson on it would fail the execution with an uncatchable States.Runtime).
    """
    def interrupted(path: str) -> dict:
        return {"And": [{"Variable": path, "IsPresent": True}, {"Variable": path, "StringEquals": SPOT_INTERRUPTION}],
                "Next": RERUN_AFTER_SPOT if rerun_attempts else SPOT_RERUNS_USED_UP}

    states: dict[str, dict] = {
        SUCCEEDED_ON_SPOT: choice_state(choices=[interrupted("$.task.StopCode")], default=JOB_SUCCEEDED),
        JOB_SUCCEEDED: succeed_state(),
        CHECK_FAILED_STOP: choice_state(choices=[{
            "And": [{"Variable": "$.error.Cause", "IsPresent": True}, {"Variable": "$.error.Cause", "StringMatches": "{*}"}],
            "Next": READ_STOPPED_TASK}], default=RECORD_FAILURE),
        READ_STOPPED_TASK: pass_state(parameters={"task.$": "States.StringToJson($.error.Cause)"}, result_path="$.stopped",
                                      next_state=FAILED_ON_SPOT),
        FAILED_ON_SPOT: choice_state(choices=[interrupted("$.stopped.task.StopCode")], default=RECORD_FAILURE),
    }
    if rerun_attempts:
        states[RERUN_AFTER_SPOT] = choice_state(choices=[
            {"Variable": "$.spot.reruns", "IsPresent": False, "Next": FIRST_SPOT_RERUN},
            {"Variable": "$.spot.reruns", "NumericLessThan": rerun_attempts, "Next": NEXT_SPOT_RERUN},
        ], default=SPOT_RERUNS_USED_UP)
        states[FIRST_SPOT_RERUN] = pass_state(parameters={"reruns": 1}, result_path="$.spot", next_state=RUN_TASK)
        states[NEXT_SPOT_RERUN] = pass_state(parameters={"reruns.$": "States.MathAdd($.spot.reruns, 1)"}, result_path="$.spot",
                                             next_state=RUN_TASK)
        cause = {"Cause.$": "States.Format('the task was interrupted on Fargate Spot after {} re-run(s), the most allowed', $.spot.reruns)"}
    else:
        cause = {"Cause": "the task was interrupted on Fargate Spot (spot_retry_attempts = 0: not run again)"}
    states[SPOT_RERUNS_USED_UP] = pass_state(parameters={"Error": SPOT_INTERRUPTED_ERROR, **cause}, next_state=JOB_FAILED)
    return states


def ecs_job_substitutions(task: TaskRef) -> dict:
    """DefinitionSubstitutions for `ecs_job_definition`'s placeholders (list parameters joined
    with commas: see `split_list`)."""
    return {"Partition": Ref("AWS::Partition"), "ClusterArn": task.cluster_arn, "TaskFamilyArn": task.family_arn,
            "Subnets": Join(",", task.subnets), "SecurityGroups": Join(",", task.security_groups)}


def ecs_job_definition(
    *,
    comment: str,
    container_name: str,
    command: tuple[str, ...],
    environment: dict[str, str],
    input_command: bool,
    input_environment: dict[str, str],
    wait: bool,
    platform_version: str,
    assign_public_ip: bool,
    timeout_seconds: int | None,
    retry: list[dict],
    execution_timeout_seconds: int | None = None,
    capacity_provider_strategy: list[dict] = (),
    task_size: dict | None = None,
    tagging: dict | None = None,
    concurrency: dict | None = None,
    spot_rerun_attempts: int | None = None,
) -> dict:
    """[check for a running execution →] [read input →] Run ECS task [→ check started | check for a
    Spot interruption]; any error → Record failure → Job failed.

    `timeout_seconds` limits each attempt of the task state (a retry starts the clock again);
    `execution_timeout_seconds` limits the whole execution, retries included.

    `input_command`: the execution input's `command` replaces `command`. `input_environment`
    (name → default): each variable is the input's `environment.<name>`, or the default.
    `environment`: variables fixed in the definition. `concurrency`: {"on_overlap", "retry"} for
    concurrency_states. `spot_rerun_attempts`: with `wait`, check for Spot interruptions and run an
    interrupted task again (spot_states); None when the task cannot run on Fargate Spot.
    """
    override: dict = {"Name": container_name}
    if input_command:
        override["Command.$"] = "$.run.command"
    elif command:
        override["Command"] = list(command)
    variables = [{"Name": k, "Value": v} for k, v in sorted(environment.items())]
    variables += [{"Name": k, "Value.$": f"$.run.environment.{k}"} for k in input_environment]
    if variables:
        override["Environment"] = variables

    states: dict[str, dict] = {}
    if input_command or input_environment:
        # A JsonPath that selects nothing fails the state (States.Runtime), so absent input fields
        # are filled from defaults with States.JsonMerge; it merges shallowly only, hence a
        # second step for the environment object.
        defaults: dict = {"command": list(command)} if input_command else {}
        if input_environment:
            defaults["environment"] = dict(input_environment)
        states[READ_INPUT] = pass_state(parameters={"defaults": defaults, "input.$": "$"}, next_state=MERGE_INPUT)
        merged = {"run.$": "States.JsonMerge($.defaults, $.input, false)"}
        if input_environment:
            states[MERGE_INPUT] = pass_state(parameters={**merged, "defaults.$": "$.defaults"}, next_state=MERGE_ENVIRONMENT)
            run = {"command.$": "$.run.command"} if input_command else {}
            run["environment.$"] = "States.JsonMerge($.defaults.environment, $.run.environment, false)"
            states[MERGE_ENVIRONMENT] = pass_state(parameters={"run": run}, next_state=RUN_TASK)
        else:
            states[MERGE_INPUT] = pass_state(parameters=merged, next_state=RUN_TASK)

    spot = wait and spot_rerun_attempts is not None
    catch = [catcher(["States.ALL"], next_state=RECORD_FAILURE, result_path="$.error")]
    if spot:  # a failed task may have been interrupted on Spot; a timeout never is
        catch.insert(0, catcher(["States.TaskFailed"], next_state=CHECK_FAILED_STOP, result_path="$.error"))
    states[RUN_TASK] = run_task_state(
        wait=wait, cluster="${ClusterArn}", task_definition="${TaskFamilyArn}",
        network={"Subnets.$": split_list("Subnets"), "SecurityGroups.$": split_list("SecurityGroups"),
                 "AssignPublicIp": "ENABLED" if assign_public_ip else "DISABLED"},
        platform_version=platform_version, container_override=override, result_path="$.task",
        timeout_seconds=timeout_seconds, retry=retry, catch=catch,
        next_state=SUCCEEDED_ON_SPOT if spot else None if wait else CHECK_STARTED,
        capacity_provider_strategy=capacity_provider_strategy, task_size=task_size, tagging=tagging,
    )
    if spot:
        states.update(spot_states(rerun_attempts=spot_rerun_attempts))
    if not wait:
        # Without .sync a RunTask that returns failures[] (no capacity...) succeeds: check it here.
        states[CHECK_STARTED] = choice_state(
            choices=[{"Variable": "$.task.Failures[0]", "IsPresent": True, "Next": NOT_STARTED}], default=STARTED)
        states[STARTED] = succeed_state()
        states[NOT_STARTED] = pass_state(
            parameters={"Error": "RunTaskFailures", "Cause.$": "States.JsonToString($.task.Failures)"}, next_state=JOB_FAILED)
    states[RECORD_FAILURE] = pass_state(parameters={"Error.$": "$.error.Error", "Cause.$": "$.error.Cause"}, next_state=JOB_FAILED)
    states[JOB_FAILED] = fail_state(error=JOB_FAILED_ERROR, cause_path="States.JsonToString($)")
    first = READ_INPUT if READ_INPUT in states else RUN_TASK
    if concurrency is not None:
        states = {**concurrency_states(next_state=first, **concurrency), **states}
        first = CHECK_RUNNING
    return state_machine(comment=comment, start_at=first, states=states, timeout_seconds=execution_timeout_seconds)


def ecs_job_statements(task: TaskRef, *, wait: bool, tags_tasks: bool = False, list_executions_of=None) -> list[Statement]:
    """RunTask on the family and PassRole on its roles; with `.sync` also watching and stopping the
    task and the managed rule through which Step Functions learns that the task stopped; TagResource
    on the tasks RunTask creates when it tags them (`tags_tasks`); ListExecutions on this state
    machine (`list_executions_of`, its ARN) for concurrency = 1.

    AWS's policy grants StopTask/DescribeTasks on "*"; both act on task ARNs and take the cluster in
    the ARN (`task/<cluster>/<id>`), so they are scoped to this cluster's tasks.
    https://docs.aws.amazon.com/step-functions/latest/dg/ecs-iam.html
    """
    statements = [iam.run_task_statement(family_arn=task.family_arn, family_revisions_arn=task.family_revisions_arn,
                                         cluster_arn=task.cluster_arn)]
    if tags_tasks:
        statements.append(iam.tag_on_run_task_statement(task.task_arns_in_cluster))
    if wait:
        statements.append(Statement(Sid="WatchTasksInCluster", Effect=Allow, Action=[awacs.ecs.StopTask, awacs.ecs.DescribeTasks],
                                    Resource=[task.task_arns_in_cluster]))
        statements.append(Statement(Sid="ManageTaskEventsRule", Effect=Allow,
                                    Action=[awacs.events.PutTargets, awacs.events.PutRule, awacs.events.DescribeRule],
                                    Resource=[arn("events", "rule/StepFunctionsGetEventsForECSTaskRule")]))
    statements.append(iam.pass_role_statement(task.passed_role_arns))
    if list_executions_of is not None:
        # ListExecutions takes the state machine as its resource (stateMachine ARN).
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
        statements.append(Statement(Sid="ListOwnExecutions", Effect=Allow, Action=[awacs.states.ListExecutions],
                                    Resource=[list_executions_of]))
    return statements


def state_machine_statements(*, logging: bool, tracing: bool) -> list[Statement]:
    """Log delivery and X-Ray: neither has resource-level permissions, so both are on "*" (the
    actions listed in generator/checks/rules/iam_wildcard_resource.py).
    https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
    https://docs.aws.amazon.com/step-functions/latest/dg/xray-iam.html
    """
    statements = []
    if logging:
        statements.append(Statement(Sid="DeliverLogs", Effect=Allow, Action=[
            awacs.logs.CreateLogDelivery, awacs.logs.GetLogDelivery, awacs.logs.UpdateLogDelivery, awacs.logs.DeleteLogDelivery,
            awacs.logs.ListLogDeliveries, awacs.logs.PutResourcePolicy, awacs.logs.DescribeResourcePolicies, awacs.logs.DescribeLogGroups,
        ], Resource=["*"]))
    if tracing:
        statements.append(Statement(Sid="SendTraces", Effect=Allow, Action=[
            awacs.xray.PutTraceSegments, awacs.xray.PutTelemetryRecords, awacs.xray.GetSamplingRules, awacs.xray.GetSamplingTargets,
        ], Resource=["*"]))
    return statements


# --- placeholders -------------------------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    """Every string in a definition: keys and values, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def placeholders(definition: Any) -> set[str]:
    return {name for text in strings(definition) for name in PLACEHOLDER.findall(text)}


def substitution_mismatches(definition: Any, substitutions: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(placeholders without a substitution, substitutions no placeholder uses), each sorted."""
    used = placeholders(definition)
    return sorted(used - set(substitutions)), sorted(set(substitutions) - used)


def check_substitutions(definition: Any, substitutions: Mapping[str, Any]) -> None:
    """Every `${X}` has a DefinitionSubstitutions entry and every entry is used, else UserError."""
    missing, unused = substitution_mismatches(definition, substitutions)
    problems = []
    if missing:
        problems.append("no DefinitionSubstitutions entry for " + ", ".join(f"${{{name}}}" for name in missing)
                        + " (text like ${...} in an option is read by CloudFormation as a placeholder)")
    if unused:
        problems.append("DefinitionSubstitutions entries no placeholder uses: " + ", ".join(unused))
    if problems:
        raise UserError("state machine definition: " + "; ".join(problems), field="definition")


# --- the file -----------------------------------------------------------------------------


def dump_json(definition: dict) -> str:
    """The `.asl.json` text: two-space indent, keys in the order built, UTF-8 as is."""
    return json.dumps(definition, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


# --- the graph (for tests and asl_lint) ------------------------------------------------------


def transitions(definition: dict) -> dict[str, list[str]]:
    """State name → the states it can go to (Next, Catch, Choice branches, Default), top level only."""
    edges: dict[str, list[str]] = {}
    for name, state in (definition.get("States") or {}).items():
        if not isinstance(state, dict):
            continue
        targets = [state.get("Next"), state.get("Default")]
        targets += [item.get("Next") for key in ("Catch", "Choices") for item in state.get(key) or [] if isinstance(item, dict)]
        edges[name] = [target for target in targets if isinstance(target, str)]
    return edges


def terminal(state: dict) -> bool:
    return state.get("Type") in ("Succeed", "Fail") or state.get("End") is True
