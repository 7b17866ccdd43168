"""Deploying rendered stacks to a moto server the way `sam deploy` would (shared by the deploy tests):
parameter overrides split as sam splits them, SAM templates translated as CloudFormation's transform
would (a state machine's DefinitionUri inlined, a function's CodeUri zipped and uploaded), and what
moto cannot model left out."""

from __future__ import annotations

import ast
import copy
import io
import json
import shlex
import zipfile
import time
import tomllib
import urllib.parse
from pathlib import Path

import boto3


def samconfig_overrides(samconfig: Path, config_env: str) -> tuple[dict, dict[str, str]]:
    """The deploy section and its parameter overrides, split the way a shell (and sam) splits them."""
    section = tomllib.loads(samconfig.read_text())[config_env]["deploy"]["parameters"]
    pairs = shlex.split(section["parameter_overrides"])
    return section, dict(pair.split("=", 1) for pair in pairs)


def client(service: str, endpoint: str, region: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=region)


def create_stack(endpoint: str, region: str, stack_name: str, template_body: str, overrides: dict[str, str], capabilities) -> dict:
    cloudformation = client("cloudformation", endpoint, region)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=template_body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()],
        Capabilities=list(capabilities),
    )
    for _ in range(100):
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return stack
        time.sleep(0.1)
    raise AssertionError(f"{stack_name} did not finish creating")


def physical_ids(endpoint: str, region: str, stack_name: str) -> dict[str, str]:
    cloudformation = client("cloudformation", endpoint, region)
    resources = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    # moto lists resource types it does not model (e.g. AWS::SQS::QueuePolicy) without ids.
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources if "LogicalResourceId" in r}


def yaml_load(text: str) -> dict:
    """A rendered template as plain data (cfn-lint's loader understands the short-form tags)."""
    from cfnlint.decode.cfn_yaml import loads

    return json.loads(json.dumps(loads(text)))


def inline_policy(endpoint: str, region: str, role_name: str) -> dict:
    """The role's one inline policy document, as created by the stack."""
    iam = client("iam", endpoint, region)
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        # moto stores a policy created through CloudFormation as the Python repr of the dict
        document = ast.literal_eval(urllib.parse.unquote(document))
    return document


def sam_translate(template: dict, region: str, parameter_values: dict) -> dict:
    """The CloudFormation template the SAM transform would produce in `region` (moto's
    CloudFormation accepts the Transform but does not apply it)."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=boto3.Session(region_name=region))
    try:  # our templates name no managed policy, so the map stays empty
        return translator.translate(sam_template=template, parameter_values=dict(parameter_values),
                                    get_managed_policy_map=lambda: {})
    finally:
        translator.metrics.publish()  # to its no-op publisher; unpublished metrics warn at exit


CODE_BUCKET = "sam-artifacts"


def upload_code(endpoint: str, region: str, code_dir: Path, key: str) -> str:
    """What `sam deploy` does with a local CodeUri: zip the folder, upload it, point CodeUri at it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(code_dir.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(code_dir).as_posix())
    s3 = client("s3", endpoint, region)
    if CODE_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=buffer.getvalue())
    return f"s3://{CODE_BUCKET}/{key}"


def translate_with_definition(template_path: Path, parameter_values: dict, region: str) -> dict:
    """The template as CloudFormation's SAM transform would deploy it, with the definition file
    inlined as `Definition` (what `sam deploy` uploads and points DefinitionUri at)."""
    template = yaml_load(template_path.read_text())
    machine = template["Resources"]["StateMachine"]["Properties"]
    machine["Definition"] = json.loads((template_path.parent / machine.pop("DefinitionUri")).read_text())
    return sam_translate(template, region, parameter_values)


def for_moto(translated: dict) -> dict:
    """moto 5.2.5 reads DefinitionString and ignores DefinitionSubstitutions; CloudFormation replaces
    each ${key} in the definition with the substitution's value. The same replacement is written as
    Fn::Sub (same ${key} syntax), so moto resolves the values (Refs, Subs, Joins) itself."""
    template = copy.deepcopy(translated)
    machine = template["Resources"]["StateMachine"]["Properties"]
    separator, lines = machine["DefinitionString"]["Fn::Join"]  # the translator's readable Join of literal lines
    assert all(isinstance(line, str) for line in lines)
    machine["DefinitionString"] = {"Fn::Sub": [separator.join(lines), machine.pop("DefinitionSubstitutions")]}
    return template


# --- what moto does not model ------------------------------------------------------------------------

# Resource types moto 5.2.5's CloudFormation does not model (moto.scheduler has no CloudFormation
# model): it creates nothing for them, and an output that reads one (`!GetAtt Schedule.Arn`) makes
# the stack fail.
MOTO_UNMODELLED_TYPES = frozenset({"AWS::Scheduler::Schedule", "AWS::Scheduler::ScheduleGroup"})


def _referenced_resources(value) -> set[str]:
    """The logical ids a template value refers to through Ref, Fn::GetAtt or a Fn::Sub ${…}."""
    import re

    if isinstance(value, list):
        return set().union(*map(_referenced_resources, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, argument in value.items():
        if key == "Ref" and isinstance(argument, str):
            found.add(argument)
        elif key == "Fn::GetAtt":
            found.add(argument.split(".", 1)[0] if isinstance(argument, str) else argument[0])
        elif key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)} - set(variables)
            found |= _referenced_resources(variables)
        else:
            found |= _referenced_resources(argument)
    return found


def without_unmodelled_outputs(template: dict) -> tuple[dict, list[str]]:
    """The template without the outputs that read a resource of a type moto does not model
    (MOTO_UNMODELLED_TYPES), and the names of the outputs left out."""
    unmodelled = {name for name, resource in template["Resources"].items() if resource["Type"] in MOTO_UNMODELLED_TYPES}
    result = copy.deepcopy(template)
    dropped = [name for name, output in template.get("Outputs", {}).items() if _referenced_resources(output) & unmodelled]
    for name in dropped:
        del result["Outputs"][name]
    return result, dropped


def reported_parameters(endpoint: str, region: str, stack_name: str, template: dict) -> dict[str, str]:
    """The stack's parameter values as moto reports them, a List<…> value (which moto reports as
    the Python repr of the list it split the value into) joined back with commas as it was given."""
    stack = client("cloudformation", endpoint, region).describe_stacks(StackName=stack_name)["Stacks"][0]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    for name, definition in template.get("Parameters", {}).items():
        kind = definition["Type"]
        if name in values and (kind.startswith("List<") or kind == "CommaDelimitedList") and values[name].startswith("["):
            values[name] = ",".join(ast.literal_eval(values[name]))
    return values


def moto_server_process(port: int):
    """A context manager: a moto server in its own process on 127.0.0.1:port, yielding its endpoint.
    Its state is its own: moto servers started in this process (ThreadedMotoServer) share this
    process's backends, and moto keeps S3 bucket names global across accounts."""
    import contextlib
    import subprocess
    import sys
    import urllib.request

    @contextlib.contextmanager
    def server():
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        endpoint = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                if process.poll() is not None:
                    raise AssertionError(f"the moto server on port {port} exited with status {process.returncode}")
                try:
                    urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise AssertionError(f"the moto server on port {port} did not answer")
            yield endpoint
        finally:
            process.kill()  # its state is thrown away: no need to wait for a clean shutdown
            process.wait()

    return server()
