"""import_from: every ECS-running blueprint imports the cluster, family and roles of a task_foundation
stack, and a foundation named in the same manifest is cross-checked at render (blueprint,
environments, Region), so a stack that would fail at deploy with "No export named …" fails here."""

from __future__ import annotations

import json
import shlex
import tomllib

import pytest

from generator.core.errors import UserError
from generator.core.manifest import load_manifest
from generator.core.render import plan
from support.manifests import render_text
from support.expected_iam import IMPORTED_PASS_ROLE, IMPORTED_RUN_TASK, IMPORTED_WATCH_TASKS, imported, imported_family_arn, statements_by_sid

FOUNDATION = """
[stacks.base]
blueprint = "task_foundation"
description = "foundation"
[stacks.base.environments.dev]
region = "eu-west-1"
[stacks.base.environments.dev.parameters]
ImageUri = "public.ecr.aws/docker/library/python:3.12-slim"
[stacks.base.environments.prod]
region = "eu-west-1"
[stacks.base.environments.prod.parameters]
ImageUri = "public.ecr.aws/docker/library/python:3.12-slim"
"""
NETWORK = 'Subnets = "subnet-0a1b2c3d"\nSecurityGroups = "sg-0123456789abcdef0"\n'
# One importing stack per blueprint that runs an ECS task (the scheduled one in both of its forms).
IMPORTERS = {
    "nightly": ("scheduled_task", 'schedule = "cron(0 2 * * ? *)"', ""),
    "tokyo": ("scheduled_task", 'schedule = "cron(0 2 * * ? *)"\ntimezone = "Asia/Tokyo"', ""),
    "flow": ("sfn_task", 'command = ["python", "job.py"]', ""),
    "ingest": ("s3_object_task", 'key_prefix = "in/"', 'BucketName = "ingest-bucket"\n'),
}


def importer(name: str, blueprint: str, options: str, parameters: str = "", *, import_from: str = "base",
             environments: dict[str, str] | None = None) -> str:
    """A stack importing from `import_from`, with `parameters` in every environment; environments:
    name → its region (default eu-west-1, the foundation's) and extra parameter lines, as "region|lines"."""
    text = f'[stacks.{name}]\nblueprint = "{blueprint}"\ndescription = "test"\n' \
           f'[stacks.{name}.options]\nimport_from = "{import_from}"\ncontainer_name = "app"\n{options}\n'
    for env, extra in (environments or {"dev": "", "prod": ""}).items():
        region, _, more = extra.partition("|")
        text += f'[stacks.{name}.environments.{env}]\nregion = "{region or "eu-west-1"}"\n' \
                f"[stacks.{name}.environments.{env}.parameters]\n{NETWORK}{parameters}{more}\n"
    return text


def load(tmp_path, text: str):
    path = tmp_path / "stacks.toml"
    path.write_text(text)
    return load_manifest(path)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The foundation and one importer per blueprint, rendered with their samconfig sections."""
    folder = tmp_path_factory.mktemp("import-from")
    text = FOUNDATION + "".join(importer(name, *spec) for name, spec in IMPORTERS.items())
    specs = load(folder, text)
    render_plan = plan(specs, only=None, manifest_path=folder / "stacks.toml", out_dir=folder / "out",
                       samconfig_path=folder / "samconfig.toml")
    samconfig = tomllib.loads(render_plan.samconfig_text)
    overrides = {
        config_env: dict(pair.split("=", 1) for pair in shlex.split(section["deploy"]["parameters"]["parameter_overrides"]))
        for config_env, section in samconfig.items() if isinstance(section, dict)
    }
    return {stack.spec.name: stack for stack in render_plan.stacks}, overrides


@pytest.mark.parametrize("name", list(IMPORTERS))
def test_every_blueprint_takes_the_foundation_of_the_same_environment_and_no_task_parameters(rendered, name):
    stacks, overrides = rendered
    parameters = stacks[name].template["Parameters"]
    assert "FoundationStack" in parameters
    assert not {"ClusterArn", "TaskFamily", "ExecutionRoleArn", "TaskRoleArn"} & set(parameters)
    assert overrides[f"{name}-dev"]["FoundationStack"] == "base-dev"
    assert overrides[f"{name}-prod"]["FoundationStack"] == "base-prod"
    # What it imports is what the foundation exports.
    exports = {output["Export"]["Name"]["Fn::Sub"].removeprefix("${AWS::StackName}-")
               for output in stacks["base"].template["Outputs"].values() if "Export" in output}
    assert {"ClusterArn", "TaskFamily", "ExecutionRoleArn", "TaskRoleArn"} <= exports


def test_scheduled_rule_runs_the_imported_family_in_the_imported_cluster(rendered):
    template = rendered[0]["nightly"].template
    (target,) = template["Resources"]["ScheduleRule"]["Properties"]["Targets"]
    assert target["Arn"] == imported("ClusterArn")
    assert target["EcsParameters"]["TaskDefinitionArn"] == imported_family_arn()
    role = template["Resources"]["RunTaskRole"]
    assert statements_by_sid(role) == {"RunTaskFamilyInCluster": IMPORTED_RUN_TASK, "PassTaskRoles": IMPORTED_PASS_ROLE}


def test_scheduler_schedule_runs_the_imported_family_in_the_imported_cluster(rendered):
    template = rendered[0]["tokyo"].template
    target = template["Resources"]["Schedule"]["Properties"]["Target"]
    assert target["Arn"] == imported("ClusterArn")
    assert target["EcsParameters"]["TaskDefinitionArn"] == imported_family_arn()
    statements = statements_by_sid(template["Resources"]["RunTaskRole"])
    assert statements["RunTaskFamilyInCluster"] == IMPORTED_RUN_TASK and statements["PassTaskRoles"] == IMPORTED_PASS_ROLE
    assert statements["SendToDeadLetterQueue"]["Resource"] == [{"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}]


def test_state_machine_substitutes_the_imported_cluster_and_family(rendered):
    stack = rendered[0]["flow"]
    machine = stack.template["Resources"]["StateMachine"]["Properties"]
    substitutions = machine["DefinitionSubstitutions"]
    assert substitutions["ClusterArn"] == imported("ClusterArn")
    assert substitutions["TaskFamilyArn"] == imported_family_arn()
    statements = statements_by_sid(stack.template["Resources"]["StateMachineRole"])
    assert statements["RunTaskFamilyInCluster"] == IMPORTED_RUN_TASK
    assert statements["WatchTasksInCluster"] == IMPORTED_WATCH_TASKS
    assert statements["PassTaskRoles"] == IMPORTED_PASS_ROLE


def test_s3_rule_runs_the_imported_family_in_the_imported_cluster(rendered):
    template = rendered[0]["ingest"].template
    (target,) = template["Resources"]["ObjectCreatedRule"]["Properties"]["Targets"]
    assert target["Arn"] == imported("ClusterArn")
    assert target["EcsParameters"]["TaskDefinitionArn"] == imported_family_arn()
    statements = statements_by_sid(template["Resources"]["RunTaskRole"])
    assert statements["RunTaskFamilyInCluster"] == IMPORTED_RUN_TASK and statements["PassTaskRoles"] == IMPORTED_PASS_ROLE


def test_a_foundation_outside_the_manifest_is_allowed(tmp_path):
    # A foundation deployed from another repository: only the deploy can check it.
    specs = load(tmp_path, importer("nightly", *IMPORTERS["nightly"], import_from="shared-base"))
    assert specs["nightly"].parameter_values("dev")["FoundationStack"] == "shared-base-dev"


def test_importing_from_a_stack_that_is_not_a_foundation_is_an_error(tmp_path):
    text = FOUNDATION + importer("nightly", *IMPORTERS["nightly"]) + importer("flow", *IMPORTERS["flow"], import_from="nightly")
    with pytest.raises(UserError) as raised:
        load(tmp_path, text)
    assert str(raised.value) == (
        "stack flow: options.import_from: 'nightly' is a scheduled_task stack, which does not export the cluster, family "
        "and roles; allowed: a task_foundation stack (base) or a stack deployed from outside this manifest"
    )


def test_an_environment_the_foundation_lacks_is_an_error_unless_it_names_its_foundation_stack(tmp_path):
    environments = {"dev": "", "staging": ""}
    with pytest.raises(UserError) as raised:
        load(tmp_path, FOUNDATION + importer("ingest", *IMPORTERS["ingest"], environments=environments))
    assert str(raised.value) == (
        "stack ingest: options.import_from: task_foundation stack 'base' has no environment 'staging' (it has: dev, prod), "
        "so there is no base-staging to import from; allowed: environments that 'base' has, "
        "or environments.staging.parameters.FoundationStack naming the foundation stack"
    )
    environments["staging"] = '|FoundationStack = "base-dev"'
    specs = load(tmp_path, FOUNDATION + importer("ingest", *IMPORTERS["ingest"], environments=environments))
    assert specs["ingest"].parameter_values("staging")["FoundationStack"] == "base-dev"


def test_an_environment_in_another_region_than_its_foundation_is_an_error(tmp_path):
    # Fn::ImportValue only sees exports of the stack's own Region.
    text = FOUNDATION + importer("flow", *IMPORTERS["flow"], environments={"dev": "", "prod": "us-east-1"})
    with pytest.raises(UserError) as raised:
        load(tmp_path, text)
    assert raised.value.stack == "flow" and raised.value.field == "environments.prod.region"
    assert raised.value.message.startswith("'us-east-1' differs from 'eu-west-1', the region of base-prod")
    assert raised.value.message.endswith("allowed: eu-west-1, or set environments.prod.parameters.FoundationStack")


def test_errors_are_one_line_at_the_command_line_and_nothing_is_written(tmp_path, run_cli):
    (tmp_path / "stacks.toml").write_text(FOUNDATION + importer("flow", *IMPORTERS["flow"], environments={"test": ""}))
    result = run_cli("render", "--manifest", "stacks.toml", "--out", "out", "--samconfig", "samconfig.toml", cwd=tmp_path)
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith("error: stack flow: options.import_from: task_foundation stack 'base' has no environment 'test'")
    assert not (tmp_path / "out").exists() and not (tmp_path / "samconfig.toml").exists()


def test_container_name_defaults_to_the_foundations_container(tmp_path):
    text = FOUNDATION + importer("nightly", *IMPORTERS["nightly"]).replace('container_name = "app"\n', "")
    text = text.replace('schedule = "cron(0 2 * * ? *)"', 'schedule = "cron(0 2 * * ? *)"\ncommand = ["run"]')
    stack = render_text(tmp_path, text)["nightly"]
    resources = stack.template["Resources"]
    (target,) = resources["ScheduleRule"]["Properties"]["Targets"]
    assert json.loads(target["Input"])["containerOverrides"] == [{"name": "app", "command": ["run"]}]  # task_foundation's container
    pattern = resources["TaskFailedAlertRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["$or"][0]["containers"]["name"] == ["app"]


def test_a_state_machine_without_container_name_runs_the_foundations_container(tmp_path):
    # sfn_task checks its strings for ${...} placeholders before the foundation names the container
    text = FOUNDATION + importer("flow", *IMPORTERS["flow"]).replace('container_name = "app"\n', "")
    stack = render_text(tmp_path, text)["flow"]
    (definition,) = [text for path, text in stack.files.items() if path.endswith(".asl.json")]
    run = json.loads(definition)["States"]["Run ECS task"]["Parameters"]
    assert run["Overrides"]["ContainerOverrides"][0]["Name"] == "app"  # task_foundation's container


def test_a_container_the_foundation_does_not_have_is_an_error(tmp_path):
    text = FOUNDATION + importer("nightly", *IMPORTERS["nightly"]).replace('container_name = "app"', 'container_name = "worker"')
    with pytest.raises(UserError) as raised:
        load(tmp_path, text)
    assert str(raised.value).startswith("stack nightly: options.container_name: 'worker' is not the container of base's task "
                                        "definition ('app')")


def test_a_foundation_outside_the_manifest_needs_container_name(tmp_path):
    text = importer("nightly", *IMPORTERS["nightly"], import_from="shared-base").replace('container_name = "app"\n', "")
    with pytest.raises(UserError) as raised:
        load(tmp_path, text)
    assert "options.container_name: required option is missing" in str(raised.value)


def test_an_import_from_typo_says_did_you_mean(tmp_path):
    text = FOUNDATION + importer("nightly", *IMPORTERS["nightly"], import_from="bases")
    with pytest.raises(UserError) as raised:
        load(tmp_path, text)
    assert str(raised.value).startswith("stack nightly: options.import_from: 'bases' is no stack of this manifest (did you mean 'base'?)")
