"""The issue 15 golden variants deploy on the moto server with their samconfig.toml overrides, in
dependency order (the foundation first), and what moto models is read back.

What moto 5.2.6 does not model, asserted on the rendered templates instead (test_batch_options.py,
test_task_foundation.py, test_sfn_concurrency_spot.py): AWS::ECS::ClusterCapacityProviderAssociations
(not created: the stack does not even list it), a task definition's EphemeralStorage, and
AWS::Scheduler::Schedule (variant-scheduler-spot is not deployed here). moto's EventBridge keeps a
rule target's EcsParameters in CloudFormation's spelling (CapacityProvider/Weight, TagList) where
AWS stores the API's (capacityProvider/weight, Tags), so boto3's parsed answer drops those fields:
the targets are read from the raw answer, which shows what the stack stored, parameters resolved.
"""

from __future__ import annotations

import json

import pytest

from support.moto_deploy import (client, create_stack, for_moto, inline_policy, physical_ids, samconfig_overrides,
                                 translate_with_definition, yaml_load)
from support.paths import GOLDEN

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

SAMCONFIG = GOLDEN / "out" / "samconfig.toml"
ORDER = ("variant-foundation-spot-test", "variant-s3-spot-mix-test", "variant-rule-spot-size-test", "variant-sfn-spot-single-test")
DEFAULT_REGION = "us-east-1"  # where sam deploys a section without a region


@pytest.fixture(scope="module")
def deployed(moto_endpoint):
    stacks = {}
    for config_env in ORDER:
        section, overrides = samconfig_overrides(SAMCONFIG, config_env)
        region = section.get("region", DEFAULT_REGION)
        path = GOLDEN / "out" / section["template_file"]
        template = yaml_load(path.read_text())
        if "Transform" in template:
            template = for_moto(translate_with_definition(path, overrides, region))
        stack = create_stack(moto_endpoint, region, section["stack_name"], json.dumps(template), overrides, section["capabilities"].split())
        assert stack["StackStatus"] == "CREATE_COMPLETE", (config_env, stack.get("StackStatusReason"))
        stacks[config_env] = section, overrides, physical_ids(moto_endpoint, region, section["stack_name"]), region
    return moto_endpoint, stacks


def raw_targets(events, rule: str) -> list[dict]:
    """ListTargetsByRule as moto answered it (see the module docstring)."""
    answer = {}
    events.meta.events.register("after-call.events.ListTargetsByRule", lambda http_response, **_: answer.update(body=http_response.text))
    events.list_targets_by_rule(Rule=rule)
    return json.loads(answer["body"])["Targets"]


def test_foundation_task_definition_has_the_container_settings(deployed):
    endpoint, stacks = deployed
    _, _, ids, region = stacks["variant-foundation-spot-test"]
    definition = client("ecs", endpoint, region).describe_task_definition(taskDefinition="spot-job")["taskDefinition"]
    (container,) = definition["containerDefinitions"]
    assert container["readonlyRootFilesystem"] is True
    assert container["stopTimeout"] == 110
    assert container["ulimits"] == [{"name": "nofile", "softLimit": 4096, "hardLimit": 8192}]
    assert container["linuxParameters"] == {"initProcessEnabled": True}
    # not modelled by moto: the capacity provider association and the task's ephemeral storage
    assert "Cluster" in ids and "ClusterCapacityProviders" not in ids


def test_s3_job_target_runs_on_the_mixed_strategy_with_tags_and_size(deployed):
    endpoint, stacks = deployed
    _, _, foundation_ids, _ = stacks["variant-foundation-spot-test"]
    _, overrides, ids, region = stacks["variant-s3-spot-mix-test"]
    events = client("events", endpoint, region)
    (target,) = raw_targets(events, ids["ObjectCreatedRule"])
    ecs = target["EcsParameters"]
    assert target["Arn"].endswith(":cluster/" + foundation_ids["Cluster"])
    assert ecs["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 3},
                                               {"CapacityProvider": "FARGATE", "Weight": 1, "Base": 1}]
    assert "LaunchType" not in ecs
    assert (ecs["PropagateTags"], ecs["EnableECSManagedTags"]) == ("TASK_DEFINITION", True)
    assert ecs["TagList"] == [{"Key": "env", "Value": overrides["TaskTagEnv"]}, {"Key": "team", "Value": overrides["TaskTagTeam"]}]
    assert target["InputTransformer"]["InputTemplate"].startswith('{"cpu":"2048","memory":"4096","containerOverrides":')
    document = inline_policy(endpoint, region, ids["RunTaskRole"])
    (tag,) = [s for s in document["Statement"] if s["Sid"] == "TagTasksOnRunTask"]
    assert tag == {"Sid": "TagTasksOnRunTask", "Effect": "Allow", "Action": ["ecs:TagResource"],
                   "Resource": [f"arn:aws:ecs:{region}:123456789012:task/{foundation_ids['Cluster']}/*"],
                   "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}}}


def test_hand_overrides_are_what_got_deployed(deployed):
    endpoint, stacks = deployed
    _, _, ids, region = stacks["variant-rule-spot-size-test"]
    events = client("events", endpoint, region)
    rule = events.describe_rule(Name=ids["ScheduleRule"].split("|")[0].split("/")[-1])
    assert "Description" not in rule  # deleted by hand
    (target,) = raw_targets(events, rule["Name"])
    assert target["EcsParameters"]["Group"] == "hand-tuned"
    assert target["EcsParameters"]["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert json.loads(target["Input"]) == {"cpu": "8192", "memory": "16384"}


def test_state_machine_role_may_list_its_own_executions_and_tag_its_tasks(deployed):
    endpoint, stacks = deployed
    section, _, ids, region = stacks["variant-sfn-spot-single-test"]
    _, _, foundation_ids, _ = stacks["variant-foundation-spot-test"]
    machine = client("stepfunctions", endpoint, region).describe_state_machine(stateMachineArn=ids["StateMachine"])
    definition = json.loads(machine["definition"])
    assert definition["StartAt"] == "Check for a running execution"
    assert definition["States"]["Run ECS task"]["Parameters"]["Tags"] == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "data"}]
    statements = {s["Sid"]: s for s in inline_policy(endpoint, region, ids["StateMachineRole"])["Statement"]}
    assert statements["ListOwnExecutions"]["Resource"] == [ids["StateMachine"]]  # the ARN built from the name is the machine's
    assert statements["TagTasksOnRunTask"]["Resource"] == [f"arn:aws:ecs:{region}:123456789012:task/{foundation_ids['Cluster']}/*"]
    assert machine["name"] == section["stack_name"]
