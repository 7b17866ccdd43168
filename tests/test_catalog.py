"""`list BLUEPRINT` prints every option, parameter and environment key from the blueprint itself, the
README shows exactly that output, and `new STACK --blueprint NAME` appends a stanza that keeps the
file, parses back, fails the render (naming every placeholder at once) until filled in, then renders."""

from __future__ import annotations

import re

import pytest

from generator.commands.catalog import example_parameters, reference, toml_value
from generator.core.manifest import ENVIRONMENT_KEYS
from generator.core.options import example_table, option_docs
from generator.core.registry import FOLDER_ORIGIN, registered
from support.paths import REPO, snapshot

FOLDER_BLUEPRINTS = sorted(name for name, blueprint in registered().items() if blueprint.origin == FOLDER_ORIGIN)
README_BLOCK = re.compile(r"<details><summary><code>python -m generator list (\w+)</code>: every option and parameter</summary>\n\n"
                          r"```text\n(.*?)```\n\n</details>\n", re.S)
# A valid value for each parameter a blueprint requires with its default options.
PARAMETER_VALUES = {
    "ClusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/batch",
    "TaskFamily": "job",
    "Subnets": ["subnet-0a1b2c3d"],
    "SecurityGroups": "sg-0123456789abcdef0",
    "ExecutionRoleArn": "arn:aws:iam::123456789012:role/exec",
    "BucketName": "example-bucket",
    "ImageUri": "public.ecr.aws/docker/library/python:3.12-slim",
}


@pytest.mark.parametrize("name", FOLDER_BLUEPRINTS)
def test_list_blueprint_prints_every_option_parameter_and_environment_key(name, run_cli, tmp_path):
    blueprint = registered()[name]
    result = run_cli("list", name, cwd=tmp_path)
    assert result.code == 0 and result.out == reference(blueprint)
    lines = result.out.splitlines()
    for doc in option_docs(blueprint.options_type):
        (line,) = [line for line in lines if line.startswith(f"  {doc.name} (")]
        assert doc.doc in line
        assert (", required)" in line) is doc.required
        assert line.endswith(f"; default: {doc.by_default}") or doc.required
        for nested in doc.table:
            assert any(line.startswith(f"    {nested.name} (") and nested.doc in line for line in lines)
    parameters = example_parameters(blueprint)
    if parameters is None:  # a blueprint built from the other stacks of a manifest (deploy_role)
        assert "  (they depend on the manifest's other stacks: `render` names every missing one, all at once)" in lines
    for parameter, definition in (parameters or {}).items():
        (line,) = [line for line in lines if line.startswith(f"  {parameter} (")]
        assert line.startswith(f"  {parameter} ({definition['Type']}, " + ("default" if "Default" in definition else "required"))
    for key, (kind, text) in ENVIRONMENT_KEYS.items():
        assert f"  {key} ({kind}): {text}" in lines


def test_list_takes_a_module_path_and_names_an_unknown_blueprint_in_one_line(run_cli, tmp_path):
    assert run_cli("list", "blueprints.scheduled_task", cwd=tmp_path).out.startswith("blueprints.scheduled_task: Run an ECS Fargate task")
    result = run_cli("list", "scheduled_tsk", cwd=tmp_path)
    assert result.code == 2 and result.err.startswith(
        "error: blueprint: unknown blueprint 'scheduled_tsk' (did you mean 'scheduled_task'?); allowed: ") and result.err.count("\n") == 1


def test_the_readme_shows_for_each_blueprint_exactly_what_list_prints(request):
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    blocks = {match.group(1): match.group(2) for match in README_BLOCK.finditer(text)}
    assert sorted(blocks) == FOLDER_BLUEPRINTS, "a blueprint without its README block: add one under its README section"
    expected = {name: reference(registered()[name]) for name in FOLDER_BLUEPRINTS}
    if request.config.getoption("--update-golden"):
        readme.write_text(README_BLOCK.sub(lambda m: m.group(0).replace(m.group(2), expected[m.group(1)]), text), encoding="utf-8")
        pytest.skip("README blueprint blocks rewritten from `list BLUEPRINT`; review the diff")
    for name in FOLDER_BLUEPRINTS:
        assert blocks[name] == expected[name], f"README.md's block for {name} differs from `python -m generator list {name}`: " \
                                               "run pytest --update-golden and review"


# --- new -------------------------------------------------------------------------------------------

EXISTING = '# Our jobs. Keep this comment.\n[stacks.base]\nblueprint = "task_foundation"  # and this one\n' \
           '[stacks.base.environments.dev.parameters]\nImageUri = "nginx:1.27"\n' \
           '[stacks.base.environments.prod.parameters]\nImageUri = "nginx:1.27"'  # (no newline at the end)


def fill_in(text: str, stack: str, blueprint) -> str:
    """Replace each placeholder of the stanza with a valid value, as a user would."""
    values = {"description": "A job", **example_table(blueprint.options_type), **PARAMETER_VALUES}
    head, stanza = text.split(f"[stacks.{stack}]", 1)
    filled = re.sub(r'^(\w+) = "<REPLACE: .*>"$', lambda m: f"{m.group(1)} = {toml_value(values[m.group(1)])}", stanza, flags=re.M)
    return f"{head}[stacks.{stack}]{filled}"


@pytest.mark.parametrize("name", FOLDER_BLUEPRINTS)
def test_new_appends_a_stanza_that_renders_once_its_placeholders_are_replaced(name, run_cli, tmp_path):
    manifest = tmp_path / "stacks.toml"
    manifest.write_text(EXISTING)
    result = run_cli("new", "new-job", "--blueprint", name, "--env", "dev", "--env", "prod", cwd=tmp_path)
    assert result.code == 0, result.err
    text = manifest.read_text()
    assert text.startswith(EXISTING + "\n")  # every byte kept, comments included
    blueprint = registered()[name]
    required = [f"options.{doc.name}" for doc in option_docs(blueprint.options_type) if doc.required]
    parameters = [f"environments.{env}.parameters.{parameter}" for env in ("dev", "prod")
                  for parameter, definition in (example_parameters(blueprint) or {}).items() if "Default" not in definition]
    rendered = run_cli("render", cwd=tmp_path)
    assert rendered.code == 2 and rendered.err == (
        "error: stack new-job: replace the placeholders that `python -m generator new` wrote: "
        f"{', '.join(['description', *required, *parameters])}\n")
    manifest.write_text(fill_in(text, "new-job", blueprint))
    rendered = run_cli("render", cwd=tmp_path)
    assert rendered.code == 0, rendered.err
    assert (tmp_path / "templates_out" / "new-job" / "template.yaml").exists()


def test_new_refuses_a_stack_that_exists_a_bad_name_or_environment_and_changes_nothing(run_cli, tmp_path):
    (tmp_path / "stacks.toml").write_text(EXISTING)
    before = snapshot(tmp_path)
    for args, message in [
        (("base", "--blueprint", "scheduled_task"), "error: stack base: is already in stacks.toml; allowed: a new stack name\n"),
        (("Bad_Name", "--blueprint", "scheduled_task"), "error: stack Bad_Name: name: stack name must be lowercase letters, digits and '-'"),
        (("job", "--blueprint", "scheduled_task", "--env", "Prod"), "error: stack job: --env: 'Prod' is not an environment name"),
        (("job", "--blueprint", "schedule"), "error: stack job: blueprint: unknown blueprint 'schedule'"),
    ]:
        result = run_cli("new", *args, cwd=tmp_path)
        assert result.code == 2 and result.err.startswith(message) and result.err.count("\n") == 1, result.err
    assert snapshot(tmp_path) == before


def test_new_creates_the_manifest_when_there_is_none(run_cli, tmp_path):
    assert run_cli("new", "job", "--blueprint", "task_foundation", cwd=tmp_path).code == 0
    text = (tmp_path / "stacks.toml").read_text()
    assert '\n[stacks.job]\nblueprint = "task_foundation"\n' in text and "[stacks.job.environments.dev.parameters]\n" in text
