"""The live side of a stack (what CloudFormation has) and the rendered stack as a deploy submits it.

`sam deploy` submits the template after packaging it: every local artifact (a function's CodeUri
folder, a state machine's DefinitionUri file) is uploaded to the SAM artifact bucket and the
property becomes its S3 location; the rest of the template is the rendered one (sam re-serializes
the YAML, so templates are compared as data, never as text). CloudFormation keeps that submitted
template as the stack's `Original` stage (GetTemplate TemplateStage=Original; `Processed` is after
the SAM transform: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html).
So "the deployed template equals the rendered one" means: the Original template equals the render
with each local artifact replaced by the live S3 location whose object has the same content.
"""

from __future__ import annotations

import copy
import io
import json
import posixpath
import zipfile
from dataclasses import dataclass, field

from generator.commands.aws_session import Aws, aws_errors, is_stack_missing
from generator.commands.plan import PlannedStack
from generator.core.errors import UserError
from generator.core.render import RenderedStack, capabilities
from generator.review.event_simulator import Resolver, parameter_values
from generator.review.event_simulator import _partition as partition_of

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
# The local-path properties `sam deploy` packages for the resource types our blueprints emit.
ARTIFACT_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::StateMachine": "DefinitionUri"}
# sam adds this Metadata key to resources it builds; the SAM CLI itself drops it before comparing
# templates ("this metadata does not affect any cloud behaviour", samcli/lib/sync/infra_sync_executor.py).
SAM_RESOURCE_ID = "SamResourceId"
# A stack in REVIEW_IN_PROGRESS was never deployed: a CREATE change set made it and was not executed
# (CloudFormation "creates a stack with a unique stack ID, but no template or resources",
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html).
NEVER_DEPLOYED = {"REVIEW_IN_PROGRESS"}


@dataclass
class LiveStack:
    name: str
    stack_id: str
    status: str
    status_reason: str | None
    parameters: dict[str, str]
    outputs: dict[str, str]
    tags: dict[str, str]
    # The values the resources got: an SSM-held parameter's ParameterValue is the SSM parameter's
    # name and its ResolvedValue the value (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html).
    resolved: dict[str, str] = field(default_factory=dict)

    @property
    def account(self) -> str:
        return self.stack_id.split(":")[4]  # arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>


def read_stack(aws: Aws, stack_name: str, *, stack: str) -> LiveStack | None:
    """The deployed stack, None when there is none (or only a never-executed CREATE change set)."""
    cloudformation = aws.client("cloudformation")
    with aws_errors(f"DescribeStacks {stack_name}", stack=stack):
        try:
            (described,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except Exception as error:
            if is_stack_missing(error):
                return None
            raise
    if described["StackStatus"] in NEVER_DEPLOYED:
        return None
    return LiveStack(
        name=described["StackName"], stack_id=described["StackId"], status=described["StackStatus"],
        status_reason=described.get("StackStatusReason"),
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        tags={t["Key"]: t["Value"] for t in described.get("Tags", [])},
        resolved={p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", "")) for p in described.get("Parameters", [])},
    )


def require_stack(aws: Aws, planned: PlannedStack) -> LiveStack:
    live = read_stack(aws, planned.stack_name, stack=planned.name)
    if live is None:
        raise UserError(f"is not deployed: there is no stack {planned.stack_name} in {aws.region}; "
                        f"deploy it first (python -m generator deploy --env {planned.environment} {planned.name})",
                        stack=planned.name, field="--env")
    return live


def parse_template(body) -> dict:
    """A template body as GetTemplate returns it: a JSON document (boto3 may have parsed it already) or YAML."""
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    from cfnlint.decode.cfn_yaml import loads  # reads the short-form tags (!Sub, !Ref…) and JSON alike

    return json.loads(json.dumps(loads(body)))


def read_template(aws: Aws, stack_name: str, *, stack: str, stage: str = "Original") -> dict:
    with aws_errors(f"GetTemplate {stack_name}", stack=stack):
        body = aws.client("cloudformation").get_template(StackName=stack_name, TemplateStage=stage)["TemplateBody"]
    return parse_template(body)


def physical_ids(aws: Aws, stack_name: str, *, stack: str) -> dict[str, str]:
    """logical id → physical id of every resource the stack has (ListStackResources)."""
    found = {}
    with aws_errors(f"ListStackResources {stack_name}", stack=stack):
        for page in aws.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for summary in page["StackResourceSummaries"]:
                if summary.get("PhysicalResourceId"):
                    found[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    return found


def exports(aws: Aws, *, stack: str) -> dict[str, str]:
    found = {}
    with aws_errors("ListExports", stack=stack):
        for page in aws.client("cloudformation").get_paginator("list_exports").paginate():
            found.update({export["Name"]: export["Value"] for export in page["Exports"]})
    return found


def pseudo_parameters(region: str, account: str, stack_name: str, stack_id: str = "") -> dict[str, str]:
    partition = partition_of(region)
    return {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
            "AWS::StackName": stack_name, "AWS::StackId": stack_id or f"<stack id of {stack_name}>"}


class LiveResolver(Resolver):
    """test-event's resolver with what a deployed stack knows besides its parameters: the physical
    ids of its resources (Ref) and the Region's exports (Fn::ImportValue)."""

    def __init__(self, template: dict, parameters: dict, pseudo: dict, *, ids: dict[str, str] | None = None,
                 exported: dict[str, str] | None = None):
        super().__init__(template, parameter_values(template, parameters), pseudo)
        self.ids, self.exported = ids or {}, exported

    def _ref(self, name):
        if name in self.ids and name not in self.parameters:
            return self.ids[name]
        return super()._ref(name)

    def _import(self, arg):
        name = self.resolve(arg)
        if self.exported is not None and name in self.exported:
            return self.exported[name]
        return super()._import(arg)


# --- the render as a deploy submits it ------------------------------------------------------------


@dataclass
class DesiredStack:
    """A rendered stack in one environment: what `sam deploy --config-env <stack>-<env>` submits."""

    planned: PlannedStack
    rendered: RenderedStack

    @property
    def template(self) -> dict:
        return self.rendered.template

    @property
    def values(self) -> dict[str, str]:
        """samconfig's parameter_overrides for this environment."""
        return self.planned.spec.parameter_values(self.planned.environment)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.planned.spec.environments[self.planned.environment].tags)

    @property
    def capabilities(self) -> tuple[str, ...]:
        return capabilities(self.template)

    @property
    def is_sam(self) -> bool:
        return self.template.get("Transform") == SAM_TRANSFORM

    def parameters(self) -> dict[str, str]:
        """Every template parameter's value after a deploy: the override, else the Default."""
        result = {}
        for name, definition in self.template.get("Parameters", {}).items():
            value = self.values.get(name, definition.get("Default"))
            if value is not None:
                result[name] = str(value)
        return result


@dataclass
class Artifact:
    """A local file or folder the template points at (CodeUri, DefinitionUri), and what is live."""

    logical_id: str
    property: str
    path: str                          # relative to the stack's folder, as in the template
    content: bytes | dict[str, bytes]  # a file's bytes, or a folder's files (relative path → bytes)
    live_value: object = None          # the property's value in the live Original template
    unchanged: bool = False            # the live S3 object holds exactly `content`


@dataclass
class Packaged:
    template: dict
    artifacts: list[Artifact] = field(default_factory=list)

    @property
    def changed_artifacts(self) -> list[Artifact]:
        return [artifact for artifact in self.artifacts if not artifact.unchanged]


def local_artifacts(desired: DesiredStack) -> list[Artifact]:
    found = []
    prefix = f"{desired.planned.name}/"
    files = {rel[len(prefix):]: text.encode("utf-8") for rel, text in desired.rendered.files.items() if rel.startswith(prefix)}
    for logical_id, resource in desired.template.get("Resources", {}).items():
        prop = ARTIFACT_PROPERTIES.get(resource.get("Type"))
        value = resource.get("Properties", {}).get(prop) if prop else None
        if not isinstance(value, str) or value.startswith("s3://"):
            continue
        path = posixpath.normpath(value)
        if path in files:
            content: bytes | dict[str, bytes] = files[path]
        else:
            content = {rel[len(path) + 1:]: data for rel, data in files.items() if rel.startswith(path + "/")}
            if not content:
                raise UserError(f"{value!r} names no file the render writes", stack=desired.planned.name,
                                field=f"Resources.{logical_id}.Properties.{prop}")
        found.append(Artifact(logical_id, prop, value, content))
    return found


def s3_location(value) -> tuple[str, str, str | None] | None:
    """(bucket, key, version) of a packaged artifact property: "s3://bucket/key" (CodeUri) or
    {Bucket, Key, Version} (DefinitionUri), the two shapes sam package writes."""
    if isinstance(value, str) and value.startswith("s3://"):
        bucket, _, key = value[len("s3://"):].partition("/")
        return (bucket, key, None) if bucket and key else None
    if isinstance(value, dict) and isinstance(value.get("Bucket"), str) and isinstance(value.get("Key"), str):
        return value["Bucket"], value["Key"], value.get("Version")
    return None


def _object_content(data: bytes, want_folder: bool) -> bytes | dict[str, bytes] | None:
    if not want_folder:
        return data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    except zipfile.BadZipFile:
        return None


def _live_content(aws: Aws, location, want_folder: bool, *, stack: str):
    bucket, key, version = location
    request = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
    with aws_errors(f"reading the deployed artifact s3://{bucket}/{key}", stack=stack):
        try:
            data = aws.client("s3").get_object(**request)["Body"].read()
        except Exception as error:
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchVersion"):
                return None
            raise
    return _object_content(data, want_folder)


def packaged(desired: DesiredStack, live_template: dict | None, aws: Aws | None) -> Packaged:
    """The rendered template with each local artifact whose content is what the live stack already
    uses replaced by the live S3 location (what `sam deploy` would submit for it: SAM names
    artifacts by their content, so the location would be the same); the others stay local paths
    (`changed_artifacts`)."""
    template = copy.deepcopy(desired.template)
    artifacts = local_artifacts(desired)
    live_resources = (live_template or {}).get("Resources", {})
    for artifact in artifacts:
        live_value = live_resources.get(artifact.logical_id, {}).get("Properties", {}).get(artifact.property)
        artifact.live_value = live_value
        location = s3_location(live_value)
        if location is None or aws is None:
            continue
        content = _live_content(aws, location, isinstance(artifact.content, dict), stack=desired.planned.name)
        if content == artifact.content:
            artifact.unchanged = True
            template["Resources"][artifact.logical_id]["Properties"][artifact.property] = live_value
    return Packaged(template, artifacts)


def comparable(template: dict) -> dict:
    """A template as data, without what does not change what CloudFormation deploys (SamResourceId)."""
    result = json.loads(json.dumps(template))
    for resource in result.get("Resources", {}).values():
        metadata = resource.get("Metadata")
        if isinstance(metadata, dict) and SAM_RESOURCE_ID in metadata:
            del metadata[SAM_RESOURCE_ID]
            if not metadata:
                del resource["Metadata"]
    return result


def parameter_changes(desired: DesiredStack, live: LiveStack) -> list[tuple[str, str | None, str | None]]:
    """(name, live value, deployed value) of each parameter whose value a deploy changes."""
    wanted = desired.parameters()
    names = list(wanted) + [name for name in live.parameters if name not in wanted]
    return [(name, live.parameters.get(name), wanted.get(name)) for name in names if live.parameters.get(name) != wanted.get(name)]


def differences(desired: DesiredStack, live: LiveStack, live_template: dict, package: Packaged) -> list[str]:
    """What differs between the deployed stack and what a deploy would submit ([] when nothing)."""
    found = []
    if package.changed_artifacts:
        found.append("artifacts " + ", ".join(f"{a.logical_id}.{a.property}" for a in package.changed_artifacts))
    if comparable(live_template) != comparable(package.template):
        found.append("template")
    if parameter_changes(desired, live):
        found.append("parameters " + ", ".join(name for name, _, _ in parameter_changes(desired, live)))
    if live.tags != desired.tags:
        found.append("tags")
    return found


def resources_created(template: dict, parameters: dict[str, str], region: str, account: str, stack_name: str) -> list[tuple[str, str]]:
    """(logical id, type) of each resource CloudFormation creates for a new stack: SAM templates
    after the transform (translated locally with aws-sam-translator, as `lint` does), resources
    whose Condition is false left out."""
    if template.get("Transform") == SAM_TRANSFORM:
        template = sam_translate(template, region, parameters)
    resolver = Resolver(template, parameter_values(template, parameters), pseudo_parameters(region, account, stack_name))
    return [(logical_id, resource["Type"]) for logical_id, resource in template.get("Resources", {}).items()
            if "Condition" not in resource or resolver.condition(resource["Condition"]) is not False]


def sam_translate(template: dict, region: str, parameters: dict[str, str]) -> dict:
    """The template after the AWS::Serverless-2016-10-31 transform. Local artifact paths are given
    placeholder S3 locations first: the transform only copies them into the generated resources."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        prop = ARTIFACT_PROPERTIES.get(resource.get("Type"))
        if prop and isinstance(resource.get("Properties", {}).get(prop), str) and not resource["Properties"][prop].startswith("s3://"):
            resource["Properties"][prop] = "s3://local-artifact/placeholder"
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=boto3.Session(region_name=region))
    try:
        return translator.translate(sam_template=template, parameter_values=dict(parameters), get_managed_policy_map=lambda: {})
    except InvalidDocumentException as error:
        raise UserError(f"the SAM transform fails: {' '.join(str(e) for e in error.causes)}") from None
    finally:
        translator.metrics.publish()  # to its no-op publisher; unpublished metrics warn at exit


def open_deployed(args) -> tuple[PlannedStack, Aws, LiveStack]:
    """STACK --env ENV of a command that reads a deployed stack: the manifest's stack (checked to
    have the environment), a session in its Region, and the live stack (an error when there is none)."""
    from generator.commands.aws_session import AwsTarget
    from generator.commands.plan import environment_plan
    from generator.core.manifest import load_manifest

    (planned,) = environment_plan(load_manifest(args.manifest), args.env, [args.stack])
    aws = Aws(AwsTarget(planned.region, args.endpoint_url, args.profile), stack=planned.name)
    return planned, aws, require_stack(aws, planned)
