"""The example foundation (batch-base) and the S3 trigger that imports it (csv-ingest) deploy on a
local CloudFormation endpoint (moto server) in order, with the samconfig.toml parameter overrides,
and the created resources are wired as rendered.

What moto 5.2.5 cannot show, asserted on the rendered template instead (test_s3_object_task.py,
test_task_foundation.py): its CloudFormation ignores AWS::S3::BucketPolicy and AWS::SQS::QueuePolicy,
applies only BucketEncryption (and tags) of an AWS::S3::Bucket (so no NotificationConfiguration),
keeps only family, container definitions, volumes and memory of a task definition, returns a
rule target's NetworkConfiguration empty, and on update_stack with only a new parameter value (a new
ImageTag) does not re-create the task definition, so "a new tag is a new revision" cannot be
observed here: it follows from the image being `${ImageTag}` in the container definition.
"""

from __future__ import annotations

import json
import shutil

import pytest

from generator.commands.cli import main
from support.moto_deploy import client, create_stack, physical_ids, samconfig_overrides, yaml_load
from support.paths import REPO

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, moto_endpoint):
    folder = tmp_path_factory.mktemp("s3-foundation")
    shutil.copy(REPO / "stacks.toml", folder / "stacks.toml")
    assert main(["render", "--manifest", str(folder / "stacks.toml"), "--out", str(folder / "templates_out"),
                 "--samconfig", str(folder / "samconfig.toml")]) == 0
    stacks = {}
    for config_env in ("batch-base-dev", "csv-ingest-dev"):  # the foundation first: csv-ingest imports its exports
        section, overrides = samconfig_overrides(folder / "samconfig.toml", config_env)
        # Sent as JSON: moto's YAML loader does not read `!ImportValue` with a mapping argument
        # (`!ImportValue {Fn::Sub: …}`), which CloudFormation and cfn-lint accept.
        body = json.dumps(yaml_load((folder / section["template_file"]).read_text()))
        stack = create_stack(moto_endpoint, section["region"], section["stack_name"], body, overrides, section["capabilities"].split())
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        stacks[config_env] = (section, overrides, physical_ids(moto_endpoint, section["region"], section["stack_name"]))
    return moto_endpoint, stacks, folder


def test_samconfig_names_the_foundation_stack_of_the_same_environment(deployed):
    _, stacks, _ = deployed
    _, overrides, _ = stacks["csv-ingest-dev"]
    assert overrides["FoundationStack"] == "batch-base-dev"
    assert overrides["BucketName"] == "sample-bucket-dev"


def test_foundation_exports_task_definition_and_log_group(deployed):
    endpoint, stacks, _ = deployed
    _, overrides, ids = stacks["batch-base-dev"]
    exports = {e["Name"]: e["Value"] for e in client("cloudformation", endpoint, REGION).list_exports()["Exports"]
               if e["Name"].startswith("batch-base-dev-")}
    assert set(exports) == {f"batch-base-dev-{name}" for name in ("ClusterArn", "TaskFamily", "ExecutionRoleArn", "TaskRoleArn", "LogGroup")}
    assert exports["batch-base-dev-TaskFamily"] == "batch-base-dev"
    assert exports["batch-base-dev-LogGroup"] == "/ecs/batch-base-dev"
    assert exports["batch-base-dev-ClusterArn"].endswith(":cluster/" + ids["Cluster"])

    ecs = client("ecs", endpoint, REGION)
    definition = ecs.describe_task_definition(taskDefinition="batch-base-dev")["taskDefinition"]
    (container,) = definition["containerDefinitions"]
    assert container["name"] == "app"
    assert container["image"] == f"123456789012.dkr.ecr.{REGION}.amazonaws.com/batch-app:{overrides['ImageTag']}"
    assert container["logConfiguration"] == {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/batch-base-dev", "awslogs-region": REGION, "awslogs-stream-prefix": "app"}}
    assert container["secrets"] == [{"name": "DATABASE_URL", "valueFrom": f"arn:aws:ssm:{REGION}:123456789012:parameter/batch/database-url"}]
    assert definition["memory"] == "1024"

    (group,) = client("logs", endpoint, REGION).describe_log_groups(logGroupNamePrefix="/ecs/batch-base-dev")["logGroups"]
    assert group["retentionInDays"] == 30


def test_s3_trigger_rule_pattern_and_ecs_target_use_the_imported_foundation(deployed):
    endpoint, stacks, _ = deployed
    _, _, foundation_ids = stacks["batch-base-dev"]
    _, overrides, ids = stacks["csv-ingest-dev"]
    events = client("events", endpoint, REGION)
    rule = events.describe_rule(Name=ids["ObjectCreatedRule"])
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [overrides["BucketName"]]}, "object": {"key": [{"prefix": "test/aaa/complete.txt"}]}},
    }
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(":cluster/" + foundation_ids["Cluster"])
    assert target["EcsParameters"]["TaskDefinitionArn"] == f"arn:aws:ecs:{REGION}:123456789012:task-definition/batch-base-dev"
    assert target["EcsParameters"]["LaunchType"] == "FARGATE"
    assert target["InputTransformer"]["InputPathsMap"] == {"S3_BUCKET": "$.detail.bucket.name", "OBJECT_KEY": "$.detail.object.key"}
    assert '{"name":"OBJECT_KEY","value":<OBJECT_KEY>}' in target["InputTransformer"]["InputTemplate"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"]["Arn"].endswith(":" + ids["DeadLetterQueue"].rsplit("/", 1)[-1])


def test_bucket_is_created_encrypted(deployed):
    endpoint, stacks, _ = deployed
    _, overrides, ids = stacks["csv-ingest-dev"]
    assert ids["Bucket"] == overrides["BucketName"]
    s3 = client("s3", endpoint, REGION)
    rules = s3.get_bucket_encryption(Bucket=ids["Bucket"])["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}

