"""The day-2 commands against stubbed AWS responses (botocore's Stubber, in AWS's documented response shapes): one stubbed client per service, and the responses of a deployed example stack."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.stub import Stubber

from generator.commands import live_diff, run_job, teardown
from generator.commands.aws_session import Aws
from support.moto_deploy import yaml_load


ACCOUNT = "123456789012"
NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)


class Stubs:
    """One stubbed client per service (whatever Region the command asks for)."""

    def __init__(self):
        self.stubbers: dict[str, Stubber] = {}
        self.clients: dict[str, object] = {}
        self.requests: list[tuple[str, dict]] = []

    def __getitem__(self, service: str) -> Stubber:
        if service not in self.stubbers:
            client = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1").client(service)
            client.meta.events.register("provide-client-params", lambda params, model, **_: self.requests.append((model.name, dict(params))))
            self.clients[service], self.stubbers[service] = client, Stubber(client)
            self.stubbers[service].activate()
        return self.stubbers[service]

    def request(self, operation: str) -> dict:
        return next(params for name, params in self.requests if name == operation)

    def done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def stubs(monkeypatch):
    registry = Stubs()
    monkeypatch.setattr(Aws, "client", lambda self, service: (registry[service], registry.clients[service])[1])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setattr(live_diff, "POLL_SECONDS", 0)
    monkeypatch.setattr(run_job, "WAIT_SECONDS", 0)
    monkeypatch.setattr(teardown, "POLL_SECONDS", 0)
    return registry


def template_of(project, stack: str) -> dict:
    return yaml_load((project / "templates_out" / stack / "template.yaml").read_text())


def overrides_of(project, stack: str, environment: str) -> dict:
    import shlex
    import tomllib

    section = tomllib.loads((project / "samconfig.toml").read_text())[f"{stack}-{environment}"]["deploy"]["parameters"]
    return dict(pair.split("=", 1) for pair in shlex.split(section["parameter_overrides"]))


def described_stack(name: str, region: str, parameters: dict, status: str = "UPDATE_COMPLETE", outputs: dict | None = None,
                    tags: dict | None = None, reason: str | None = None) -> dict:
    stack = {"StackName": name, "StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{name}/0e5d6f20-0000-0000-0000-000000000000",
             "CreationTime": NOW, "StackStatus": status,
             "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
             "Outputs": [{"OutputKey": k, "OutputValue": v, **({"ExportName": f"{name}-{k}"} if k != "TaskDefinitionArn" else {})}
                         for k, v in (outputs or {}).items()],
             "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
    if reason:
        stack["StackStatusReason"] = reason
    return {"Stacks": [stack]}


def with_defaults(template: dict, overrides: dict) -> dict:
    return {name: overrides.get(name, definition.get("Default", "")) for name, definition in template.get("Parameters", {}).items()}


def queue_deployed(stubs, project, stack: str, environment: str, region: str, resources: dict[str, str] | None = None):
    template = template_of(project, stack)
    overrides = overrides_of(project, stack, environment)
    name = f"{stack}-{environment}"
    stubs["cloudformation"].add_response("describe_stacks", described_stack(name, region, with_defaults(template, overrides)), {"StackName": name})
    stubs["cloudformation"].add_response("get_template", {"TemplateBody": json.dumps(template)}, {"StackName": name, "TemplateStage": "Original"})
    queue_resources(stubs, name, resources or {})
    return template, overrides, name


def queue_resources(stubs, name: str, resources: dict[str, str]):
    stubs["cloudformation"].add_response("list_stack_resources", {"StackResourceSummaries": [
        {"LogicalResourceId": k, "PhysicalResourceId": v, "ResourceType": "AWS::CloudFormation::WaitConditionHandle",
         "LastUpdatedTimestamp": NOW, "ResourceStatus": "CREATE_COMPLETE"} for k, v in resources.items()]}, {"StackName": name})
