"""Running a rendered state machine definition on moto's Step Functions interpreter (ECS tasks stood in for), and the substitution values for an example network."""

from __future__ import annotations

import contextlib
import copy
import json
import time
import urllib.request
import uuid

from support.moto_deploy import client


@contextlib.contextmanager
def moto_runs_state_machines(endpoint: str, monkeypatch):
    """Switch the moto server to its state machine interpreter (its own backend: state machines
    created through CloudFormation are not visible meanwhile), and back."""
    def set_config(value: bool):
        request = urllib.request.Request(f"{endpoint}/moto-api/config", method="POST",
                                         data=json.dumps({"stepfunctions": {"execute_state_machine": value}}).encode())
        urllib.request.urlopen(request).read()

    # Task states call services through http://localhost:$MOTO_PORT (moto.settings.moto_server_port).
    monkeypatch.setenv("MOTO_PORT", endpoint.rsplit(":", 1)[1])
    set_config(True)
    try:
        yield
    finally:
        set_config(False)


def run(endpoint: str, definition: dict, execution_input: dict) -> tuple[dict, list[str]]:
    sfn = client("stepfunctions", endpoint, "us-east-1")
    name = f"variant-{uuid.uuid4().hex[:12]}"
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/variant")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(execution_input))["executionArn"]
    for _ in range(200):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
    history = sfn.get_execution_history(executionArn=execution)["events"]
    entered = [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]
    return described, entered


def task_as_pass(definition: dict, result: dict | None = None) -> dict:
    """The definition with `Run ECS task` replaced by a Pass with its Parameters (or a fixed Result)."""
    variant = copy.deepcopy(definition)
    task = variant["States"]["Run ECS task"]
    replacement = {"Type": "Pass", **({"Result": result} if result is not None else {"Parameters": task["Parameters"]}),
                   "ResultPath": task["ResultPath"]}
    replacement.update({key: task[key] for key in ("Next", "End") if key in task})
    variant["States"]["Run ECS task"] = replacement
    return variant


def task_that_fails(definition: dict) -> dict:
    """The definition with `Run ECS task` calling a Lambda function that does not exist; its Retry,
    Catch and ResultPath stay, so the error takes the definition's own failure path."""
    variant = copy.deepcopy(definition)
    variant["States"]["Run ECS task"].update(Resource="arn:aws:states:::lambda:invoke", Parameters={"FunctionName": "no-such-function"})
    return variant


def run_task_request(parameters: dict) -> dict:
    """Step Functions' PascalCase RunTask parameters as the ECS API's request, checked by botocore's
    own validator against the RunTask input shape (not by the project's asl_lint)."""
    import botocore.session
    from botocore.validate import validate_parameters

    def convert(value, shape):
        if shape.type_name == "structure":
            members = {name[:1].upper() + name[1:]: (name, member) for name, member in shape.members.items()}
            assert set(value) <= set(members), set(value) - set(members)
            return {members[key][0]: convert(item, members[key][1]) for key, item in value.items()}
        if shape.type_name == "list":
            return [convert(item, shape.member) for item in value]
        return value

    shape = botocore.session.get_session().get_service_model("ecs").operation_model("RunTask").input_shape
    request = convert(parameters, shape)
    validate_parameters(request, shape)  # raises ParamValidationError on a wrong name, type or enum
    return request


NETWORK = {"Partition": "aws", "ClusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/batch",
           "TaskFamilyArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/job",
           "Subnets": "subnet-0a1b2c3d,subnet-1a2b3c4d", "SecurityGroups": "sg-0123456789abcdef0"}
