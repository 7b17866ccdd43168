"""Issue 15 options on every blueprint that starts an ECS task: capacity provider strategy (and
`spot`), per-job task size, task tags, and the IAM each needs; asserted on the exact rendered
properties of the rule target, the Scheduler target and the Step Functions RunTask parameters."""

from __future__ import annotations

import json

import pytest

from support.expected_iam import FAMILY_ARN, PASS_ROLE, RUN_TASK, SEND_TO_DLQ, policy_statements
from support.manifests import manifest_text, one_resource, render_text

TAGGED_ENVIRONMENTS = '''
[stacks.job.environments.dev]
region = "us-east-1"
tags = { team = "data", "cost-center" = "42" }
[stacks.job.environments.dev.parameters]
{parameters}
[stacks.job.environments.prod]
region = "us-east-1"
tags = { team = "data", "cost-center" = "7" }
[stacks.job.environments.prod.parameters]
{parameters}
'''
PARAMETERS = '''ClusterArn = "arn:aws:ecs:us-east-1:123456789012:cluster/batch"
TaskFamily = "job"
Subnets = "subnet-0a1b2c3d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::123456789012:role/exec"'''
MIXED = 'capacity_provider_strategy = [{ provider = "FARGATE_SPOT", weight = 3 }, { provider = "FARGATE", base = 1, weight = 1 }]'
MIXED_CFN = [{"CapacityProvider": "FARGATE_SPOT", "Weight": 3}, {"CapacityProvider": "FARGATE", "Weight": 1, "Base": 1}]
NETWORK = {"Subnets": {"Ref": "Subnets"}, "SecurityGroups": {"Ref": "SecurityGroups"}, "AssignPublicIp": "DISABLED"}
TASKS_IN_CLUSTER = {"Fn::Sub": [
    "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${Cluster}/*",
    {"Cluster": {"Fn::Select": [1, {"Fn::Split": ["cluster/", {"Ref": "ClusterArn"}]}]}},
]}
TAG_ON_RUN_TASK = {
    "Sid": "TagTasksOnRunTask",
    "Effect": "Allow",
    "Action": ["ecs:TagResource"],
    "Resource": [TASKS_IN_CLUSTER],
    "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
}


def tagged_manifest(blueprint: str, options: str) -> str:
    return (f'[stacks.job]\nblueprint = "{blueprint}"\ndescription = "test"\n[stacks.job.options]\n{options}\n'
            + TAGGED_ENVIRONMENTS.replace("{parameters}", PARAMETERS))


def render(tmp_path, blueprint: str, options: str, *, tagged: bool = False):
    text = tagged_manifest(blueprint, options) if tagged else manifest_text("job", blueprint, options)
    return render_text(tmp_path, text)["job"]


# --- EventBridge rule target ------------------------------------------------------------------------

def test_rule_target_with_a_strategy_has_no_launch_type_and_tags_the_task(tmp_path):
    stack = render(tmp_path, "scheduled_task", f'schedule = "rate(1 hour)"\ncontainer_name = "app"\n{MIXED}\ncpu = 2048\nmemory = 4096\n'
                   'propagate_tags = "TASK_DEFINITION"\nenable_ecs_managed_tags = true\nstack_tags_on_tasks = true', tagged=True)
    template = stack.template
    (target,) = template["Resources"]["ScheduleRule"]["Properties"]["Targets"]
    assert target["EcsParameters"] == {
        "TaskDefinitionArn": FAMILY_ARN,
        "TaskCount": 1,
        "CapacityProviderStrategy": MIXED_CFN,  # and no LaunchType: AWS rejects both
        "PlatformVersion": "LATEST",
        "NetworkConfiguration": {"AwsVpcConfiguration": NETWORK},
        "PropagateTags": "TASK_DEFINITION",
        "EnableECSManagedTags": True,
        "TagList": [{"Key": "cost-center", "Value": {"Ref": "TaskTagCostCenter"}}, {"Key": "team", "Value": {"Ref": "TaskTagTeam"}}],
    }
    # the task-level size override travels in the overrides (TaskOverride cpu/memory are strings)
    assert json.loads(target["Input"]) == {"cpu": "2048", "memory": "4096"}  # (no containerOverrides: nothing to override)
    assert policy_statements(template["Resources"]["RunTaskRole"]) == [RUN_TASK, PASS_ROLE, TAG_ON_RUN_TASK]
    for name in ("TaskTagTeam", "TaskTagCostCenter"):
        assert template["Parameters"][name]["Type"] == "String"
        assert template["Parameters"][name]["AllowedPattern"] == r"^[A-Za-z0-9 _.:/=+@-]{0,256}$"


def test_the_environments_tags_become_each_environments_parameter_values(tmp_path):
    stack = render(tmp_path, "scheduled_task", 'schedule = "rate(1 hour)"\ncontainer_name = "app"\nstack_tags_on_tasks = true', tagged=True)
    assert stack.spec.parameter_values("dev")["TaskTagCostCenter"] == "42"
    assert stack.spec.parameter_values("prod")["TaskTagCostCenter"] == "7"
    assert stack.spec.parameter_values("prod")["TaskTagTeam"] == "data"


def test_without_tags_no_tag_resource_permission_and_launch_type_fargate(tmp_path):
    template = render(tmp_path, "scheduled_task", 'schedule = "rate(1 hour)"\ncontainer_name = "app"').template
    ecs = template["Resources"]["ScheduleRule"]["Properties"]["Targets"][0]["EcsParameters"]
    assert ecs["LaunchType"] == "FARGATE" and "CapacityProviderStrategy" not in ecs
    assert not {"PropagateTags", "EnableECSManagedTags", "TagList"} & set(ecs)
    assert policy_statements(template["Resources"]["RunTaskRole"]) == [RUN_TASK, PASS_ROLE]


@pytest.mark.parametrize("option", ['propagate_tags = "TASK_DEFINITION"', "enable_ecs_managed_tags = true"])
def test_propagated_or_managed_tags_alone_also_need_tag_resource(tmp_path, option):
    # AWS's own EventBridge role for ECS grants ecs:TagResource (CreateAction RunTask) for them too.
    template = render(tmp_path, "s3_object_task", f'container_name = "app"\n{option}').template
    assert policy_statements(template["Resources"]["RunTaskRole"]) == [RUN_TASK, PASS_ROLE, TAG_ON_RUN_TASK]


def test_s3_target_puts_the_task_size_beside_the_event_values(tmp_path):
    template = render(tmp_path, "s3_object_task", 'container_name = "app"\nspot = true\ncpu = 512\nmemory = 1024').template
    (target,) = template["Resources"]["ObjectCreatedRule"]["Properties"]["Targets"]
    assert target["EcsParameters"]["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert "LaunchType" not in target["EcsParameters"]
    assert target["InputTransformer"]["InputTemplate"] == (
        '{"cpu":"512","memory":"1024","containerOverrides":[{"name":"app","environment":'
        '[{"name":"S3_BUCKET","value":<S3_BUCKET>},{"name":"OBJECT_KEY","value":<OBJECT_KEY>}]}]}')


# --- EventBridge Scheduler target -------------------------------------------------------------------

def test_scheduler_target_spells_strategy_and_tags_its_own_way(tmp_path):
    template = render(tmp_path, "scheduled_task", f'schedule = "cron(0 2 * * ? *)"\ntimezone = "Asia/Tokyo"\ncontainer_name = "app"\n'
                      f'{MIXED}\npropagate_tags = "TASK_DEFINITION"\nstack_tags_on_tasks = true', tagged=True).template
    schedule = one_resource(template, "AWS::Scheduler::Schedule")["Properties"]
    assert schedule["Target"]["EcsParameters"] == {
        "TaskDefinitionArn": FAMILY_ARN,
        "TaskCount": 1,
        "CapacityProviderStrategy": MIXED_CFN,
        "PlatformVersion": "LATEST",
        "NetworkConfiguration": {"AwsvpcConfiguration": NETWORK},
        "PropagateTags": "TASK_DEFINITION",
        # a list of string maps, one {key, value} map per tag (not the rule's TagList of Key/Value)
        "Tags": [{"key": "cost-center", "value": {"Ref": "TaskTagCostCenter"}}, {"key": "team", "value": {"Ref": "TaskTagTeam"}}],
    }
    assert policy_statements(template["Resources"]["RunTaskRole"]) == [RUN_TASK, PASS_ROLE, TAG_ON_RUN_TASK, SEND_TO_DLQ]


# --- Step Functions RunTask -------------------------------------------------------------------------

def test_state_machine_run_task_parameters_carry_strategy_size_and_tags(tmp_path):
    stack = render(tmp_path, "sfn_task", f'container_name = "app"\n{MIXED}\ncpu = 1024\nmemory = 2048\npropagate_tags = "TASK_DEFINITION"\n'
                   'enable_ecs_managed_tags = true\nstack_tags_on_tasks = true', tagged=True)
    definition = json.loads(stack.files["job/statemachine/job.asl.json"])
    parameters = definition["States"]["Run ECS task"]["Parameters"]
    assert parameters == {
        "CapacityProviderStrategy": MIXED_CFN,
        "PlatformVersion": "LATEST",
        "Cluster": "${ClusterArn}",
        "TaskDefinition": "${TaskFamilyArn}",
        "NetworkConfiguration": {"AwsvpcConfiguration": {
            "Subnets.$": "States.StringSplit('${Subnets}', ',')", "SecurityGroups.$": "States.StringSplit('${SecurityGroups}', ',')",
            "AssignPublicIp": "DISABLED"}},
        "Overrides": {"Cpu": "1024", "Memory": "2048", "ContainerOverrides": [{"Name": "app"}]},
        "PropagateTags": "TASK_DEFINITION",
        "EnableECSManagedTags": True,
        "Tags": [{"Key": "cost-center", "Value": "${TaskTagCostCenter}"}, {"Key": "team", "Value": "${TaskTagTeam}"}],
    }
    machine = stack.template["Resources"]["StateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"]["TaskTagTeam"] == {"Ref": "TaskTagTeam"}
    assert machine["DefinitionSubstitutions"]["TaskTagCostCenter"] == {"Ref": "TaskTagCostCenter"}
    statements = policy_statements(stack.template["Resources"]["StateMachineRole"])
    assert statements[:2] == [RUN_TASK, TAG_ON_RUN_TASK]
    assert [s["Sid"] for s in statements].count("TagTasksOnRunTask") == 1


def test_state_machine_run_task_parameters_are_a_valid_run_task_request(tmp_path):
    """The PascalCase parameters name real RunTask members with valid values (botocore's own validator)."""
    from support.state_machines import run_task_request

    stack = render(tmp_path, "sfn_task", f'container_name = "app"\n{MIXED}\ncpu = 1024\nmemory = 2048\npropagate_tags = "TASK_DEFINITION"\n'
                   'enable_ecs_managed_tags = true\nstack_tags_on_tasks = true', tagged=True)
    parameters = json.loads(stack.files["job/statemachine/job.asl.json"])["States"]["Run ECS task"]["Parameters"]
    parameters = json.loads(json.dumps(parameters).replace("${TaskTagCostCenter}", "42").replace("${TaskTagTeam}", "data"))
    network = parameters["NetworkConfiguration"]["AwsvpcConfiguration"]
    network.update(Subnets=["subnet-0a1b2c3d"], SecurityGroups=["sg-0123456789abcdef0"])
    del network["Subnets.$"], network["SecurityGroups.$"]
    request = run_task_request(parameters)
    assert request["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 3},
                                                   {"capacityProvider": "FARGATE", "weight": 1, "base": 1}]
    assert "launchType" not in request
    assert request["tags"] == [{"key": "cost-center", "value": "42"}, {"key": "team", "value": "data"}]
    assert request["overrides"]["cpu"] == "1024" and request["overrides"]["memory"] == "2048"


# --- test-event: the RunTask request exactly as the rule target makes it -----------------------------

def test_test_event_shows_the_run_task_request_with_strategy_tags_and_size(tmp_path, run_cli):
    import botocore.session
    from botocore.validate import validate_parameters

    from support.paths import REFERENCE_EVENTS

    (tmp_path / "stacks.toml").write_text(tagged_manifest(
        "s3_object_task", f'container_name = "app"\n{MIXED}\ncpu = 2048\nmemory = 4096\npropagate_tags = "TASK_DEFINITION"\n'
        'enable_ecs_managed_tags = true\nstack_tags_on_tasks = true\nexisting_bucket = "sample-bucket"'))
    event = json.loads((REFERENCE_EVENTS / "s3-object-created.json").read_text())
    event["detail"]["bucket"]["name"] = "sample-bucket"
    (tmp_path / "event.json").write_text(json.dumps(event))
    result = run_cli("test-event", "job", "event.json", "--env", "prod", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    request = json.loads(result.out)["target"]
    assert request["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 3},
                                                   {"capacityProvider": "FARGATE", "weight": 1, "base": 1}]
    assert "launchType" not in request
    assert (request["propagateTags"], request["enableECSManagedTags"]) == ("TASK_DEFINITION", True)
    assert request["tags"] == [{"key": "cost-center", "value": "7"}, {"key": "team", "value": "data"}]  # prod's values
    assert request["overrides"]["cpu"] == "2048" and request["overrides"]["memory"] == "4096"
    # the whole request is one ECS accepts in shape (botocore's validator, the task definition ARN resolved)
    shape = botocore.session.get_session().get_service_model("ecs").operation_model("RunTask").input_shape
    validate_parameters(request, shape)


# --- README ----------------------------------------------------------------------------------------

def test_readme_says_what_spot_means_and_who_re_runs(tmp_path):
    rule = render(tmp_path, "scheduled_task", 'schedule = "rate(1 hour)"\ncontainer_name = "app"\nspot = true')
    readme = rule.files["job/README.md"]
    assert "SIGTERM and two minutes' warning" in readme and "`stopCode: SpotInterruption`" in readme
    assert "every interrupted task alerts as a failed run" in readme
    sfn = render(tmp_path, "sfn_task", 'container_name = "app"\nspot = true\nspot_retry_attempts = 1')
    readme = sfn.files["job/README.md"]
    assert "runs an interrupted task again, up to 1 time(s)" in readme and "not alerted as a job failure" in readme
