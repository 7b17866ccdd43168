"""What moto cannot show, against AWS's documented response shapes (botocore's Stubber checks every
request against the service model and every canned response against its output shape):
change sets with Replacement True/Conditional and Details, paginated; a change set that fails, and
one that finds nothing to change; SAM templates through a change set (moto applies no transform);
the failure reason of a deploy; RunTask exit codes, failures[] and tasks that fail to start; a
finished Step Functions execution; alarm states; ListImports naming an importer from outside the
manifest; a stack whose deletion fails. Every test also checks that what it queued was used up
(nothing asked that the command skipped) and that no change set is left: DeleteChangeSet is queued
and must be called.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.stub import ANY

from generator.commands.aws_session import Aws, AwsTarget
from support.stubbed_aws import ACCOUNT, NOW, described_stack, overrides_of, queue_deployed, queue_resources, template_of, with_defaults

# Each test builds botocore clients, loading their service data again (about 0.4 s a test here).
pytestmark = pytest.mark.slow

@pytest.fixture
def rendered(project, run_cli):
    assert run_cli("render", cwd=project).code == 0
    return project


# --- diff --live ------------------------------------------------------------------------------------------


def queue_live_stack(stubs, project, stack: str, environment: str, region: str, *, live_template: dict | None = None, live_values=None):
    template = template_of(project, stack)
    overrides = overrides_of(project, stack, environment)
    name = f"{stack}-{environment}"
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, region, live_values or with_defaults(template, overrides)),
                                         {"StackName": name})
    stubs["cloudformation"].add_response("get_template", {"TemplateBody": json.dumps(live_template or template)},
                                         {"StackName": name, "TemplateStage": "Original"})
    return template, overrides, name


def queue_change_set(stubs, name: str, region: str, pages: list[dict], *, in_progress: int = 0):
    """CreateChangeSet, `in_progress` polls that find it CREATE_IN_PROGRESS, the pages of the
    finished change set (NextToken chained), DeleteChangeSet."""
    change_set = f"arn:aws:cloudformation:{region}:{ACCOUNT}:changeSet/ecs-batch-templates-diff-1/5f0a"
    stubs["cloudformation"].add_response("create_change_set", {"Id": change_set, "StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{name}/x"},
                                         {"StackName": name, "ChangeSetName": ANY, "ChangeSetType": "UPDATE", "TemplateBody": ANY,
                                          "Parameters": ANY, "Capabilities": ANY, "Tags": ANY, "IncludeNestedStacks": False, "Description": ANY})
    for _ in range(in_progress):
        stubs["cloudformation"].add_response("describe_change_set", {"ChangeSetId": change_set, "StackName": name, "Status": "CREATE_IN_PROGRESS",
                                                                     "ExecutionStatus": "UNAVAILABLE", "Changes": []},
                                             {"ChangeSetName": change_set, "StackName": name})
    for index, page in enumerate(pages):
        request = {"ChangeSetName": change_set, "StackName": name, **({"NextToken": f"page{index}"} if index else {})}
        body = {"ChangeSetName": "ecs-batch-templates-diff-1", "ChangeSetId": change_set, "StackName": name, "ExecutionStatus": "AVAILABLE", **page}
        if index + 1 < len(pages):
            body["NextToken"] = f"page{index + 1}"
        stubs["cloudformation"].add_response("describe_change_set", body, request)
    stubs["cloudformation"].add_response("delete_change_set", {}, {"ChangeSetName": change_set})


def queue_iam_reads(stubs, name: str, resources: dict[str, str] | None = None, exports: dict[str, str] | None = None):
    stubs["cloudformation"].add_response("list_stack_resources", {"StackResourceSummaries": [
        {"LogicalResourceId": k, "PhysicalResourceId": v, "ResourceType": "AWS::SQS::Queue", "LastUpdatedTimestamp": NOW,
         "ResourceStatus": "UPDATE_COMPLETE"} for k, v in (resources or {}).items()]}, {"StackName": name})
    stubs["cloudformation"].add_response("list_exports", {"Exports": [{"Name": k, "Value": v} for k, v in (exports or {}).items()]}, {})


def test_diff_live_calls_out_replacements_first_reads_every_page_and_deletes_the_change_set(rendered, run_cli, stubs):
    template, overrides, name = queue_live_stack(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    modify = {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "ScheduleRule", "ResourceType": "AWS::Events::Rule",
                                                     "Replacement": "False", "Scope": ["Properties"], "Details": [
                                                         {"Target": {"Attribute": "Properties", "Name": "ScheduleExpression", "RequiresRecreation": "Never"},
                                                          "Evaluation": "Static", "ChangeSource": "DirectModification"}]}}
    replace = {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "DeadLetterQueue", "ResourceType": "AWS::SQS::Queue",
                                                      "Replacement": "True", "Scope": ["Properties"], "Details": [
                                                          {"Target": {"Attribute": "Properties", "Name": "FifoQueue", "RequiresRecreation": "Always"},
                                                           "Evaluation": "Static", "ChangeSource": "DirectModification"}]}}
    conditional = {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "RunTaskRole", "ResourceType": "AWS::IAM::Role",
                                                          "Replacement": "Conditional", "Scope": ["Properties"], "Details": [
                                                              {"Target": {"Attribute": "Properties", "Name": "RoleName", "RequiresRecreation": "Conditionally"},
                                                               "Evaluation": "Dynamic", "ChangeSource": "ParameterReference", "CausingEntity": "TaskFamily"}]}}
    added = {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "NewAlarm", "ResourceType": "AWS::CloudWatch::Alarm"}}
    queue_change_set(stubs, name, "us-east-1", [{"Status": "CREATE_COMPLETE", "Changes": [modify, replace]},
                                                {"Status": "CREATE_COMPLETE", "Changes": [added, conditional]}], in_progress=2)
    queue_iam_reads(stubs, name)
    result = run_cli("diff", "--live", "--env", "dev", "artisan-logger", cwd=rendered)
    assert result.code == 1, result.err
    assert result.out.splitlines()[:5] == [
        "artisan-logger (artisan-logger-dev): 4 resource change(s), 2 replacing a resource",
        "  REPLACE     DeadLetterQueue (AWS::SQS::Queue): Properties.FifoQueue [replaces]",
        "  may replace RunTaskRole (AWS::IAM::Role): Properties.RoleName [may replace]",
        "  add         NewAlarm (AWS::CloudWatch::Alarm)",
        "  modify      ScheduleRule (AWS::Events::Rule): Properties.ScheduleExpression",
    ]
    stubs.done()
    sent = stubs.request("CreateChangeSet")
    assert json.loads(sent["TemplateBody"]) == template
    assert sent["Parameters"] == [{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()]
    assert sent["Capabilities"] == ["CAPABILITY_IAM"] and sent["Tags"] == [{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "dev"}]


def test_a_failed_change_set_is_one_line_exit_2_and_is_deleted(rendered, run_cli, stubs):
    _, _, name = queue_live_stack(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    queue_change_set(stubs, name, "us-east-1", [{"Status": "FAILED", "StatusReason": "Parameter values specified for a template which\ndoes not require them."}])
    result = run_cli("diff", "--live", "--env", "dev", "artisan-logger", cwd=rendered)
    assert (result.code, result.err) == (2, "error: stack artisan-logger: the change set for artisan-logger-dev failed: Parameter values "
                                            "specified for a template which does not require them.\n")
    stubs.done()


def test_an_error_while_waiting_still_deletes_the_change_set(rendered, run_cli, stubs):
    _, _, name = queue_live_stack(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    change_set = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/ecs-batch-templates-diff-1/5f0a"
    stubs["cloudformation"].add_response("create_change_set", {"Id": change_set}, None)
    stubs["cloudformation"].add_client_error("describe_change_set", "Throttling", "Rate exceeded", 400)
    stubs["cloudformation"].add_response("delete_change_set", {}, {"ChangeSetName": change_set})
    result = run_cli("diff", "--live", "--env", "dev", "artisan-logger", cwd=rendered)
    assert (result.code, result.err) == (2, f"error: stack artisan-logger: DescribeChangeSet {change_set}: Throttling: Rate exceeded\n")
    stubs.done()


def test_a_change_set_still_being_created_is_deleted_once_its_creation_ends(rendered, run_cli, stubs):
    """DeleteChangeSet refuses a change set in CREATE_IN_PROGRESS (InvalidChangeSetStatus): the
    clean-up waits for the creation to end and deletes it then."""
    _, _, name = queue_live_stack(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    change_set = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/ecs-batch-templates-diff-1/5f0a"
    cloudformation = stubs["cloudformation"]
    cloudformation.add_response("create_change_set", {"Id": change_set}, None)
    cloudformation.add_client_error("describe_change_set", "Throttling", "Rate exceeded", 400)
    for status in ("CREATE_IN_PROGRESS", "CREATE_COMPLETE"):  # refused, still being created; refused, created now
        cloudformation.add_client_error("delete_change_set", "InvalidChangeSetStatus", "Cannot delete ChangeSet in status CREATE_IN_PROGRESS",
                                        400, expected_params={"ChangeSetName": change_set})
        cloudformation.add_response("describe_change_set", {"ChangeSetId": change_set, "StackName": name, "Status": status, "Changes": []},
                                    {"ChangeSetName": change_set, "StackName": name})
    cloudformation.add_response("delete_change_set", {}, {"ChangeSetName": change_set})
    result = run_cli("diff", "--live", "--env", "dev", "artisan-logger", cwd=rendered)
    assert (result.code, result.err) == (2, f"error: stack artisan-logger: DescribeChangeSet {change_set}: Throttling: Rate exceeded\n")
    stubs.done()


def test_a_change_set_made_by_an_unanswered_create_is_found_by_name_and_deleted(rendered, run_cli, stubs):
    """A CreateChangeSet that timed out may have made the change set, and botocore's retry then gets
    AlreadyExistsException: the clean-up looks it up by the name it sent and deletes it."""
    _, _, name = queue_live_stack(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    cloudformation = stubs["cloudformation"]
    cloudformation.add_client_error("create_change_set", "AlreadyExistsException", "ChangeSet ecs-batch-templates-diff-1 already exists", 400)
    change_set = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/ecs-batch-templates-diff-1/5f0a"
    cloudformation.add_response("describe_change_set", {"ChangeSetId": change_set, "StackName": name, "Status": "CREATE_COMPLETE", "Changes": []},
                                {"ChangeSetName": ANY, "StackName": name})
    cloudformation.add_response("delete_change_set", {}, {"ChangeSetName": ANY, "StackName": name})
    result = run_cli("diff", "--live", "--env", "dev", "artisan-logger", cwd=rendered)
    assert result.code == 2 and result.err.startswith("error: stack artisan-logger: CreateChangeSet for artisan-logger-dev: AlreadyExistsException")
    sent = stubs.request("CreateChangeSet")["ChangeSetName"]
    assert stubs.request("DescribeChangeSet")["ChangeSetName"] == sent and stubs.request("DeleteChangeSet") == {"ChangeSetName": sent, "StackName": name}
    stubs.done()


def test_a_create_without_an_answer_deletes_nothing_it_did_not_make(rendered, run_cli, stubs, monkeypatch):
    import botocore.exceptions

    _, _, name = queue_live_stack(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    cloudformation = stubs["cloudformation"]
    client = stubs.clients["cloudformation"]

    def timed_out(**request):
        stubs.requests.append(("CreateChangeSet", request))
        raise botocore.exceptions.ReadTimeoutError(endpoint_url="https://cloudformation.us-east-1.amazonaws.com/")

    monkeypatch.setattr(client, "create_change_set", timed_out)
    cloudformation.add_client_error("describe_change_set", "ChangeSetNotFound", "ChangeSet [ecs-batch-templates-diff-1] does not exist", 404,
                                    expected_params={"ChangeSetName": ANY, "StackName": name})
    result = run_cli("diff", "--live", "--env", "dev", "artisan-logger", cwd=rendered)
    assert result.code == 2 and len(result.err.splitlines()) == 1 and "Read timeout on endpoint URL" in result.err
    assert stubs.request("DescribeChangeSet")["ChangeSetName"] == stubs.request("CreateChangeSet")["ChangeSetName"]
    stubs.done()  # and no DeleteChangeSet was asked (none was queued)


@pytest.mark.parametrize("how", ["status reason", "validation error"])
def test_a_change_set_without_changes_is_no_change(rendered, run_cli, stubs, how):
    _, _, name = queue_live_stack(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    if how == "status reason":
        queue_change_set(stubs, name, "us-east-1", [{"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes. "
                                                                                         "Submit different information to create a change set."}])
    else:  # refused at creation: there is no change set to delete
        stubs["cloudformation"].add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)
    queue_iam_reads(stubs, name)
    result = run_cli("diff", "--live", "--env", "dev", "artisan-logger", cwd=rendered)
    assert result.code == 0, result.err
    assert result.out == "artisan-logger (artisan-logger-dev): no changes\ndiff --live: 0 of 1 stack(s) would change\n"
    stubs.done()


def test_a_sam_stack_keeps_its_transform_and_live_artifacts_and_sends_a_changed_definition_inline(rendered, run_cli, stubs):
    """moto applies no SAM transform, so the SAM path is checked here: the template sent keeps
    `Transform` (CloudFormation expands it in the change set); an unchanged artifact keeps its live
    S3 location; a changed state machine definition goes inline as `Definition`."""
    template = template_of(rendered, "stock-trader-task")
    definition = (rendered / "templates_out" / "stock-trader-task" / "statemachine" / "stock-trader-task.asl.json").read_text()
    location = {"Bucket": "aws-sam-cli-managed-default-samclisourcebucket-1", "Key": "5e1c3d0b8a4f"}
    live = json.loads(json.dumps(template))
    live["Resources"]["StateMachine"]["Properties"]["DefinitionUri"] = location
    for changed in (False, True):
        _, _, name = queue_live_stack(stubs, rendered, "stock-trader-task", "dev", "us-east-1", live_template=live)
        body = definition.replace("FARGATE", "FARGATE_SPOT") if changed else definition
        stubs["s3"].add_response("get_object", {"Body": _body(body.encode())}, location)
        queue_change_set(stubs, name, "us-east-1", [{"Status": "CREATE_COMPLETE", "Changes": [
            {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "StateMachine",
                                                    "ResourceType": "AWS::StepFunctions::StateMachine", "Replacement": "False"}}]}])
        queue_iam_reads(stubs, name)
        stubs.requests.clear()
        result = run_cli("diff", "--live", "--env", "dev", "stock-trader-task", cwd=rendered)
        assert result.code == 1, result.err
        sent = json.loads(stubs.request("CreateChangeSet")["TemplateBody"])
        assert sent["Transform"] == "AWS::Serverless-2016-10-31"
        machine = sent["Resources"]["StateMachine"]["Properties"]
        if changed:  # the local definition, inline (the live one runs on FARGATE_SPOT)
            assert "DefinitionUri" not in machine and machine["Definition"] == json.loads(definition)
        else:
            assert machine["DefinitionUri"] == location and "Definition" not in machine
        stubs.done()


def test_a_changed_function_folder_is_staged_beside_the_live_artifact_and_removed_with_the_change_set(rendered, run_cli, stubs):
    import io
    import zipfile

    template = template_of(rendered, "api-redeploy")
    live = json.loads(json.dumps(template))
    live["Resources"]["RedeployFunction"]["Properties"]["CodeUri"] = "s3://aws-sam-cli-managed-default-samclisourcebucket-1/api-redeploy/9d2c"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 'the deployed version'\n")
    _, _, name = queue_live_stack(stubs, rendered, "api-redeploy", "dev", "ap-northeast-1", live_template=live)
    stubs["s3"].add_response("get_object", {"Body": _body(buffer.getvalue())},
                             {"Bucket": "aws-sam-cli-managed-default-samclisourcebucket-1", "Key": "api-redeploy/9d2c"})
    stubs["s3"].add_response("put_object", {}, {"Bucket": "aws-sam-cli-managed-default-samclisourcebucket-1", "Key": ANY, "Body": ANY})
    queue_change_set(stubs, name, "ap-northeast-1", [{"Status": "CREATE_COMPLETE", "Changes": [
        {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "RedeployFunction",
                                                "ResourceType": "AWS::Lambda::Function", "Replacement": "False"}}]}])
    stubs["s3"].add_response("delete_object", {}, {"Bucket": "aws-sam-cli-managed-default-samclisourcebucket-1", "Key": ANY})
    queue_iam_reads(stubs, name)
    result = run_cli("diff", "--live", "--env", "dev", "api-redeploy", cwd=rendered)
    assert result.code == 1, result.err
    staged = stubs.request("PutObject")
    assert staged["Key"].startswith("api-redeploy/ecs-batch-templates-diff-") and staged["Key"].endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(staged["Body"])) as archive:  # the rendered handler
        assert archive.read("app.py").decode() == (rendered / "templates_out" / "api-redeploy" / "functions" / "redeploy" / "app.py").read_text()
    sent = json.loads(stubs.request("CreateChangeSet")["TemplateBody"])
    assert sent["Resources"]["RedeployFunction"]["Properties"]["CodeUri"] == f"s3://aws-sam-cli-managed-default-samclisourcebucket-1/{staged['Key']}"
    assert stubs.request("DeleteObject")["Key"] == staged["Key"]
    stubs.done()


def _body(data: bytes):
    import io

    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))


# --- deploy: the failure reason --------------------------------------------------------------------------


def test_a_failed_deploy_reports_the_stack_status_and_the_first_failed_resource_of_the_latest_operation(stubs):
    from generator.commands.deploy_env import failure_reason
    from generator.commands.plan import PlannedStack
    from generator.core.manifest import load_manifest
    from support.paths import REPO

    spec = load_manifest(REPO / "stacks.toml")["csv-ingest"]
    planned = PlannedStack(spec, "dev", ("batch-base",))
    name = "csv-ingest-dev"
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, "ap-northeast-1", {}, status="UPDATE_ROLLBACK_COMPLETE",
                                                                            reason="The following resource(s) failed to update: [ObjectCreatedRule]."),
                                         {"StackName": name})

    def event(logical, kind, status, reason="", minute=0):
        return {"StackId": "x", "EventId": f"{logical}-{status}-{minute}", "StackName": name, "LogicalResourceId": logical,
                "ResourceType": kind, "Timestamp": NOW + dt.timedelta(minutes=minute), "ResourceStatus": status,
                **({"ResourceStatusReason": reason} if reason else {})}

    stubs["cloudformation"].add_response("describe_stack_events", {"StackEvents": [  # newest first
        event(name, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE", minute=9),
        event("DeadLetterQueue", "AWS::SQS::Queue", "UPDATE_FAILED", "Resource update cancelled", minute=8),
        event("ObjectCreatedRule", "AWS::Events::Rule", "UPDATE_FAILED", "Resource handler returned message: \"RoleArn is invalid\"", minute=7),
        event(name, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated", minute=6),
        event("Bucket", "AWS::S3::Bucket", "CREATE_FAILED", "an older operation's failure", minute=1),
    ]}, {"StackName": name})
    reason = failure_reason(Aws(AwsTarget("ap-northeast-1")), planned, 1)
    assert reason == ("UPDATE_ROLLBACK_COMPLETE: The following resource(s) failed to update: [ObjectCreatedRule].; first failure: "
                      "ObjectCreatedRule UPDATE_FAILED: Resource handler returned message: \"RoleArn is invalid\"")
    stubs.done()


class RecordingDeployer:
    """Stands in for `sam deploy` (deploy_env.DEPLOYER): records the stacks and succeeds."""

    calls: list[str] = []

    def __init__(self, samconfig, extra_args, *, endpoint_url, profile, capture):
        pass

    def describe(self, planned) -> str:
        return f"deploy {planned.stack_name}"

    def __call__(self, planned):
        self.calls.append(planned.stack_name)
        return 0, None


@pytest.fixture
def deployer(monkeypatch):
    from generator.commands import deploy_env

    monkeypatch.setattr(RecordingDeployer, "calls", [])
    monkeypatch.setattr(deploy_env, "DEPLOYER", RecordingDeployer)
    return RecordingDeployer


def test_a_stack_whose_creation_rolled_back_is_deployed_although_its_template_equals_the_render(rendered, run_cli, stubs, deployer):
    """ROLLBACK_COMPLETE: CloudFormation kept the submitted template but the stack has no resources,
    so it is not "no changes" (no template is even read); sam deploy gets it."""
    template = template_of(rendered, "artisan-logger")
    values = with_defaults(template, overrides_of(rendered, "artisan-logger", "dev"))
    stubs["cloudformation"].add_response("describe_stacks", described_stack("artisan-logger-dev", "us-east-1", values, status="ROLLBACK_COMPLETE",
                                                                            tags={"team": "web", "env": "dev"}), {"StackName": "artisan-logger-dev"})
    result = run_cli("deploy", "--env", "dev", "artisan-logger", "--force", cwd=rendered)  # (--force: an environment deploy of one stack)
    assert result.code == 0, result.err
    assert "artisan-logger-dev: deploying (the stack is ROLLBACK_COMPLETE)\n" in result.out and deployer.calls == ["artisan-logger-dev"]
    stubs.done()


def test_an_aws_error_midway_prints_what_was_deployed_then_one_line(rendered, run_cli, stubs, deployer):
    missing = "Stack with id {} does not exist"
    stubs["cloudformation"].add_client_error("describe_stacks", "ValidationError", missing.format("batch-base-dev"), 400,
                                             expected_params={"StackName": "batch-base-dev"})
    stubs["cloudformation"].add_client_error("describe_stacks", "Throttling", "Rate exceeded", 400, expected_params={"StackName": "csv-ingest-dev"})
    result = run_cli("deploy", "--env", "dev", "csv-ingest", "stock-trader-task", "--with-dependencies", cwd=rendered)
    assert deployer.calls == ["batch-base-dev"]
    assert result.out.endswith("deploy --env dev:\n  deployed:      batch-base-dev\n"
                               "  failed:        csv-ingest-dev (DescribeStacks csv-ingest-dev: Throttling: Rate exceeded)\n"
                               "  not attempted: stock-trader-task-dev\n")
    assert (result.code, result.err) == (2, "error: stack csv-ingest: DescribeStacks csv-ingest-dev: Throttling: Rate exceeded\n")
    stubs.done()


# --- run --wait --------------------------------------------------------------------------------------------


def task_definition(family: str, container: str, group: str) -> dict:
    return {"taskDefinition": {"taskDefinitionArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:7", "family": family,
                               "containerDefinitions": [{"name": container, "image": "x", "logConfiguration": {
                                   "logDriver": "awslogs", "options": {"awslogs-group": group, "awslogs-stream-prefix": container}}}]}}


TASK = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/web-dev/0f6b2c6a7d1e4d0c9b7a1e2f3a4b5c6d"


def queue_run_task(stubs, overrides: dict, *, tasks: list, failures: list = ()):
    stubs["ecs"].add_response("run_task", {"tasks": tasks, "failures": list(failures)}, {
        "cluster": overrides["ClusterArn"], "taskDefinition": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/artisan", "count": 1,
        "launchType": "FARGATE", "platformVersion": "LATEST",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": overrides["Subnets"].split(","),
                                                         "securityGroups": overrides["SecurityGroups"].split(","), "assignPublicIp": "DISABLED"}},
        "overrides": {"containerOverrides": [{"name": "php", "command": ["php", "artisan", "sample:logger"]}]}})


@pytest.mark.parametrize("container, expected_code, expected_line", [
    ({"name": "php", "lastStatus": "STOPPED", "exitCode": 3}, 3,
     "  task 0f6b2c6a7d1e4d0c9b7a1e2f3a4b5c6d stopped: EssentialContainerExited Essential container in task exited; container php exit code 3"),
    ({"name": "php", "lastStatus": "STOPPED", "reason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)"}, 1,
     "  task 0f6b2c6a7d1e4d0c9b7a1e2f3a4b5c6d stopped: TaskFailedToStart Task failed to start CannotPullContainerError: pull image manifest "
     "has been retried 5 time(s); container php exit code none (it did not run to an exit)"),
])
def test_run_wait_exits_with_the_job_containers_exit_code(rendered, run_cli, stubs, container, expected_code, expected_line):
    _, overrides, _ = queue_deployed(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    queue_run_task(stubs, overrides, tasks=[{"taskArn": TASK, "taskDefinitionArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/artisan:7",
                                             "lastStatus": "PROVISIONING"}])
    stubs["ecs"].add_response("describe_task_definition", task_definition("artisan", "php", "/ecs/artisan"),
                              {"taskDefinition": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/artisan:7"})
    stubs["ecs"].add_response("describe_tasks", {"tasks": [{"taskArn": TASK, "lastStatus": "RUNNING", "containers": [{"name": "php"}]}]},
                              {"cluster": overrides["ClusterArn"], "tasks": [TASK]})
    failed_to_start = "exitCode" not in container
    stubs["ecs"].add_response("describe_tasks", {"tasks": [{
        "taskArn": TASK, "lastStatus": "STOPPED", "stopCode": "TaskFailedToStart" if failed_to_start else "EssentialContainerExited",
        "stoppedReason": "Task failed to start" if failed_to_start else "Essential container in task exited", "containers": [container]}]},
        {"cluster": overrides["ClusterArn"], "tasks": [TASK]})
    result = run_cli("run", "artisan-logger", "--env", "dev", "--wait", cwd=rendered)
    assert result.code == expected_code, result.err
    assert "  logs: log group /ecs/artisan, stream php/php/0f6b2c6a7d1e4d0c9b7a1e2f3a4b5c6d\n" in result.out
    assert expected_line in result.out.splitlines() and result.out.endswith(f"exit code {expected_code}\n")
    stubs.done()


def test_run_wait_reads_the_exit_code_of_the_container_the_stack_names_not_the_first(rendered, run_cli, stubs):
    """The task definition has a sidecar listed first, and the rule sends no overrides (a job run
    with its image's own command): the job's exit code is that of container_name (php), from the
    stack's Metadata, not containers[0]'s."""
    template = template_of(rendered, "artisan-logger")
    del template["Resources"]["ScheduleRule"]["Properties"]["Targets"][0]["Input"]
    overrides = overrides_of(rendered, "artisan-logger", "dev")
    name = "artisan-logger-dev"
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, "us-east-1", with_defaults(template, overrides)), {"StackName": name})
    stubs["cloudformation"].add_response("get_template", {"TemplateBody": json.dumps(template)}, {"StackName": name, "TemplateStage": "Original"})
    queue_resources(stubs, name, {})
    revision = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/artisan:7"
    stubs["ecs"].add_response("run_task", {"tasks": [{"taskArn": TASK, "taskDefinitionArn": revision, "lastStatus": "PROVISIONING"}]}, {
        "cluster": overrides["ClusterArn"], "taskDefinition": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/artisan", "count": 1,
        "launchType": "FARGATE", "platformVersion": "LATEST",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": overrides["Subnets"].split(","),
                                                         "securityGroups": overrides["SecurityGroups"].split(","), "assignPublicIp": "DISABLED"}}})
    definition = task_definition("artisan", "php", "/ecs/artisan")
    sidecar = {"name": "log-router", "image": "x", "logConfiguration": {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/sidecars", "awslogs-stream-prefix": "sidecar"}}}
    definition["taskDefinition"]["containerDefinitions"].insert(0, sidecar)
    stubs["ecs"].add_response("describe_task_definition", definition, {"taskDefinition": revision})
    stubs["ecs"].add_response("describe_tasks", {"tasks": [{
        "taskArn": TASK, "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "log-router", "exitCode": 0}, {"name": "php", "exitCode": 3}]}]}, {"cluster": overrides["ClusterArn"], "tasks": [TASK]})
    result = run_cli("run", "artisan-logger", "--env", "dev", "--wait", cwd=rendered)
    assert result.code == 3, result.err
    assert "  logs: log group /ecs/artisan, stream php/php/0f6b2c6a7d1e4d0c9b7a1e2f3a4b5c6d\n" in result.out
    assert "; container php exit code 3\n" in result.out and result.out.endswith("exit code 3\n")
    stubs.done()


def test_run_wait_stops_when_ecs_no_longer_knows_the_task(rendered, run_cli, stubs):
    _, overrides, _ = queue_deployed(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    queue_run_task(stubs, overrides, tasks=[{"taskArn": TASK, "taskDefinitionArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/artisan:7"}])
    stubs["ecs"].add_response("describe_task_definition", task_definition("artisan", "php", "/ecs/artisan"), None)
    stubs["ecs"].add_response("describe_tasks", {"tasks": [], "failures": [{"arn": TASK, "reason": "MISSING"}]},
                              {"cluster": overrides["ClusterArn"], "tasks": [TASK]})
    result = run_cli("run", "artisan-logger", "--env", "dev", "--wait", cwd=rendered)
    assert (result.code, result.err) == (2, f"error: stack artisan-logger: DescribeTasks no longer finds task {TASK} (MISSING); its end is unknown\n")
    stubs.done()


def test_run_reports_runtask_failures_and_exits_1(rendered, run_cli, stubs):
    _, overrides, _ = queue_deployed(stubs, rendered, "artisan-logger", "dev", "us-east-1")
    queue_run_task(stubs, overrides, tasks=[], failures=[{"arn": overrides["ClusterArn"], "reason": "Capacity is unavailable at this time. "
                                                                                                   "Please try again later or in a different availability zone"}])
    result = run_cli("run", "artisan-logger", "--env", "dev", "--wait", cwd=rendered)
    assert result.code == 1
    assert f"  failure: {overrides['ClusterArn']} Capacity is unavailable at this time." in result.out
    stubs.done()


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED"])
def test_run_wait_of_a_state_machine_exits_0_only_when_the_execution_succeeds(rendered, run_cli, stubs, status):
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:stock-trader-task-dev"
    execution = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:stock-trader-task-dev:0b1e"
    queue_deployed(stubs, rendered, "stock-trader-task", "dev", "us-east-1", {"StateMachine": machine})
    stubs["stepfunctions"].add_response("start_execution", {"executionArn": execution, "startDate": NOW}, {"stateMachineArn": machine, "input": "{}"})
    stubs["ecs"].add_response("describe_task_definition", task_definition("stock-trader", "stock-trader", "/ecs/stock-trader"),
                              {"taskDefinition": "stock-trader"})
    base = {"executionArn": execution, "stateMachineArn": machine, "startDate": NOW}
    stubs["stepfunctions"].add_response("describe_execution", {**base, "status": "RUNNING"}, {"executionArn": execution})
    task = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/trading-dev/77aa"
    finished = {"SUCCEEDED": {"output": json.dumps({"task": {"Tasks": [{"TaskArn": task}]}})},
                "FAILED": {"error": "EcsJobFailed", "cause": "{\"Error\":\"States.TaskFailed\",\"Cause\":\"exit code 2\"}"}}[status]
    stubs["stepfunctions"].add_response("describe_execution", {**base, "status": status, "stopDate": NOW, **finished}, {"executionArn": execution})
    result = run_cli("run", "stock-trader-task", "--env", "dev", "--wait", cwd=rendered)
    assert result.code == (0 if status == "SUCCEEDED" else 1)
    assert f"  execution {execution}\n" in result.out
    if status == "SUCCEEDED":
        assert f"  task {task}; logs: stream stock-trader/stock-trader/77aa\n" in result.out
    else:
        assert "  execution FAILED: EcsJobFailed {\"Error\":\"States.TaskFailed\",\"Cause\":\"exit code 2\"}\n" in result.out
    stubs.done()


# --- status: alarms, and a run that failed ----------------------------------------------------------------


def test_status_shows_alarm_states_and_a_failed_run(rendered, run_cli, stubs):
    _, overrides, _ = queue_deployed(stubs, rendered, "artisan-logger", "dev", "us-east-1", {
        "DeadLetterQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/artisan-logger-dev-DeadLetterQueue-1",
        "DeadLetterQueueAlarm": "artisan-logger-dev-DeadLetterQueueAlarm-A1", "FailedInvocationsAlarm": "artisan-logger-dev-FailedInvocationsAlarm-B2"})
    stopped_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    stubs["ecs"].add_response("list_tasks", {"taskArns": [TASK]}, {"cluster": overrides["ClusterArn"], "family": "artisan", "desiredStatus": "STOPPED"})
    stubs["ecs"].add_response("describe_tasks", {"tasks": [{"taskArn": TASK, "lastStatus": "STOPPED", "stoppedAt": stopped_at,
                                                            "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
                                                            "containers": [{"name": "php", "exitCode": 1}]}]},
                              {"cluster": overrides["ClusterArn"], "tasks": [TASK]})
    stubs["ecs"].add_response("list_tasks", {"taskArns": []}, {"cluster": overrides["ClusterArn"], "family": "artisan", "desiredStatus": "RUNNING"})
    stubs["sqs"].add_response("get_queue_attributes", {"Attributes": {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "0"}},
                              {"QueueUrl": ANY, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})
    stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": [
        {"AlarmName": "artisan-logger-dev-DeadLetterQueueAlarm-A1", "StateValue": "ALARM", "StateUpdatedTimestamp": NOW,
         "StateReason": "Threshold Crossed: 1 datapoint [2.0 (04/12/26 11:55:00)] was greater than the threshold (0.0)."},
        {"AlarmName": "artisan-logger-dev-FailedInvocationsAlarm-B2", "StateValue": "OK", "StateReason": "Threshold Crossed: no datapoints"}]},
        {"AlarmNames": ["artisan-logger-dev-DeadLetterQueueAlarm-A1", "artisan-logger-dev-FailedInvocationsAlarm-B2"]})
    result = run_cli("status", "artisan-logger", "--env", "dev", cwd=rendered)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert f"  {stopped_at.strftime('%Y-%m-%dT%H:%M:%SZ')}  task 0f6b2c6a7d1e4d0c9b7a1e2f3a4b5c6d  exit 1  EssentialContainerExited Essential container in task exited" in lines
    assert "dead-letter queue DeadLetterQueue: 2 message(s)" in lines
    assert "alarm DeadLetterQueueAlarm: ALARM (Threshold Crossed: 1 datapoint [2.0 (04/12/26 11:55:00)] was greater than the threshold (0.0).)" in lines
    assert "alarm FailedInvocationsAlarm: OK (Threshold Crossed: no datapoints)" in lines
    stubs.done()


# --- teardown ------------------------------------------------------------------------------------------------


def test_teardown_refuses_while_a_stack_outside_the_manifest_imports(rendered, run_cli, stubs):
    name = "batch-base-dev"
    outputs = {"ClusterArn": "arn:aws:ecs:ap-northeast-1:123456789012:cluster/c", "TaskFamily": name, "LogGroup": f"/ecs/{name}"}
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, "ap-northeast-1", {}, outputs=outputs), {"StackName": name})
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, "ap-northeast-1", {}, outputs=outputs), {"StackName": name})
    stubs["cloudformation"].add_response("list_imports", {"Imports": ["reporting-dev"]}, {"ExportName": f"{name}-ClusterArn"})
    for export in ("TaskFamily", "LogGroup"):
        stubs["cloudformation"].add_client_error("list_imports", "ValidationError", f"Export '{name}-{export}' is not imported by any stack.", 400)
    result = run_cli("teardown", "--env", "dev", "batch-base", "--yes", cwd=rendered)
    assert (result.code, result.err) == (2, "error: stack batch-base: batch-base-dev exports values that reporting-dev still import(s); "
                                            "delete it first (or name it in this teardown)\n")
    stubs.done()


def test_teardown_stops_when_a_deletion_fails(rendered, run_cli, stubs):
    name = "artisan-logger-dev"
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, "us-east-1", {}), {"StackName": name})
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, "us-east-1", {}), {"StackName": name})
    stubs["cloudformation"].add_response("get_template", {"TemplateBody": json.dumps(template_of(rendered, "artisan-logger"))},
                                         {"StackName": name, "TemplateStage": "Original"})
    queue_resources(stubs, name, {})
    stubs["cloudformation"].add_response("delete_stack", {}, {"StackName": name})
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, "us-east-1", {}, status="DELETE_IN_PROGRESS"), {"StackName": name})
    stubs["cloudformation"].add_response("describe_stacks", described_stack(
        name, "us-east-1", {}, status="DELETE_FAILED", reason="The following resource(s) failed to delete: [RunTaskRole]."), {"StackName": name})
    result = run_cli("teardown", "--env", "dev", "artisan-logger", "--yes", cwd=rendered)
    assert (result.code, result.err) == (1, "failed: artisan-logger-dev: DELETE_FAILED: The following resource(s) failed to delete: "
                                            "[RunTaskRole].; the stacks after it in the order were not deleted\n")
    stubs.done()
