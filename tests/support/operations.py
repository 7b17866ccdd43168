"""An environment of the example stacks on the session's moto server, for the day-2 commands'
tests (deploy --env, diff --live, run, status, logs, teardown).

Each test module gets an account of its own on the shared moto server (STS AssumeRole into a new
account id: moto keys every backend by the account of the caller's access key), so its stacks,
named as samconfig names them, never meet those of the other deploy tests. S3 bucket names are
global in moto, so the manifest copy names its buckets after the account.

What moto 5.2.6 lacks, and what stands in for it here (each one said where it is used):
- `sam deploy` cannot deploy most example stacks to moto (change sets do not register exports;
  no SAM transform; moto's CloudFormation cannot read templates SAM uploads). `MotoSamDeployer`
  stands in for `sam deploy`: it packages the template as sam does (artifacts uploaded, CodeUri
  and DefinitionUri replaced by their S3 locations), creates or updates the stack with what moto
  can create (SAM translated, outputs reading unmodelled types dropped), and then records the
  packaged template as the stack's template, which is what CloudFormation keeps as the
  `Original` stage for GetTemplate.
- DescribeStacks reports a List<…> parameter as the Python repr of its items; CloudFormation
  reports the comma-delimited text it was given. `moto_like_aws` patches that.
- ListImports is not implemented; `moto_like_aws` adds it with CloudFormation's documented
  answers (the importing stack names, or ValidationError "Export '…' is not imported by any stack.").
- RunTask sums container-level memory (Fargate task definitions need only the task's) and needs
  real subnets in a VPC with DNS hostnames: the environment registers a revision of each family
  with container memory, and the manifest copy uses the account's default-VPC subnets.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import io
import json
import os
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import tomlkit

from generator.commands.cli import main
from support.moto_deploy import sam_translate, samconfig_overrides, without_unmodelled_outputs, yaml_load
from support.paths import REPO

ACCOUNT_ROLE = "arn:aws:iam::{account}:role/operations-tests"


def aws_client(service: str, endpoint: str, region: str):
    """A client with the credentials in the environment now: boto3.client() would reuse the default
    session, which keeps the credentials it first found (the moto server's, of the default account)."""
    return _client(service, endpoint, region, os.environ.get("AWS_ACCESS_KEY_ID"))


@functools.lru_cache(maxsize=None)
def _client(service: str, endpoint: str, region: str, access_key: str | None):
    return boto3.Session().client(service, endpoint_url=endpoint, region_name=region)


def fresh_account() -> str:
    return str(100000000000 + uuid.uuid4().int % 800000000000)


@contextlib.contextmanager
def account_credentials(endpoint: str, account: str):
    """Environment credentials of a new moto account (restored afterwards)."""
    sts = aws_client("sts", endpoint, "us-east-1")
    credentials = sts.assume_role(RoleArn=ACCOUNT_ROLE.format(account=account), RoleSessionName="operations-tests")["Credentials"]
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    patch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    patch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    patch.delenv("AWS_PROFILE", raising=False)
    try:
        yield credentials
    finally:
        patch.undo()


def _list_imports(self):
    """ListImports as CloudFormation answers it: the stacks whose template imports the export."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import ActionResult

    name = self._get_param("ExportName")
    importers = []
    for stack in self.cloudformation_backend.stacks.values():
        if stack.status.startswith("DELETE"):
            continue
        template = json.loads(stack.template) if isinstance(stack.template, str) and stack.template.startswith("{") else {}
        if name in _imported_names(template, stack.parameters):
            importers.append(stack.name)
    if not importers:
        raise ValidationError(message=f"Export '{name}' is not imported by any stack.")
    return ActionResult({"Imports": importers})


def _imported_names(value, parameters: dict) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_imported_names(v, parameters) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Fn::ImportValue" in value:
        argument = value["Fn::ImportValue"]
        text = argument.get("Fn::Sub") if isinstance(argument, dict) else argument
        if isinstance(text, str):
            for key, item in parameters.items():
                text = text.replace("${" + key + "}", str(item))
            return {text}
    return set().union(*(_imported_names(v, parameters) for v in value.values())) if value else set()


@contextlib.contextmanager
def moto_like_aws():
    """The two moto behaviours the module docstring names, made as CloudFormation documents them."""
    from moto.cloudformation.models import Stack
    from moto.cloudformation.responses import CloudFormationResponse

    def parameter_list(self):
        listed = []
        for key, value in self.resource_map.resolved_parameters.items():
            if isinstance(value, list):
                value = ",".join(map(str, value))
            listed.append({"ParameterKey": key, "ParameterValue": "****" if key in self.resource_map.no_echo_parameter_keys else value})
        return listed

    patch = pytest.MonkeyPatch()
    patch.setattr(Stack, "parameter_list", property(parameter_list))
    patch.setattr(CloudFormationResponse, "list_imports", _list_imports, raising=False)
    try:
        yield
    finally:
        patch.undo()


def moto_stack(account: str, region: str, stack_name: str):
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account][region].get_stack(stack_name)


# --- sam deploy, as far as moto can take it ---------------------------------------------------------


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class MotoSamDeployer:
    """Stands in for generator.commands.deploy_env.SamDeployer against moto (see the module docstring);
    records the stacks it deploys in `calls` and fails those named in `fail`."""

    def __init__(self, samconfig, extra_args, *, endpoint_url, profile, capture, account="", artifact_bucket="", calls=None, fail=()):
        self.samconfig, self.extra_args, self.endpoint_url, self.profile, self.capture = samconfig, list(extra_args), endpoint_url, profile, capture
        self.account, self.artifact_bucket = account, artifact_bucket
        self.calls = calls if calls is not None else []
        self.fail = set(fail)

    def describe(self, planned) -> str:
        return f"(moto) deploy {planned.stack_name}"

    def client(self, service: str, region: str):
        return aws_client(service, self.endpoint_url, region)

    def package(self, template_path: Path, region: str) -> dict:
        """What `sam package` makes of the template: local artifacts uploaded under their MD5."""
        template = yaml_load(template_path.read_text())
        s3 = self.client("s3", region)
        for resource in template["Resources"].values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::Serverless::Function" and not str(properties.get("CodeUri", "s3://")).startswith("s3://"):
                body = _zip_folder(template_path.parent / properties["CodeUri"])
                key = hashlib.md5(body).hexdigest()
                s3.put_object(Bucket=self.artifact_bucket, Key=key, Body=body)
                properties["CodeUri"] = f"s3://{self.artifact_bucket}/{key}"
            if resource["Type"] == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
                body = (template_path.parent / properties["DefinitionUri"]).read_bytes()
                key = hashlib.md5(body).hexdigest()
                s3.put_object(Bucket=self.artifact_bucket, Key=key, Body=body)
                properties["DefinitionUri"] = {"Bucket": self.artifact_bucket, "Key": key}
        return template

    def for_moto(self, packaged: dict, region: str, overrides: dict) -> dict:
        """What moto can create for the packaged template: the SAM transform applied (a state
        machine's definition inlined, see support.moto_deploy.for_moto), unreadable outputs dropped."""
        from support.moto_deploy import for_moto

        template = copy.deepcopy(packaged)
        if template.get("Transform"):
            for resource in template["Resources"].values():
                location = resource.get("Properties", {}).get("DefinitionUri")
                if isinstance(location, dict):
                    body = self.client("s3", region).get_object(Bucket=location["Bucket"], Key=location["Key"])["Body"].read()
                    del resource["Properties"]["DefinitionUri"]
                    resource["Properties"]["Definition"] = json.loads(body)
            translated = sam_translate(template, region, overrides)
            template = for_moto(translated) if "StateMachine" in translated["Resources"] else translated
        return without_unmodelled_outputs(template)[0]

    def __call__(self, planned) -> tuple[int, str | None]:
        self.calls.append(planned.stack_name)
        if planned.name in self.fail:
            return 1, "Error: (the test made this deploy fail)" if self.capture else None
        section, overrides = samconfig_overrides(self.samconfig, planned.stack_name)
        region = section["region"]
        original = self.package(self.samconfig.parent / section["template_file"], region)
        request = dict(StackName=section["stack_name"], TemplateBody=json.dumps(self.for_moto(original, region, overrides)),
                       Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()],
                       Capabilities=section["capabilities"].split(),
                       Tags=[{"Key": k, "Value": v} for k, v in _sam_tags(section.get("tags", "")).items()])
        cloudformation = self.client("cloudformation", region)
        try:
            cloudformation.describe_stacks(StackName=section["stack_name"])
            exists = True
        except cloudformation.exceptions.ClientError:
            exists = False
        try:
            (cloudformation.update_stack if exists else cloudformation.create_stack)(**request)
        except cloudformation.exceptions.ClientError as error:
            if "No updates are to be performed" not in str(error):
                return 1, str(error) if self.capture else None
        for _ in range(100):
            status = cloudformation.describe_stacks(StackName=section["stack_name"])["Stacks"][0]["StackStatus"]
            if not status.endswith("IN_PROGRESS"):
                break
            time.sleep(0.05)
        # CloudFormation keeps the submitted (packaged) template as the Original stage.
        moto_stack(self.account, region, section["stack_name"]).template = json.dumps(original)
        ok = status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        return (0 if ok else 1), (f"moto deployed {section['stack_name']}: {status}" if self.capture else None)


def _sam_tags(text: str) -> dict[str, str]:
    import shlex

    return dict(pair.split("=", 1) for pair in shlex.split(text))


# --- the environment -----------------------------------------------------------------------------------


@dataclass
class Operations:
    """A project (manifest copy, render) whose stacks live in `account` on the moto server."""

    folder: Path
    endpoint: str
    account: str
    artifact_bucket: str
    calls: list[str] = field(default_factory=list)

    def paths(self) -> list[str]:
        return ["--manifest", str(self.folder / "stacks.toml"), "--out", str(self.folder / "templates_out"),
                "--samconfig", str(self.folder / "samconfig.toml")]

    def client(self, service: str, region: str):
        return aws_client(service, self.endpoint, region)

    def deployer(self, fail=()):
        account, bucket, calls = self.account, self.artifact_bucket, self.calls

        def make(samconfig, extra_args, *, endpoint_url, profile, capture):
            return MotoSamDeployer(samconfig, extra_args, endpoint_url=endpoint_url, profile=profile, capture=capture,
                                   account=account, artifact_bucket=bucket, calls=calls, fail=fail)

        return make

    def render(self) -> None:
        assert main(["render", *self.paths()]) == 0

    def edit_manifest(self, edit) -> None:
        path = self.folder / "stacks.toml"
        document = tomlkit.parse(path.read_text())
        edit(document)
        path.write_text(tomlkit.dumps(document))
        self.render()


def default_subnets(endpoint: str, region: str) -> list[str]:
    ec2 = aws_client("ec2", endpoint, region)
    return sorted(subnet["SubnetId"] for subnet in ec2.describe_subnets()["Subnets"])[:2]


def operations_project(folder: Path, endpoint: str, account: str) -> Operations:
    """The example manifest with this account's subnets and bucket names, rendered, and what its
    parameter-based stacks expect to exist already (clusters, task families) created."""
    document = tomlkit.parse((REPO / "stacks.toml").read_text())
    for name, stack in document["stacks"].items():
        for environment in stack["environments"].values():
            parameters = environment.get("parameters", {})
            if "Subnets" in parameters:
                parameters["Subnets"] = default_subnets(endpoint, environment["region"])
            if "BucketName" in parameters:
                parameters["BucketName"] = f"{parameters['BucketName']}-{account}"
    (folder / "stacks.toml").write_text(tomlkit.dumps(document))
    operations = Operations(folder, endpoint, account, f"sam-artifacts-{account}")
    operations.render()
    aws_client("s3", endpoint, "us-east-1").create_bucket(Bucket=operations.artifact_bucket)
    for name, stack in document["stacks"].items():
        options = stack.get("options", {})
        for environment in stack["environments"].values():
            parameters = environment.get("parameters", {})
            if "ClusterArn" in parameters:
                register_family(operations, environment["region"], parameters["ClusterArn"].split("/")[-1],
                                parameters["TaskFamily"], options["container_name"])
    return operations


def register_family(operations: Operations, region: str, cluster: str, family: str, container: str, *, log_group: str | None = None) -> dict:
    """A cluster and a Fargate task definition revision that moto can run (container memory set:
    moto sums it; Fargate does not need it), logging to `log_group` (default /ecs/<family>)."""
    ecs = operations.client("ecs", region)
    ecs.create_cluster(clusterName=cluster)
    group = log_group or f"/ecs/{family}"
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": container, "image": "public.ecr.aws/docker/library/busybox:latest", "essential": True,
                               "memory": 512, "logConfiguration": {"logDriver": "awslogs", "options": {
                                   "awslogs-group": group, "awslogs-region": region, "awslogs-stream-prefix": container}}}],
    )["taskDefinition"]
