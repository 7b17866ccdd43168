"""sfn_task: `concurrency = 1` (skip or fail a run while an older one is running) and the Fargate Spot
re-runs: the states as rendered, the IAM they need, and runs of the rendered definition on moto's
Step Functions interpreter.

moto cannot run the two service calls (aws-sdk:sfn:listExecutions on itself, ecs:runTask.sync), so
each run swaps them for Pass states that produce what the call would return (ListExecutions after
the definition's ResultSelector; the stopped task), and runs everything else as rendered: the
Choice rules, the counting, the Succeed and Fail states. What is not shown here: ListExecutions'
real answer and its eventual consistency, and `.sync`'s output shape on AWS (a stopped task with
`StopCode`, the same JSON as the Cause of a failed `.sync` state, which public definitions read as
`Containers[0].ExitCode`); the README says so.
"""

from __future__ import annotations

import copy
import json

import pytest

from generator.aws import step_functions as asl
from support.expected_iam import policy_statements
from support.manifests import manifest_text, render_text, substituted
from support.state_machines import NETWORK, moto_runs_state_machines, run

OTHER_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:job:older-run"
SPOT_TASK = {"TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/batch/0123", "StopCode": "SpotInterruption",
             "StoppedReason": "Your Spot Task was interrupted.", "Containers": [{"Name": "app", "ExitCode": 0}]}
DONE_TASK = {**SPOT_TASK, "StopCode": "EssentialContainerExited", "StoppedReason": "Essential container in task exited"}


def render(tmp_path, options: str):
    return render_text(tmp_path, manifest_text("job", "sfn_task", options))["job"]


def definition_of(stack) -> dict:
    return json.loads(substituted(stack.files["job/statemachine/job.asl.json"], NETWORK))


def with_listing(definition: dict, running: list | str) -> dict:
    """`Check for a running execution` answering with `running` (ListExecutions' Executions, newest
    first; "self": this execution alone, "newer+self": a newer one, then this one), kept as the
    definition's ResultSelector keeps it."""
    variant = copy.deepcopy(definition)
    check = variant["States"][asl.CHECK_RUNNING]
    assert check["ResultSelector"] == {"running.$": "$.Executions", "self.$": "$$.Execution.Id"}
    own = {"ExecutionArn.$": "$$.Execution.Id"}
    parameters = {"running": {"self": [own], "newer+self": [NEWER, own]}[running] if isinstance(running, str) else running}
    parameters["self.$"] = "$$.Execution.Id"
    variant["States"][asl.CHECK_RUNNING] = {"Type": "Pass", "Parameters": parameters, "ResultPath": check["ResultPath"], "Next": check["Next"]}
    return variant


def with_task_result(definition: dict, task: dict) -> dict:
    variant = copy.deepcopy(definition)
    state = variant["States"][asl.RUN_TASK]
    variant["States"][asl.RUN_TASK] = {"Type": "Pass", "Result": task, "ResultPath": state["ResultPath"],
                                      **{key: state[key] for key in ("Next", "End") if key in state}}
    return variant


# --- concurrency = 1 ---------------------------------------------------------------------------------

def test_concurrency_lists_its_own_running_executions_first(tmp_path):
    stack = render(tmp_path, 'container_name = "app"\nconcurrency = 1')
    definition = definition_of(stack)
    assert definition["StartAt"] == asl.CHECK_RUNNING
    check = definition["States"][asl.CHECK_RUNNING]
    assert check["Resource"] == "arn:aws:states:::aws-sdk:sfn:listExecutions"
    assert check["Parameters"] == {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 100}
    assert check["ResultSelector"] == {"running.$": "$.Executions", "self.$": "$$.Execution.Id"}
    # newest first, so the last one is the oldest still running
    assert definition["States"][asl.FIND_OLDEST]["Parameters"]["oldest.$"] == \
        "States.ArrayGetItem($.concurrency.running, States.MathAdd($.concurrency.count, -1))"
    assert check["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": asl.RECORD_FAILURE}]  # fails closed
    assert definition["States"][asl.ANOTHER_RUNNING]["Default"] == asl.RUN_TASK
    assert definition["States"][asl.ANY_RUNNING]["Choices"][0]["Next"] == asl.RUN_TASK
    assert definition["States"][asl.RUN_SKIPPED] == {
        "Type": "Succeed", "Comment": "concurrency = 1: this run did nothing; its output names the running execution"}
    # the role may list the executions of this one state machine (its ARN from its name: no circular Ref)
    statements = policy_statements(stack.template["Resources"]["StateMachineRole"])
    assert {"Sid": "ListOwnExecutions", "Effect": "Allow", "Action": ["states:ListExecutions"],
            "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}"}]} in statements
    assert stack.template["Resources"]["StateMachine"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}"}


def test_a_named_state_machine_lists_its_own_name(tmp_path):
    stack = render(tmp_path, 'container_name = "app"\nconcurrency = 1\nname = "sync"')
    (statement,) = [s for s in policy_statements(stack.template["Resources"]["StateMachineRole"]) if s["Sid"] == "ListOwnExecutions"]
    assert statement["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-sync"}]
    assert stack.template["Resources"]["StateMachine"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-sync"}


def test_without_concurrency_no_listing_state_and_no_permission(tmp_path):
    stack = render(tmp_path, 'container_name = "app"')
    assert asl.CHECK_RUNNING not in definition_of(stack)["States"]
    assert "ListOwnExecutions" not in [s["Sid"] for s in policy_statements(stack.template["Resources"]["StateMachineRole"])]


CHECKED = [asl.CHECK_RUNNING, asl.COUNT_RUNNING, asl.ANY_RUNNING]
NEWER = {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:job:newer-run"}


@pytest.mark.slow  # runs the definition on moto's Step Functions interpreter
@pytest.mark.parametrize("running, entered", [
    ([], [*CHECKED, asl.RUN_TASK]),                                                            # nothing listed (yet)
    ("self", [*CHECKED, asl.FIND_OLDEST, asl.ANOTHER_RUNNING, asl.RUN_TASK]),                  # only this one runs
    ("newer+self", [*CHECKED, asl.FIND_OLDEST, asl.ANOTHER_RUNNING, asl.RUN_TASK]),            # it is the older of two
    ([{"ExecutionArn": OTHER_EXECUTION}], [*CHECKED, asl.FIND_OLDEST, asl.ANOTHER_RUNNING, asl.RECORD_SKIP, asl.RUN_SKIPPED]),
    ([NEWER, {"ExecutionArn": OTHER_EXECUTION}], [*CHECKED, asl.FIND_OLDEST, asl.ANOTHER_RUNNING, asl.RECORD_SKIP, asl.RUN_SKIPPED]),
])
def test_only_the_oldest_running_execution_goes_on(tmp_path, moto_endpoint, monkeypatch, running, entered):
    definition = with_task_result(with_listing(definition_of(render(tmp_path, 'container_name = "app"\nconcurrency = 1')), running), DONE_TASK)
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, names = run(moto_endpoint, definition, {})
    assert (execution["status"], names) == ("SUCCEEDED", entered)
    if asl.RECORD_SKIP in entered:
        assert json.loads(execution["output"]) == {"skipped": "a previous run of this state machine is still running",
                                                   "runningExecution": OTHER_EXECUTION}


@pytest.mark.slow  # runs the definition on moto's Step Functions interpreter
def test_on_overlap_fail_fails_the_skipped_run(tmp_path, moto_endpoint, monkeypatch):
    definition = definition_of(render(tmp_path, 'container_name = "app"\nconcurrency = 1\non_overlap = "fail"'))
    assert definition["States"][asl.RUN_SKIPPED]["Error"] == "PreviousRunStillRunning"
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, names = run(moto_endpoint, with_listing(definition, [{"ExecutionArn": OTHER_EXECUTION}]), {})
    assert names == [*CHECKED, asl.FIND_OLDEST, asl.ANOTHER_RUNNING, asl.RUN_SKIPPED]
    assert (execution["status"], execution["error"]) == ("FAILED", "PreviousRunStillRunning")
    assert execution["cause"] == f"execution {OTHER_EXECUTION} is still running"


# --- Fargate Spot re-runs ----------------------------------------------------------------------------

def test_spot_catches_task_failures_before_anything_else_and_checks_success_too(tmp_path):
    definition = definition_of(render(tmp_path, 'container_name = "app"\nspot = true'))
    run_task = definition["States"][asl.RUN_TASK]
    assert run_task["Parameters"]["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert "LaunchType" not in run_task["Parameters"]
    assert run_task["Catch"] == [
        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": asl.CHECK_FAILED_STOP},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": asl.RECORD_FAILURE},  # a timeout is never a Spot stop
    ]
    assert run_task["Next"] == asl.SUCCEEDED_ON_SPOT
    assert definition["States"][asl.RERUN_AFTER_SPOT]["Choices"][1]["NumericLessThan"] == 2  # default spot_retry_attempts


def test_without_wait_nothing_sees_the_task_stop_so_no_spot_states(tmp_path):
    stack = render(tmp_path, 'container_name = "app"\nspot = true\nwait = false')
    assert asl.SUCCEEDED_ON_SPOT not in definition_of(stack)["States"]
    # ...and the task-stopped alert rule pages on an interruption (see test_spot_alerts)
    pattern = stack.template["Resources"]["TaskFailedAlertRule"]["Properties"]["EventPattern"]
    assert {"stopCode": ["SpotInterruption"]} in pattern["detail"]["$or"]


@pytest.mark.slow  # runs the definition on moto's Step Functions interpreter
@pytest.mark.parametrize("attempts", [0, 2])
def test_an_always_interrupted_task_runs_again_then_fails_the_execution(tmp_path, moto_endpoint, monkeypatch, attempts):
    definition = definition_of(render(tmp_path, f'container_name = "app"\nspot = true\nspot_retry_attempts = {attempts}'))
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, names = run(moto_endpoint, with_task_result(definition, SPOT_TASK), {})
    assert names.count(asl.RUN_TASK) == attempts + 1  # the container exited 0 on SIGTERM, and still counts as interrupted
    assert names[-2:] == [asl.SPOT_RERUNS_USED_UP, asl.JOB_FAILED]
    assert (execution["status"], execution["error"]) == ("FAILED", asl.JOB_FAILED_ERROR)
    assert json.loads(execution["cause"])["Error"] == "SpotInterruption"


@pytest.mark.slow  # runs the definition on moto's Step Functions interpreter
def test_a_task_that_ran_to_its_end_succeeds(tmp_path, moto_endpoint, monkeypatch):
    definition = definition_of(render(tmp_path, 'container_name = "app"\nspot = true'))
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, names = run(moto_endpoint, with_task_result(definition, DONE_TASK), {})
    assert (execution["status"], names) == ("SUCCEEDED", [asl.RUN_TASK, asl.SUCCEEDED_ON_SPOT, asl.JOB_SUCCEEDED])


@pytest.mark.slow  # runs the definition on moto's Step Functions interpreter
@pytest.mark.parametrize("cause, entered", [
    # the stopped task as JSON (the Cause of States.TaskFailed under .sync): interrupted → run again
    (json.dumps(SPOT_TASK), [asl.CHECK_FAILED_STOP, asl.READ_STOPPED_TASK, asl.FAILED_ON_SPOT, asl.RERUN_AFTER_SPOT,
                             asl.FIRST_SPOT_RERUN, asl.RUN_TASK, asl.SUCCEEDED_ON_SPOT, asl.JOB_SUCCEEDED]),
    # a task that failed on its own is not run again
    (json.dumps({**DONE_TASK, "Containers": [{"Name": "app", "ExitCode": 1}]}),
     [asl.CHECK_FAILED_STOP, asl.READ_STOPPED_TASK, asl.FAILED_ON_SPOT, asl.RECORD_FAILURE, asl.JOB_FAILED]),
    # a Cause that is not JSON is never parsed (that would be an uncatchable States.Runtime)
    ("Access denied", [asl.CHECK_FAILED_STOP, asl.RECORD_FAILURE, asl.JOB_FAILED]),
])
def test_a_failed_task_runs_again_only_when_spot_interrupted_it(tmp_path, moto_endpoint, monkeypatch, cause, entered):
    definition = with_task_result(definition_of(render(tmp_path, 'container_name = "app"\nspot = true')), DONE_TASK)
    definition["StartAt"] = asl.CHECK_FAILED_STOP  # as the catcher hands over: the error at $.error
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, names = run(moto_endpoint, definition, {"error": {"Error": "States.TaskFailed", "Cause": cause}})
    assert names == entered
    assert execution["status"] == ("SUCCEEDED" if entered[-1] == asl.JOB_SUCCEEDED else "FAILED")
