"""`run`, `status`, `logs` and `teardown` against the moto server, on the example stacks deployed in
dev and prod by `deploy --env` (an account of this module's own: tests/support/operations.py).

moto runs what these commands send, within its limits: its ECS RunTask returns a task that moves
to STOPPED after a few DescribeTasks, and its containers always report exit code 0 (no image
runs); its Step Functions executions stay RUNNING (no state machine interpreter here); it creates
no CloudWatch alarms and no Scheduler schedules through CloudFormation; containers write no logs
(the tests write the events a container would, under ECS's stream names). Exit codes other than
0, stop reasons, RunTask failures, finished executions and alarm states are tested against AWS's
documented response shapes in test_operations_stubbed.py.
"""

from __future__ import annotations

import json
import time

import pytest

from generator.commands import deploy_env, logs, run_job, teardown
from generator.commands.cli import main
from support.operations import account_credentials, fresh_account, moto_like_aws, operations_project, register_family

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

ENVIRONMENTS = ("dev", "prod")


@pytest.fixture(scope="module")
def ops(tmp_path_factory, moto_endpoint):
    """Both environments deployed; the foundation's family given a revision moto can run."""
    account = fresh_account()
    with account_credentials(moto_endpoint, account), moto_like_aws():
        project = operations_project(tmp_path_factory.mktemp("operations-run"), moto_endpoint, account)
        patch = pytest.MonkeyPatch()
        patch.setattr(deploy_env, "DEPLOYER", project.deployer())
        try:
            for environment in ENVIRONMENTS:
                assert main(
                    ["deploy", "--env", environment, "--endpoint-url", moto_endpoint, *project.paths(), "--", "--no-confirm-changeset"]) == 0
        finally:
            patch.undo()
        for environment in ENVIRONMENTS:
            cloudformation = project.client("cloudformation", "ap-northeast-1")
            outputs = {o["OutputKey"]: o["OutputValue"] for o in
                       cloudformation.describe_stacks(StackName=f"batch-base-{environment}")["Stacks"][0]["Outputs"]}
            register_family(project, "ap-northeast-1", outputs["ClusterArn"].split("/")[-1], outputs["TaskFamily"], "app",
                            log_group=outputs["LogGroup"])
        yield project


@pytest.fixture
def cli(ops, run_cli, monkeypatch):
    monkeypatch.setattr(run_job, "WAIT_SECONDS", 0.01)

    def run(*args):
        return run_cli(*args, "--endpoint-url", ops.endpoint, "--manifest", str(ops.folder / "stacks.toml"), cwd=ops.folder)

    return run


def _task(ops, region: str, cluster: str, task_arn: str) -> dict:
    (task,) = ops.client("ecs", region).describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
    return task


def _started_task(output: str) -> str:
    return next(line.split()[1] for line in output.splitlines() if line.startswith("  task arn:"))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_run_wait_starts_the_scheduled_rule_task_and_exits_with_the_container_code(ops, cli, environment):
    result = cli("run", "artisan-logger", "--env", environment, "--wait")
    assert result.code == 0, result.err
    task_arn = _started_task(result.out)
    assert result.out.startswith(f"artisan-logger (artisan-logger-{environment}): started 1 task(s) as rule ScheduleRule would "
                                 f"(RunTask arn:aws:ecs:us-east-1:{ops.account}:task-definition/artisan in arn:aws:ecs:us-east-1:")
    assert f"  logs: log group /ecs/artisan, stream php/php/{task_arn.rsplit('/', 1)[-1]}\n" in result.out
    assert "container php exit code 0\n" in result.out and result.out.endswith("exit code 0\n")
    task = _task(ops, "us-east-1", f"web-{environment}", task_arn)
    assert task["lastStatus"] == "STOPPED"
    # the rule target's Input, as the stack is deployed: the container override
    assert task["overrides"]["containerOverrides"] == [{"name": "php", "command": ["php", "artisan", "sample:logger"]}]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_run_sends_the_schedulers_request_from_the_live_stack(ops, cli, environment):
    """nightly-report runs on an EventBridge Scheduler schedule (which moto does not create): the
    request comes from the deployed template's schedule target with the stack's parameter values."""
    result = cli("run", "nightly-report", "--env", environment)
    assert result.code == 0, result.err
    assert "started 1 task(s) as schedule Schedule would" in result.out
    task = _task(ops, "ap-northeast-1", f"batch-{environment}", _started_task(result.out))
    assert task["overrides"]["containerOverrides"] == [{"name": "app", "command": ["python", "report.py", "--day", "yesterday"],
                                                        "environment": [{"name": "REPORT_BUCKET", "value": "sales-reports"}]}]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in ops.client("cloudformation", "ap-northeast-1").describe_stacks(
        StackName=f"nightly-report-{environment}")["Stacks"][0]["Parameters"]}
    (attachment,) = task["attachments"]
    assert {d["name"]: d["value"] for d in attachment["details"]}["subnetId"] == parameters["Subnets"].split(",")[0]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_run_key_passes_the_object_as_the_rule_would_with_the_foundations_family(ops, cli, environment):
    result = cli("run", "csv-ingest", "--env", environment, "--key", "test/aaa/complete.txt")
    assert result.code == 0, result.err
    assert "started 1 task(s) as rule ObjectCreatedRule would" in result.out
    assert f"task-definition/batch-base-{environment} in " in result.out  # the foundation's family, from its exports
    task = _task(ops, "ap-northeast-1", result.out.split(" in ", 1)[1].split(")")[0], _started_task(result.out))
    (override,) = task["overrides"]["containerOverrides"]
    assert override == {"name": "app", "command": ["python", "ingest.py"], "environment": [
        {"name": "S3_BUCKET", "value": f"sample-bucket-{environment}-{ops.account}"}, {"name": "OBJECT_KEY", "value": "test/aaa/complete.txt"}]}
    assert f"  logs: log group /ecs/batch-base-{environment}, stream app/app/" in result.out


def test_run_key_must_match_the_rules_filter_and_is_required(ops, cli):
    missing = cli("run", "csv-ingest", "--env", "dev")
    assert (missing.code, missing.err) == (2, "error: stack csv-ingest: --key: needs --key KEY: its rule starts the job for an S3 "
                                              "object and passes the bucket and key to it\n")
    other = cli("run", "csv-ingest", "--env", "dev", "--key", "other/x.csv")
    assert other.code == 2 and len(other.err.splitlines()) == 1
    assert other.err.startswith("error: stack csv-ingest: --key: rule ObjectCreatedRule would not start the job for key 'other/x.csv': "
                                "field detail.object.key: ")
    scheduled = cli("run", "artisan-logger", "--env", "dev", "--key", "x")
    assert scheduled.code == 2 and "--key is for a job started by an S3 object" in scheduled.err


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_run_starts_an_execution_of_the_state_machine(ops, cli, environment):
    result = cli("run", "stock-trader-task", "--env", environment)
    assert result.code == 0, result.err
    execution_arn = next(line.split()[1] for line in result.out.splitlines() if line.startswith("  execution "))
    execution = ops.client("stepfunctions", "us-east-1").describe_execution(executionArn=execution_arn)
    assert execution["stateMachineArn"].endswith(f":stateMachine:stock-trader-task-{environment}")
    assert json.loads(execution["input"]) == {}
    assert "as state machine StateMachine (no trigger) would" in result.out


def test_run_refuses_a_stack_without_a_job_and_a_stack_not_deployed(ops, cli):
    redeploy = cli("run", "api-redeploy", "--env", "dev")
    assert (redeploy.code, redeploy.err) == (2, "error: stack api-redeploy: starts no ECS task and no state machine, so there is no job to run\n")
    teardown_first = cli("run", "artisan-logger", "--env", "staging")
    assert (teardown_first.code, teardown_first.err) == (2, "error: stack artisan-logger: --env: unknown environment 'staging'; allowed: dev, prod\n")


def test_status_lists_runs_next_runs_queue_depth_and_alarms(ops, cli):
    assert cli("run", "artisan-logger", "--env", "dev", "--wait").code == 0
    queue_url = next(r["PhysicalResourceId"] for r in ops.client("cloudformation", "us-east-1").list_stack_resources(
        StackName="artisan-logger-dev")["StackResourceSummaries"] if r["LogicalResourceId"] == "DeadLetterQueue")
    ops.client("sqs", "us-east-1").send_message(QueueUrl=queue_url, MessageBody="{}")
    result = cli("status", "artisan-logger", "--env", "dev")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "artisan-logger (artisan-logger-dev) in us-east-1: CREATE_COMPLETE"
    assert lines[1] == "runs (stopped tasks of artisan in web-dev, last 1h, newest first):"
    assert any(" exit 0" in line and line.startswith("  ") for line in lines[2:])
    assert any(line.startswith("schedule ScheduleRule: cron(20 2 * * ? *) in UTC, ENABLED; next: ") and line.count("T02:20:00Z") == 3
               for line in lines)
    assert "dead-letter queue DeadLetterQueue: 1 message(s)" in lines
    # moto creates no alarms through CloudFormation: they are listed, their state unknown
    assert "alarm DeadLetterQueueAlarm: unknown (not in the stack's resources)" in lines

    report = json.loads(cli("status", "artisan-logger", "--env", "dev", "--json", "--count", "1").out)
    assert report["stackName"] == "artisan-logger-dev" and len(report["runs"]) == 1
    assert report["runs"][0]["exitCode"] == 0 and report["runs"][0]["container"] == "php"
    assert [q["messages"] for q in report["deadLetterQueues"]] == [1]
    assert {a["name"] for a in report["alarms"]} == {"DeadLetterQueueAlarm", "FailedInvocationsAlarm", "MissedRunAlarm",
                                                   "SuccessfulRunRuleFailedInvocationsAlarm",
                                                   "TaskFailedAlertRuleFailedInvocationsAlarm"}
    assert report["notes"] == []
    longer = cli("status", "artisan-logger", "--env", "dev", "--since", "2h").out
    assert longer.endswith("note: ECS promises only that stopped tasks stay listed for at least an hour after they stop: "
                           "older runs may be missing\n")


def test_status_of_a_state_machine_lists_its_executions_and_the_schedule_in_its_zone(ops, cli):
    assert cli("run", "stock-trader-task", "--env", "prod").code == 0
    report = json.loads(cli("status", "stock-trader-task", "--env", "prod", "--json").out)
    assert report["executions"] and report["executions"][0]["status"] == "RUNNING"
    assert report["task"]["family"] == "stock-trader"
    nightly = json.loads(cli("status", "nightly-report", "--env", "prod", "--json").out)
    (schedule,) = nightly["schedules"]
    assert (schedule["expression"], schedule["timezone"], schedule["state"]) == ("cron(0 2 * * ? *)", "Asia/Tokyo", "ENABLED")
    assert all(n["utc"].endswith("T17:00:00Z") and n["local"].endswith("T02:00+09:00") for n in schedule["next"])


def test_logs_prints_each_runs_container_output_newest_run_first_and_follows(ops, cli, monkeypatch):
    assert cli("run", "artisan-logger", "--env", "prod").code == 0
    client = ops.client("logs", "us-east-1")
    try:
        client.create_log_group(logGroupName="/ecs/artisan")
    except client.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    streams = {"php/php/older0task": [(now - 120_000, "older run")], "php/php/newer0task": [(now - 60_000, "newer run: line 1"),
                                                                                           (now - 59_000, "newer run: line 2")],
               "other/sidecar/newer0task": [(now - 60_000, "not the job container")]}
    for stream, events in streams.items():
        client.create_log_stream(logGroupName="/ecs/artisan", logStreamName=stream)
        client.put_log_events(logGroupName="/ecs/artisan", logStreamName=stream,
                              logEvents=[{"timestamp": t, "message": m} for t, m in events])
    result = cli("logs", "artisan-logger", "--env", "prod", "--since", "10m")
    assert result.code == 0, result.err
    out = result.out
    assert out.index("== container php: php/php/newer0task (log group /ecs/artisan) ==") < out.index("== container php: php/php/older0task")
    assert "newer run: line 1\n" in out and out.index("newer run: line 1") < out.index("newer run: line 2")
    assert "not the job container" not in out

    rounds = []

    def sleep(_seconds):  # the first poll finds one new event; the second is Ctrl-C
        if rounds:
            raise KeyboardInterrupt
        rounds.append(1)
        client.put_log_events(logGroupName="/ecs/artisan", logStreamName="php/php/newer0task",
                              logEvents=[{"timestamp": int(time.time() * 1000), "message": "while following"}])

    monkeypatch.setattr(logs.time, "sleep", sleep)
    followed = cli("logs", "artisan-logger", "--env", "prod", "--since", "10m", "--follow")
    assert followed.code == 0
    assert followed.out.endswith(" [newer0task] while following\n") and followed.out.count("newer run: line 2") == 1


def test_logs_of_a_foundation_importer_read_the_foundations_group_and_bad_since_is_one_line(ops, cli):
    result = cli("logs", "csv-ingest", "--env", "dev")
    assert result.code == 0, result.err
    assert result.out == "csv-ingest-dev: no log events in the last 1h (/ecs/batch-base-dev streams app/app/*)\n"
    bad = cli("logs", "csv-ingest", "--env", "dev", "--since", "yesterday")
    assert (bad.code, bad.err) == (2, "error: --since: 'yesterday' is not a duration; allowed: a number and s, m, h or d, like 30m, 1h or 2d\n")


def test_teardown_refuses_a_foundation_while_its_importer_stays(ops, cli):
    result = cli("teardown", "--env", "dev", "batch-base", "--yes")
    assert (result.code, result.err) == (2, "error: stack batch-base: batch-base-dev exports values that csv-ingest-dev still "
                                            "import(s); delete it first (or name it in this teardown)\n")
    assert ops.client("cloudformation", "ap-northeast-1").describe_stacks(StackName="batch-base-dev")["Stacks"]


def test_teardown_needs_a_terminal_or_yes(ops, cli, monkeypatch):
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    result = cli("teardown", "--env", "dev")
    assert result.code == 2 and result.err == "error: --yes: not confirmed: stdin is not a terminal; pass --yes to delete without asking\n"
    assert "teardown --env dev deletes, in this order:\n" in result.out


def test_teardown_deletes_importers_before_foundations_and_keeps_the_bucket(ops, cli, monkeypatch):
    monkeypatch.setattr(teardown, "POLL_SECONDS", 0.01)
    result = cli("teardown", "--env", "dev", "--yes")
    assert result.code == 0, result.err
    deleted = [line.split(":")[0] for line in result.out.splitlines() if line.endswith(": deleted")]
    assert sorted(deleted) == sorted(f"{s}-dev" for s in ("nightly-report", "artisan-logger", "api-redeploy", "batch-base", "csv-ingest",
                                                          "stock-trader-task"))
    assert deleted.index("csv-ingest-dev") < deleted.index("batch-base-dev")
    bucket = f"sample-bucket-dev-{ops.account}"
    assert f"csv-ingest-dev: kept bucket {bucket} (DeletionPolicy Retain): delete it yourself when it is no longer needed\n" in result.out
    assert ops.client("s3", "ap-northeast-1").head_bucket(Bucket=bucket)
    for region in ("us-east-1", "ap-northeast-1"):
        live = [s["StackName"] for s in ops.client("cloudformation", region).describe_stacks()["Stacks"]]
        assert not [name for name in live if name.endswith("-dev")]
        assert [name for name in live if name.endswith("-prod")]  # the other environment is untouched
    again = cli("teardown", "--env", "dev", "--yes")
    assert again.code == 0 and again.out.endswith("teardown --env dev: nothing to delete\n")
    gone = cli("status", "artisan-logger", "--env", "dev")
    assert gone.code == 2 and gone.err == ("error: stack artisan-logger: --env: is not deployed: there is no stack artisan-logger-dev in "
                                           "us-east-1; deploy it first (python -m generator deploy --env dev artisan-logger)\n")
