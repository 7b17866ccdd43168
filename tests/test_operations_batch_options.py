"""`run` and `status` with the issue 15 options, against AWS's documented response shapes (botocore's
Stubber checks each request and response against the service model; moto runs no state machine with
a listing of itself and stores Scheduler targets not at all):

- `run` of a Scheduler job sends the RunTask request the schedule would: the capacity provider
  strategy instead of a launch type, the task size in the overrides, and the tags;
- `status` of an sfn_task with `concurrency = 1` shows a run that was skipped because an older one
  was still running, instead of a SUCCEEDED run of the job.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from support.stubbed_aws import ACCOUNT, queue_deployed

pytestmark = pytest.mark.slow  # botocore clients, as in test_operations_stubbed.py

MANIFEST = '''
[stacks.paris-report]
blueprint = "scheduled_task"
[stacks.paris-report.options]
schedule = "cron(30 3 * * ? *)"
timezone = "Europe/Paris"
container_name = "app"
capacity_provider_strategy = [{ provider = "FARGATE_SPOT", weight = 3 }, { provider = "FARGATE", base = 1, weight = 1 }]
cpu = 1024
memory = 2048
propagate_tags = "TASK_DEFINITION"
stack_tags_on_tasks = true
[stacks.paris-report.environments.dev]
region = "us-east-1"
tags = { team = "reports", "cost-center" = "4711" }
[stacks.paris-report.environments.dev.parameters]
ClusterArn = "arn:aws:ecs:us-east-1:123456789012:cluster/batch"
TaskFamily = "paris-report"
Subnets = "subnet-0a1b2c3d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::123456789012:role/exec"

[stacks.sync-job]
blueprint = "sfn_task"
[stacks.sync-job.options]
container_name = "app"
concurrency = 1
[stacks.sync-job.environments.dev]
region = "us-east-1"
[stacks.sync-job.environments.dev.parameters]
ClusterArn = "arn:aws:ecs:us-east-1:123456789012:cluster/batch"
TaskFamily = "sync"
Subnets = "subnet-0a1b2c3d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::123456789012:role/exec"
'''


@pytest.fixture
def rendered(tmp_path, run_cli):
    (tmp_path / "stacks.toml").write_text(MANIFEST)
    assert run_cli("render", cwd=tmp_path).code == 0
    return tmp_path


def test_run_sends_the_schedules_run_task_request_with_strategy_size_and_tags(rendered, run_cli, stubs):
    _, overrides, _ = queue_deployed(stubs, rendered, "paris-report", "dev", "us-east-1")
    task = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/batch/0f6b"
    stubs["ecs"].add_response("run_task", {"tasks": [{"taskArn": task, "taskDefinitionArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/paris-report:3"}],
                                           "failures": []}, {
        "cluster": overrides["ClusterArn"], "taskDefinition": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/paris-report", "count": 1,
        "platformVersion": "LATEST", "propagateTags": "TASK_DEFINITION",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0123456789abcdef0"],
                                                         "assignPublicIp": "DISABLED"}},
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 3}, {"capacityProvider": "FARGATE", "weight": 1, "base": 1}],
        "tags": [{"key": "cost-center", "value": "4711"}, {"key": "team", "value": "reports"}],
        "overrides": {"cpu": "1024", "memory": "2048"},
    })
    stubs["ecs"].add_response("describe_task_definition", {"taskDefinition": {
        "taskDefinitionArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/paris-report:3", "family": "paris-report",
        "containerDefinitions": [{"name": "app", "image": "x"}]}}, {"taskDefinition": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/paris-report:3"})
    result = run_cli("run", "paris-report", "--env", "dev", cwd=rendered)
    assert result.code == 0, result.err
    assert f"  task {task}" in result.out
    stubs.done()  # the stubbed RunTask matched the request exactly (no launchType)


def test_status_shows_a_skipped_run_as_skipped(rendered, run_cli, stubs):
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:sync-job-dev"
    queue_deployed(stubs, rendered, "sync-job", "dev", "us-east-1", {"StateMachine": machine})
    stubs["ecs"].add_response("list_tasks", {"taskArns": []}, {"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/batch", "family": "sync",
                                                              "desiredStatus": "STOPPED"})
    stubs["ecs"].add_response("list_tasks", {"taskArns": []}, {"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/batch", "family": "sync",
                                                              "desiredStatus": "RUNNING"})
    older = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:sync-job-dev:older"
    skipped = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:sync-job-dev:skipped"
    ran = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:sync-job-dev:ran"
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    stubs["stepfunctions"].add_response("list_executions", {"executions": [
        {"executionArn": skipped, "stateMachineArn": machine, "name": "skipped", "status": "SUCCEEDED", "startDate": start, "stopDate": start},
        {"executionArn": ran, "stateMachineArn": machine, "name": "ran", "status": "SUCCEEDED", "startDate": start, "stopDate": start},
        {"executionArn": older, "stateMachineArn": machine, "name": "older", "status": "RUNNING", "startDate": start},
    ]}, {"stateMachineArn": machine, "maxResults": 10})
    base = {"stateMachineArn": machine, "status": "SUCCEEDED", "startDate": start, "stopDate": start}
    stubs["stepfunctions"].add_response("describe_execution", {**base, "executionArn": skipped, "output": json.dumps(
        {"skipped": "a previous run of this state machine is still running", "runningExecution": older})}, {"executionArn": skipped})
    stubs["stepfunctions"].add_response("describe_execution", {**base, "executionArn": ran, "output": json.dumps({"task": {}})}, {"executionArn": ran})
    result = run_cli("status", "sync-job", "--env", "dev", cwd=rendered)
    assert result.code == 0, result.err
    lines = [line.split(None, 1)[1] for line in result.out.splitlines() if line.startswith("  20")]
    assert f"SKIPPED    skipped  previous run still running: {older}" in lines
    assert "SUCCEEDED  ran" in lines and "RUNNING    older" in lines
    stubs.done()
