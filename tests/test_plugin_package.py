"""An out-of-tree blueprint package (tests/plugins/acme_blueprints, the example of
docs/writing-a-blueprint.md) installed the way a team installs one: pip builds it and installs it
into a folder of its own, and `python -m generator`, with that folder on its path, finds
`event_task` through the entry point, lists it, renders a stack from it, lints it with the team's
own rule folder, and the rendered stack deploys to moto with its samconfig overrides."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.moto_deploy import client, create_stack, inline_policy, physical_ids, samconfig_overrides
from support.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.deploy, pytest.mark.lint]

PLUGIN = REPO / "tests" / "plugins" / "acme_blueprints"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The package installed by pip into its own folder (built from a copy: a build writes build/
    and *.egg-info beside the sources)."""
    work = tmp_path_factory.mktemp("acme")
    source = work / "source"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "tests"))
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--target", str(work / "site"), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return work / "site"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project whose manifest names the blueprint by its entry point name."""
    folder = tmp_path_factory.mktemp("orders")
    manifest = (PLUGIN / "tests" / "stacks.toml").read_text()
    assert 'blueprint = "acme_blueprints.event_task"' in manifest
    (folder / "stacks.toml").write_text(manifest.replace('blueprint = "acme_blueprints.event_task"', 'blueprint = "event_task"'))
    return folder


def generator(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    # Only the installed copy is on the path: not the sources (pytest's `pythonpath` is this process's).
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=600)


def test_the_installed_blueprint_is_found_by_its_entry_point(site, project):
    listed = generator(site, "list", cwd=project)
    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.lstrip().startswith("event_task ")]
    assert "Run an ECS Fargate task for each application event" in line and "(entry point of acme-blueprints 1.0.0)" in line
    described = generator(site, "list", "event_task", cwd=project)
    assert described.returncode == 0, described.stderr
    assert "  source (string, required): the events' source, as the application puts them; e.g. \"acme.orders\"\n" in described.stdout
    assert "  ClusterArn (String, required): ARN of the ECS cluster the task runs in\n" in described.stdout
    assert "(from the entry point of acme-blueprints 1.0.0, module acme_blueprints.event_task)" in described.stdout


def test_a_stack_of_it_renders_lints_and_deploys(site, project, moto_endpoint):
    rendered = generator(site, "render", cwd=project)
    assert rendered.returncode == 0, rendered.stderr
    template_path = project / "templates_out" / "order-fulfilment" / "template.yaml"
    assert "(blueprint event_task)" in template_path.read_text().splitlines()[0]
    linted = generator(site, "lint", "--no-cache", "--append-rules", str(PLUGIN / "lint_rules"), cwd=project)
    assert linted.returncode == 0 and "lint: 1 template(s) clean" in linted.stdout, linted.stdout + linted.stderr
    assert generator(site, "check", "--no-cache", cwd=project).returncode == 0

    section, overrides = samconfig_overrides(project / "samconfig.toml", "order-fulfilment-dev")
    region, stack_name = section["region"], section["stack_name"]
    stack = create_stack(moto_endpoint, region, stack_name, template_path.read_text(), overrides, section["capabilities"].split())
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    ids = physical_ids(moto_endpoint, region, stack_name)
    events = client("events", moto_endpoint, region)
    rule = events.describe_rule(Name=ids["EventRule"].split("/")[-1].split("|")[0])
    assert json.loads(rule["EventPattern"]) == {"source": ["acme.orders"], "detail-type": ["OrderPlaced", "OrderResubmitted"]}
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    account = client("sts", moto_endpoint, region).get_caller_identity()["Account"]
    assert target["Arn"] == overrides["ClusterArn"]
    assert target["EcsParameters"]["TaskDefinitionArn"] == f"arn:aws:ecs:{region}:{account}:task-definition/fulfil"
    assert json.loads(target["Input"]) == {"containerOverrides": [{"name": "fulfil", "command": ["python", "fulfil.py"]}]}
    assert target["DeadLetterConfig"]["Arn"].endswith(":" + ids["DeadLetterQueue"].rsplit("/", 1)[-1])
    # the building blocks' least-privilege role, as created: this family in this cluster, these roles to ECS only
    statements = inline_policy(moto_endpoint, region, target["RoleArn"].rsplit("/", 1)[-1])["Statement"]
    assert [statement["Sid"] for statement in statements] == ["RunTaskFamilyInCluster", "PassTaskRoles"]
    assert statements[0]["Resource"] == [f"arn:aws:ecs:{region}:{account}:task-definition/fulfil",
                                         f"arn:aws:ecs:{region}:{account}:task-definition/fulfil:*"]
    assert statements[0]["Condition"] == {"ArnEquals": {"ecs:cluster": overrides["ClusterArn"]}}
    # no TaskRoleArn: the Fn::If gives AWS::NoValue, which moto 5.2 keeps in the list as null
    assert [role for role in statements[1]["Resource"] if role is not None] == [overrides["ExecutionRoleArn"]]
    assert statements[1]["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
