"""Deploying rendered stacks to the moto server the way `sam deploy` would (shared by deploy tests)."""

from __future__ import annotations

import ast
import json
import shlex
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
