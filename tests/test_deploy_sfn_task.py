"""The example sfn_task stack deploys on the moto server, and moto's Step Functions interpreter runs
its definition.

- Deploy: moto's CloudFormation does not apply the SAM transform, so the template is translated
  with aws-sam-translator as CloudFormation's transform would, after putting the ASL file in as
  `Definition` (sam deploy would upload the DefinitionUri file to S3, which moto's CloudFormation
  cannot read back). The stack is created with the parameter overrides from samconfig.toml and the
  state machine is read back: its definition is the file with the substitutions applied.
- Run: moto 5.2.5 executes state machines (config `stepfunctions.execute_state_machine`), but its
  ECS integration sends Step Functions' PascalCase parameters to botocore unconverted (`KeyError:
  'LaunchType'` in botocore's serializer), and its ECS mock cannot start an awsvpc Fargate task
  (`NetworkInterface` has no `private_dns_name`). So the runs swap the `Run ECS task` state only:
  for the success path a Pass state with the same Parameters (Step Functions evaluates them the
  same way, so the output is the RunTask request the task state would send); for the failure path
  a Task that fails (a Lambda invoke of a missing function), keeping the Retry and Catch. What
  moto cannot show: `.sync` waiting for the task, and a non-zero exit becoming States.TaskFailed.
"""

from __future__ import annotations

import json
import re

import pytest

from support.manifests import NETWORK_PARAMETERS, manifest_text, render_text, substituted
from support.moto_deploy import client, create_stack, for_moto, inline_policy, physical_ids, samconfig_overrides, translate_with_definition
from support.state_machines import NETWORK, moto_runs_state_machines, run, run_task_request, task_as_pass, task_that_fails

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

STACK = "stock-trader-task"


@pytest.fixture(scope="module")
def deployed(rendered_examples, moto_endpoint):
    """environment → (samconfig section, overrides, physical ids, translated template), created once."""
    stacks = {}

    def deploy(environment: str):
        if environment not in stacks:
            section, overrides = samconfig_overrides(rendered_examples / "samconfig.toml", f"{STACK}-{environment}")
            translated = translate_with_definition(rendered_examples / section["template_file"], overrides, section["region"])
            stack = create_stack(moto_endpoint, section["region"], section["stack_name"], json.dumps(for_moto(translated)),
                                 overrides, section["capabilities"].split())
            assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
            stacks[environment] = section, overrides, physical_ids(moto_endpoint, section["region"], section["stack_name"]), translated
        return stacks[environment]

    return deploy


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_state_machine_deploys_with_the_substitutions_applied(rendered_examples, moto_endpoint, deployed, environment):
    section, overrides, ids, translated = deployed(environment)
    region = section["region"]
    # The translation keeps the explicit role and the logical id, and adds no role of its own.
    assert [k for k, v in translated["Resources"].items() if v["Type"] == "AWS::IAM::Role"] == ["StateMachineRole"]
    assert section["capabilities"] == "CAPABILITY_IAM"

    machine_arn = ids["StateMachine"]
    account = machine_arn.split(":")[4]
    sfn = client("stepfunctions", moto_endpoint, region)
    machine = sfn.describe_state_machine(stateMachineArn=machine_arn)
    assert machine["name"] == section["stack_name"]  # Name: ${AWS::StackName}
    assert machine["roleArn"].endswith("/" + ids["StateMachineRole"])
    assert "${" not in machine["definition"]
    definition = json.loads(machine["definition"])
    task = definition["States"]["Run ECS task"]
    assert task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert task["Parameters"]["Cluster"] == overrides["ClusterArn"]
    assert task["Parameters"]["TaskDefinition"] == f"arn:aws:ecs:{region}:{account}:task-definition/stock-trader"  # no :revision
    assert task["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets.$"] == \
        f"States.StringSplit('{overrides['Subnets']}', ',')"
    # The whole definition is the file with each placeholder replaced by the stack's value.
    asl_file = (rendered_examples / section["template_file"]).parent / "statemachine" / f"{STACK}.asl.json"
    assert definition == json.loads(substituted(asl_file.read_text(), {
        "Partition": "aws", "ClusterArn": overrides["ClusterArn"],
        "TaskFamilyArn": f"arn:aws:ecs:{region}:{account}:task-definition/{overrides['TaskFamily']}",
        "Subnets": overrides["Subnets"], "SecurityGroups": overrides["SecurityGroups"],
    }))

    logs = client("logs", moto_endpoint, region)
    (group,) = logs.describe_log_groups(logGroupNamePrefix=f"/aws/vendedlogs/states/{section['stack_name']}")["logGroups"]
    assert group["retentionInDays"] == 30
    # moto does not model a state machine's LoggingConfiguration (it reads back level OFF); the
    # rendered Logging is asserted in tests/test_sfn_task.py.

    document = inline_policy(moto_endpoint, region, ids["StateMachineRole"])
    statements = {statement["Sid"]: statement for statement in document["Statement"]}
    cluster_name = overrides["ClusterArn"].split("cluster/")[1]
    assert statements["WatchTasksInCluster"]["Resource"] == [f"arn:aws:ecs:{region}:{account}:task/{cluster_name}/*"]
    assert statements["RunTaskFamilyInCluster"]["Condition"] == {"ArnEquals": {"ecs:cluster": overrides["ClusterArn"]}}


# --- runs on moto's Step Functions interpreter ----------------------------------------------------


def test_success_path_sends_a_valid_run_task_request_with_real_lists(deployed, moto_endpoint, monkeypatch):
    section, overrides, ids, _ = deployed("dev")
    sfn = client("stepfunctions", moto_endpoint, section["region"])
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=ids["StateMachine"])["definition"])
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, entered = run(moto_endpoint, task_as_pass(definition), {})
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert entered == ["Run ECS task"]
    request = run_task_request(json.loads(execution["output"])["task"])
    assert request["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": overrides["Subnets"].split(","),  # a JSON array, split by Step Functions at run time
        "securityGroups": overrides["SecurityGroups"].split(","),
        "assignPublicIp": "DISABLED",
    }
    assert request["cluster"] == overrides["ClusterArn"]
    assert request["launchType"] == "FARGATE"
    assert request["overrides"] == {"containerOverrides": [{"name": "stock-trader", "command": ["--arg1", "100", "--arg2", "200"]}]}


def test_failure_path_records_the_error_and_fails_the_execution(deployed, moto_endpoint, monkeypatch):
    section, _, ids, _ = deployed("dev")
    sfn = client("stepfunctions", moto_endpoint, section["region"])
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=ids["StateMachine"])["definition"])
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, entered = run(moto_endpoint, task_that_fails(definition), {})
    assert execution["status"] == "FAILED"
    assert entered == ["Run ECS task", "Record failure", "Job failed"]
    assert execution["error"] == "EcsJobFailed"
    cause = json.loads(execution["cause"])
    assert set(cause) == {"Error", "Cause"}
    assert cause["Error"] == "Lambda.ResourceNotFoundException"  # the caught error, named by moto's Lambda integration
    assert "no-such-function" in cause["Cause"]


# --- the input-overrides and no-wait variants, rendered here and run on the same interpreter -------

def rendered_definition(tmp_path, options: str) -> dict:
    stack = render_text(tmp_path, manifest_text("job", "sfn_task", options, NETWORK_PARAMETERS))["job"]
    return json.loads(substituted(stack.files["job/statemachine/job.asl.json"], NETWORK))


@pytest.mark.parametrize("execution_input, command, environment", [
    ({}, ["report.py"], {"DAY": "yesterday", "MODE": "full"}),
    ({"command": ["report.py", "--day", "2026-01-01"]}, ["report.py", "--day", "2026-01-01"], {"DAY": "yesterday", "MODE": "full"}),
    ({"environment": {"MODE": "partial"}}, ["report.py"], {"DAY": "yesterday", "MODE": "partial"}),
    # variables the options do not list cannot be set from the input; other fields are ignored
    ({"environment": {"OTHER": "x", "DAY": "today"}, "unrelated": 1}, ["report.py"], {"DAY": "today", "MODE": "full"}),
])
def test_execution_input_overrides_command_and_listed_variables_else_defaults(tmp_path, moto_endpoint, monkeypatch,
                                                                            execution_input, command, environment):
    definition = rendered_definition(tmp_path, 'container_name = "app"\ncommand = ["report.py"]\n'
                                               'environment = { DAY = "yesterday", MODE = "full" }\ninput_overrides = true')
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, entered = run(moto_endpoint, task_as_pass(definition), execution_input)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert entered == ["Read execution input", "Merge input over defaults", "Merge environment over defaults", "Run ECS task"]
    (override,) = run_task_request(json.loads(execution["output"])["task"])["overrides"]["containerOverrides"]
    assert override["command"] == command
    assert {item["name"]: item["value"] for item in override["environment"]} == environment


@pytest.mark.parametrize("result, status, entered", [
    ({"Tasks": [{"TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/batch/0123"}], "Failures": []},
     "SUCCEEDED", ["Run ECS task", "Check task started", "Task started"]),
    ({"Tasks": [], "Failures": [{"Arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/job", "Reason": "Capacity is unavailable at this time"}]},
     "FAILED", ["Run ECS task", "Check task started", "Task not started", "Job failed"]),
])
def test_without_wait_a_run_task_answered_with_failures_fails_the_execution(tmp_path, moto_endpoint, monkeypatch, result, status, entered):
    definition = rendered_definition(tmp_path, 'container_name = "app"\nwait = false')
    with moto_runs_state_machines(moto_endpoint, monkeypatch):
        execution, names = run(moto_endpoint, task_as_pass(definition, result=result), {})
    assert (execution["status"], names) == (status, entered)
    if status == "FAILED":
        assert execution["error"] == "EcsJobFailed"
        cause = json.loads(execution["cause"])
        assert cause["Error"] == "RunTaskFailures"
        assert json.loads(cause["Cause"]) == result["Failures"]
        assert re.search("Capacity is unavailable", cause["Cause"])
