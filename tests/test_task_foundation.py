"""task_foundation: Fargate sizes, the task definition, exact IAM for both roles, the log group and
the exports the trigger stacks import."""

from __future__ import annotations

import re

import pytest

from blueprints import task_foundation
from generator.aws.fargate import FARGATE_MEMORY_BY_CPU, valid_pairs
from generator.core.contract import StackContext
from generator.core.errors import UserError
from support.expected_iam import policy_statements
from support.manifests import manifest_text, one_resource, render_text

LOG_GROUP_ARNS = [
    {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}"},
    {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}:log-stream:*"},
]
WRITE_LOGS = {"Sid": "WriteTaskLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": LOG_GROUP_ARNS}


def render(tmp_path, options: str, parameters: str = 'ImageUri = "public.ecr.aws/docker/library/python:3.12-slim"'):
    return render_text(tmp_path, manifest_text("base", "task_foundation", options, parameters))["base"]


def build(**options) -> dict:
    return task_foundation.build(task_foundation.Options(**options), StackContext("base", "task_foundation", "")).template.to_dict()


def test_every_documented_fargate_size_renders():
    pairs = valid_pairs()
    # Spot checks against AWS's table: both ends of each range, and the 4 GB / 8 GB steps of 8 and 16 vCPU.
    for pair in [(256, 512), (256, 2048), (512, 4096), (1024, 8192), (2048, 16384), (4096, 30720),
                 (8192, 16384), (8192, 20480), (8192, 61440), (16384, 32768), (16384, 40960), (16384, 122880)]:
        assert pair in pairs
    for pair in [(256, 4096), (512, 512), (2048, 17408), (4096, 31744), (8192, 17408), (16384, 36864), (16384, 131072)]:
        assert pair not in pairs
    for cpu, memory in pairs:
        definition = one_resource(build(cpu=cpu, memory=memory), "AWS::ECS::TaskDefinition")["Properties"]
        assert (definition["Cpu"], definition["Memory"]) == (str(cpu), str(memory))
    assert set(FARGATE_MEMORY_BY_CPU) == {256, 512, 1024, 2048, 4096, 8192, 16384}


def test_an_invalid_size_is_an_error_naming_both_values(tmp_path):
    with pytest.raises(UserError) as raised:
        render(tmp_path, "cpu = 256\nmemory = 4096")
    assert str(raised.value).startswith("stack base: options.memory: cpu 256 with memory 4096 is not a Fargate task size")
    assert "512, 1024, 2048" in str(raised.value)
    with pytest.raises(UserError, match="cpu 300 with memory 512 .* cpu must be one of 256, 512"):
        task_foundation.Options(cpu=300, memory=512)


def test_task_definition_is_fargate_awsvpc_with_the_image_from_a_parameter_and_awslogs(tmp_path):
    template = render(tmp_path, 'container_name = "app"\ncommand = ["python", "job.py"]\nenvironment = { B = "2", A = "1" }').template
    assert template["Parameters"]["ImageUri"]["Type"] == "String"
    pattern = template["Parameters"]["ImageUri"]["AllowedPattern"]
    for good in ["public.ecr.aws/docker/library/python:3.12-slim", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.4.2",
                 "localhost:5000/team/app:v2", "nginx@sha256:" + "a" * 64]:
        assert re.fullmatch(pattern, good), good
    for bad in ["nginx", "registry:5000/app", "app:", "app:tag with space"]:  # no tag means no new revision on deploy
        assert not re.fullmatch(pattern, bad), bad
    definition = one_resource(template, "AWS::ECS::TaskDefinition")["Properties"]
    assert definition["Family"] == {"Fn::Sub": "${AWS::StackName}"}
    assert definition["NetworkMode"] == "awsvpc" and definition["RequiresCompatibilities"] == ["FARGATE"]
    assert definition["RuntimePlatform"] == {"OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"}
    assert definition["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    assert definition["TaskRoleArn"] == {"Fn::GetAtt": ["TaskRole", "Arn"]}
    assert definition["ContainerDefinitions"] == [{
        "Name": "app", "Image": {"Ref": "ImageUri"}, "Essential": True,
        "LogConfiguration": {"LogDriver": "awslogs", "Options": {
            "awslogs-group": {"Ref": "LogGroup"}, "awslogs-region": {"Ref": "AWS::Region"}, "awslogs-stream-prefix": "app"}},
        "Command": ["python", "job.py"],
        "Environment": [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}],
    }]
    log_group = one_resource(template, "AWS::Logs::LogGroup")["Properties"]
    assert log_group == {"LogGroupName": {"Fn::Sub": "/ecs/${AWS::StackName}"}, "RetentionInDays": 30}
    cluster = one_resource(template, "AWS::ECS::Cluster")["Properties"]
    assert cluster == {"ClusterSettings": [{"Name": "containerInsights", "Value": "disabled"}]}


def test_without_a_repository_the_execution_role_only_writes_logs_and_the_task_role_is_empty(tmp_path):
    template = render(tmp_path, "").template
    execution = template["Resources"]["ExecutionRole"]
    (trust,) = execution["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}
    assert policy_statements(execution) == [WRITE_LOGS]
    task_role = template["Resources"]["TaskRole"]["Properties"]
    assert "Policies" not in task_role
    assert task_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}


def test_repository_pull_and_listed_secrets_only(tmp_path):
    template = render(tmp_path, '''image_repository = "team/batch-app"
secrets = { DB = "ssm:/batch/db", TOKEN = "arn:{partition}:secretsmanager:{region}:{account_id}:secret:batch/token:password::", KEY = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf" }
''', parameters='ImageTag = "1.4.2"').template
    assert template["Parameters"]["ImageTag"]["AllowedPattern"] == r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
    container = one_resource(template, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"][0]
    assert container["Image"] == {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/team/batch-app:${ImageTag}"}
    assert container["Secrets"] == [
        {"Name": "DB", "ValueFrom": {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/batch/db"}},
        {"Name": "KEY", "ValueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf"},
        {"Name": "TOKEN", "ValueFrom": {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:batch/token:password::"}},
    ]
    assert policy_statements(template["Resources"]["ExecutionRole"]) == [
        # The registry token has no resource-level permission (the one documented "*" exception).
        {"Sid": "GetRegistryToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
        {"Sid": "PullImage", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/team/batch-app"}]},
        WRITE_LOGS,
        {"Sid": "ReadTaskSecretsFromSsm", "Effect": "Allow", "Action": ["ssm:GetParameters"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/batch/db"}]},
        # The JSON-key suffix is not part of the secret's ARN; a partial ARN gets AWS's -?????? wildcard.
        {"Sid": "ReadTaskSecretsFromSecretsManager", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:batch/token-??????"},
                      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf"]},
    ]


def test_task_role_statements_from_options(tmp_path):
    template = render(tmp_path, '''task_role_statements = [
  { actions = ["s3:GetObject", "s3:ListBucket"], resources = ["arn:{partition}:s3:::data", "arn:{partition}:s3:::data/*"] },
  { actions = ["xray:PutTraceSegments"], resources = ["*"] },
]''').template
    assert policy_statements(template["Resources"]["TaskRole"]) == [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::data"}, {"Fn::Sub": "arn:${AWS::Partition}:s3:::data/*"}]},
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": ["*"]},
    ]


def test_exports_are_named_after_the_stack_for_import_from(tmp_path):
    stack = render(tmp_path, 'family = "nightly"')
    outputs = stack.template["Outputs"]
    expected = {"ClusterArn": {"Fn::GetAtt": ["Cluster", "Arn"]}, "TaskFamily": "nightly",
                "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}, "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
                "LogGroup": {"Ref": "LogGroup"}}
    for name, value in expected.items():
        assert outputs[name]["Value"] == value
        assert outputs[name]["Export"] == {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{name}"}}
    assert "Export" not in outputs["TaskDefinitionArn"]
    assert one_resource(stack.template, "AWS::ECS::TaskDefinition")["Properties"]["Family"] == "nightly"


@pytest.mark.parametrize("options, field, words", [
    ("log_retention_days = 10", "log_retention_days", "10 is not a CloudWatch Logs retention; allowed: 1, 3, 5, 7, 14, 30"),
    ('cpu_architecture = "arm64"', "cpu_architecture", "allowed: X86_64, ARM64"),
    ('family = "job:3"', "family", "no :revision"),
    ('image_repository = "Team/App"', "image_repository", "not an ECR repository name"),
    ('secrets = { DB = "arn:aws:s3:::bucket/key" }', "secrets.DB", "not ssm:/<parameter name>"),
    ('secrets = { DB = "arn:${AWS::Partition}:ssm:eu-west-1:123456789012:parameter/x" }', "secrets.DB", "instead of ${AWS::…}"),
    ('environment = { DB = "x" }\nsecrets = { DB = "ssm:/db" }', "secrets", "both in environment and in secrets"),
    ('task_role_statements = [{ actions = ["s3:*"], resources = ["arn:aws:s3:::b/*"] }]', "task_role_statements[0].actions", "no service:* wildcards"),
    ('task_role_statements = [{ actions = ["s3:GetObject"], resources = ["*"] }]', "task_role_statements[0].resources", "name the ARNs"),
    ('task_role_statements = [{ actions = ["s3:GetObject"], resources = ["arn:aws:s3:::*"] }]', "task_role_statements[0].resources",
     "'arn:aws:s3:::*' covers every resource of the service"),
])
def test_invalid_options(tmp_path, options, field, words):
    with pytest.raises(UserError) as raised:
        render(tmp_path, options)
    assert raised.value.stack == "base" and raised.value.field == f"options.{field}"
    assert words in raised.value.message


# --- issue 15: capacity providers, disk, read-only root, stop timeout, ulimits, init ----------------

def test_capacity_providers_are_associated_with_the_cluster(tmp_path):
    template = render(tmp_path, 'capacity_providers = ["FARGATE_SPOT", "FARGATE"]').template
    assert template["Resources"]["ClusterCapacityProviders"] == {
        "Type": "AWS::ECS::ClusterCapacityProviderAssociations",
        "Properties": {
            "Cluster": {"Ref": "Cluster"},
            "CapacityProviders": ["FARGATE_SPOT", "FARGATE"],
            # used only by a RunTask naming neither launch type nor strategy: on-demand when associated
            "DefaultCapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Weight": 1}],
        },
    }
    spot_only = render(tmp_path, 'capacity_providers = ["FARGATE_SPOT"]').template
    assert spot_only["Resources"]["ClusterCapacityProviders"]["Properties"]["DefaultCapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert "ClusterCapacityProviders" not in render(tmp_path, "").template["Resources"]


def test_container_and_task_settings_render_exactly(tmp_path):
    stack = render(tmp_path, 'ephemeral_storage_gib = 200\nreadonly_root_filesystem = true\nstop_timeout = 120\n'
                             'ulimits = [{ name = "nofile", soft = 1024, hard = 4096 }, { name = "nproc", soft = 64, hard = 64 }]\n'
                             'init_process_enabled = true')
    definition = one_resource(stack.template, "AWS::ECS::TaskDefinition")["Properties"]
    assert definition["EphemeralStorage"] == {"SizeInGiB": 200}
    (container,) = definition["ContainerDefinitions"]
    assert container["ReadonlyRootFilesystem"] is True
    assert container["StopTimeout"] == 120
    assert container["Ulimits"] == [{"Name": "nofile", "SoftLimit": 1024, "HardLimit": 4096}, {"Name": "nproc", "SoftLimit": 64, "HardLimit": 64}]
    assert container["LinuxParameters"] == {"InitProcessEnabled": True}
    assert "Because of its ephemeral_storage_gib, tasks of this family need Fargate platform version 1.4.0" in stack.files["base/README.md"]
    # (these settings lint clean: golden variant variant-foundation-spot)


def test_defaults_add_none_of_the_settings(tmp_path):
    definition = one_resource(render(tmp_path, "").template, "AWS::ECS::TaskDefinition")["Properties"]
    (container,) = definition["ContainerDefinitions"]
    assert "EphemeralStorage" not in definition
    assert not {"ReadonlyRootFilesystem", "StopTimeout", "Ulimits", "LinuxParameters"} & set(container)


@pytest.mark.parametrize("options, minimum", [
    ({"cpu": 8192, "memory": 16384}, (1, 4, 0)),
    ({"ephemeral_storage_gib": 21}, (1, 4, 0)),
    ({"stop_timeout": 2}, (1, 3, 0)),
    ({}, None),
])
def test_the_oldest_platform_version_a_family_runs_on(options, minimum):
    found = task_foundation.Options(**options).minimum_platform_version
    assert (found and found[0]) == minimum
