"""generator.asl_lint: what cfn-lint does not see in a SAM state machine's definition file is found,
with the file's line, and a clean definition gives no finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.checks.asl_lint import asl_findings, definition_files
from generator.checks.engine import lint_paths
from support.manifests import manifest_text, render_text

pytestmark = pytest.mark.lint

OPTIONS = '''container_name = "stock-trader"
command = ["--arg1", "100", "--arg2", "200"]
wait = false
input_overrides = true
environment = { SYMBOL = "AMZN" }'''


@pytest.fixture
def rendered(tmp_path) -> Path:
    """A rendered sfn_task stack written to disk; returns its template path."""
    stack = render_text(tmp_path, manifest_text("trader", "sfn_task", OPTIONS))["trader"]
    for relative, text in stack.files.items():
        (tmp_path / "out" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "out" / relative).write_text(text, encoding="utf-8")
    return tmp_path / "out" / "trader" / "template.yaml"


def asl_path(template: Path) -> Path:
    return template.parent / "statemachine" / "trader.asl.json"


def edit_definition(template: Path, change) -> None:
    path = asl_path(template)
    definition = json.loads(path.read_text())
    change(definition)
    path.write_text(json.dumps(definition, indent=2) + "\n")


def line_of(path: Path, text: str) -> int:
    (line,) = [number for number, content in enumerate(path.read_text().splitlines(), 1) if text in content]
    return line


def test_clean_definition_has_no_finding(rendered):
    assert definition_files(rendered) == [asl_path(rendered)]
    assert asl_findings(rendered) == []


def test_next_typo_is_caught_by_cfn_lints_own_rule_at_its_line(rendered):
    def typo(definition):
        state = definition["States"]["Record failure"]
        state["Nextt"] = state.pop("Next")

    edit_definition(rendered, typo)
    findings = [(f.rule, f.line, f.path) for f in asl_findings(rendered)]
    assert ("E3601", line_of(asl_path(rendered), '"Nextt"'), str(asl_path(rendered))) in findings
    messages = " ".join(f.message for f in asl_findings(rendered))
    assert "'Nextt' was unexpected" in messages and "Only one of ['Next', 'End']" in messages


def break_definition(definition):
    definition["States"]["Record failure"]["Nextt"] = definition["States"]["Record failure"].pop("Next")
    definition["States"]["Run ECS task"]["Parameters"]["LaunchType"] = "FARGATEX"


def test_cfn_lint_alone_does_not_see_the_definition_file(rendered):
    """Why asl_lint exists: cfn-lint, run on the SAM template, passes it whatever the file says."""
    from cfnlint.api import lint_file

    edit_definition(rendered, break_definition)
    assert [match.rule.id for match in lint_file(rendered)] == []
    assert {f.rule for f in asl_findings(rendered)} == {"E3601", "E9603"}


@pytest.mark.slow  # the whole command: every template linted, worker processes each setting up cfn-lint
def test_generator_lint_fails_on_a_broken_definition_file(rendered):
    edit_definition(rendered, break_definition)
    assert {f.rule for f in lint_paths([rendered])} >= {"E3601", "E9603"}


@pytest.mark.slow  # the whole command: every template linted, worker processes each setting up cfn-lint
def test_lint_cache_sees_an_edited_definition_file_and_keeps_its_path(rendered, tmp_path):
    cache = tmp_path / "cache"
    assert lint_paths([rendered], cache_dir=cache) == []
    edit_definition(rendered, lambda d: d["States"]["Run ECS task"]["Parameters"].update(LaunchType="FARGATEX"))
    first = lint_paths([rendered], cache_dir=cache)
    assert [f.rule for f in first] == ["E9603"]
    assert first[0].path == str(asl_path(rendered))
    # the same result again, now from the cache
    assert lint_paths([rendered], cache_dir=cache) == first


def test_launch_type_fargatex_is_caught_against_botocores_run_task_shape(rendered):
    edit_definition(rendered, lambda d: d["States"]["Run ECS task"]["Parameters"].update(LaunchType="FARGATEX"))
    (finding,) = asl_findings(rendered)
    assert finding.rule == "E9603"
    assert finding.line == line_of(asl_path(rendered), '"LaunchType"')
    assert "'FARGATEX' is not allowed (did you mean 'FARGATE'?)" in finding.message
    assert "EC2, FARGATE, EXTERNAL" in finding.message  # the enum comes from botocore's model


@pytest.mark.parametrize("change, expected", [
    (lambda p: p["Overrides"].update(ContainerOverides=[]),
     "Parameters.Overrides: 'ContainerOverides' is not a RunTask TaskOverride member (did you mean 'ContainerOverrides'?)"),
    (lambda p: p["Overrides"]["ContainerOverrides"][0].update(Cpu="1"),
     'Parameters.Overrides.ContainerOverrides[0].Cpu must be a whole number, not "1"'),
    (lambda p: p.update(Count=True), "Parameters.Count must be a whole number, not true"),
    (lambda p: p["NetworkConfiguration"]["AwsvpcConfiguration"].update(AssignPublicIp="YES"),
     "'YES' is not allowed; allowed: ENABLED, DISABLED"),
    (lambda p: p.pop("TaskDefinition"), "the required member 'TaskDefinition' is missing"),
    (lambda p: p.update({"Group.$": ["$.group"]}), "Parameters.Group.$ must be a JsonPath or intrinsic function string"),
    (lambda p: p.update({"Clusterr.$": "$.cluster"}), "'Clusterr' is not a RunTask RunTaskRequest member (did you mean 'Cluster'?)"),
])
def test_run_task_parameters_are_checked_by_name_type_enum_and_required(rendered, change, expected):
    edit_definition(rendered, lambda d: change(d["States"]["Run ECS task"]["Parameters"]))
    # (dropping TaskDefinition also leaves its substitution unused: E9601, tested below)
    (finding,) = [f for f in asl_findings(rendered) if f.rule == "E9603"]
    assert expected in finding.message


def test_jsonpath_parameters_are_not_value_checked(rendered):
    # "Command.$" and the intrinsic "Subnets.$" are evaluated at run time; only their names are checked.
    parameters = json.loads(asl_path(rendered).read_text())["States"]["Run ECS task"]["Parameters"]
    assert "Subnets.$" in parameters["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert "Command.$" in parameters["Overrides"]["ContainerOverrides"][0]
    assert asl_findings(rendered) == []


def test_placeholders_and_substitutions_must_match(rendered):
    edit_definition(rendered, lambda d: d["States"]["Run ECS task"]["Parameters"].update(Cluster="${ClusterArnn}"))
    findings = {(f.rule, f.path, f.message.split(": ", 1)[1]) for f in asl_findings(rendered)}
    assert findings == {
        ("E9601", str(asl_path(rendered)), "placeholder ${ClusterArnn} has no DefinitionSubstitutions entry"),
        ("E9601", str(rendered), "DefinitionSubstitutions entries no placeholder uses: ClusterArn"),
    }


def test_transitions_must_name_states_and_every_state_must_be_reachable(rendered):
    edit_definition(rendered, lambda d: d["States"]["Check task started"].update(Default="Task startd"))
    messages = sorted(f.message for f in asl_findings(rendered) if f.rule == "E9602")
    assert messages == [
        "StateMachine: state 'Check task started' goes to 'Task startd', which is not a state (did you mean 'Task started'?)",
        "StateMachine: state 'Task started' is not reachable from StartAt 'Read execution input'",
    ]


def test_missing_or_broken_definition_file_is_a_finding(rendered):
    asl_path(rendered).write_text("{ not json")
    (finding,) = asl_findings(rendered)
    assert finding.rule == "E9600" and finding.path == str(rendered)
    asl_path(rendered).unlink()
    (finding,) = asl_findings(rendered)
    assert finding.rule == "E9600" and "cannot read" in finding.message


def test_an_inline_sam_definition_is_checked_too(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(json.dumps({
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"Machine": {"Type": "AWS::Serverless::StateMachine", "Properties": {
            "Role": "arn:aws:iam::123456789012:role/x",
            "Definition": {"StartAt": "Run", "States": {"Run": {
                "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {"TaskDefinition": "job", "LaunchType": "FARGATEX"}, "End": True, "Nextt": "Run"}}},
        }}},
    }))
    assert {f.rule for f in asl_findings(template)} == {"E3601", "E9603"}


# --- E9604: the ECS integration named by a Task's Resource ------------------------------------------


def test_an_ecs_resource_that_is_no_ecs_integration_is_caught_at_its_line(rendered):
    edit_definition(rendered, lambda d: d["States"]["Run ECS task"].update(Resource="arn:${Partition}:states:::ecs:runTask.synk"))
    (finding,) = asl_findings(rendered)
    assert (finding.rule, finding.path, finding.line) == ("E9604", str(asl_path(rendered)), line_of(asl_path(rendered), '"Resource"'))
    assert finding.message == (
        "StateMachine: state 'Run ECS task': Resource 'arn:aws:states:::ecs:runTask.synk': ecs:runTask.synk is not a "
        "Step Functions ECS integration (did you mean 'runTask.sync'?); allowed: arn:<partition>:states:::ecs:runTask, "
        "arn:<partition>:states:::ecs:runTask.sync, arn:<partition>:states:::ecs:runTask.waitForTaskToken")


@pytest.mark.parametrize("resource, rules", [
    ("stopTask", {"E9604"}),
    ("runTask.sync:2", {"E9604"}),
    ("runTask.sync", set()),
    ("runTask.waitForTaskToken", set()),
])
def test_only_the_three_run_task_integrations_are_ecs_resources(rendered, resource, rules):
    edit_definition(rendered, lambda d: d["States"]["Run ECS task"].update(Resource="arn:${Partition}:states:::ecs:" + resource))
    assert {f.rule for f in asl_findings(rendered)} == rules


# --- E9605: retriers -------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value, message", [
    ("BackoffRate", 0.5, "Retry[0].BackoffRate is 0.5; allowed: 1.0 or more (the interval may not shrink)"),
    ("BackoffRate", "2", 'Retry[0].BackoffRate must be a number, not "2"; allowed: 1.0 or more'),
    ("IntervalSeconds", 0, "Retry[0].IntervalSeconds is 0; allowed: 1 to 99999999"),
    ("IntervalSeconds", 1.5, "Retry[0].IntervalSeconds must be a whole number, not 1.5; allowed: 1 to 99999999"),
    ("MaxAttempts", 2.5, "Retry[0].MaxAttempts must be a whole number, not 2.5; allowed: 0 to 99999999"),
    ("MaxAttempts", 100_000_000, "Retry[0].MaxAttempts is 100000000; allowed: 0 to 99999999"),
    ("MaxDelaySeconds", 0, "Retry[0].MaxDelaySeconds is 0; allowed: 1 to 31622400"),
    ("JitterStrategy", "FUL", "Retry[0].JitterStrategy is \"FUL\" (did you mean 'FULL'?); allowed: FULL, NONE"),
])
def test_retrier_fields_are_range_checked_at_their_line(rendered, field, value, message):
    """cfn-lint's E3601 schema lets all of these pass (BackoffRate minimum 0, any number of seconds,
    no MaxDelaySeconds or JitterStrategy)."""
    edit_definition(rendered, lambda d: d["States"]["Run ECS task"]["Retry"][0].update({field: value}))
    (finding,) = asl_findings(rendered)
    assert (finding.rule, finding.path, finding.line) == ("E9605", str(asl_path(rendered)), line_of(asl_path(rendered), f'"{field}"'))
    assert finding.message == f"StateMachine: state 'Run ECS task': {message}"


def test_a_negative_retry_count_is_caught_by_cfn_lint_and_e9605(rendered):
    edit_definition(rendered, lambda d: d["States"]["Run ECS task"]["Retry"][0].update(MaxAttempts=-1))
    line = line_of(asl_path(rendered), '"MaxAttempts"')
    assert [(f.rule, f.line) for f in asl_findings(rendered)] == [("E3601", line), ("E9605", line)]


@pytest.mark.parametrize("change", [
    {"BackoffRate": 1.0}, {"BackoffRate": 1.5}, {"BackoffRate": 1}, {"IntervalSeconds": 1}, {"MaxAttempts": 0},
    {"MaxDelaySeconds": 60}, {"JitterStrategy": "NONE"},
])
def test_retrier_values_the_language_allows_pass(rendered, change):
    edit_definition(rendered, lambda d: d["States"]["Run ECS task"]["Retry"][0].update(change))
    assert asl_findings(rendered) == []


def test_resources_and_retriers_inside_parallel_branches_are_checked(tmp_path):
    template = tmp_path / "template.yaml"
    task = {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.synk", "Parameters": {"TaskDefinition": "job"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5}], "End": True}
    template.write_text(json.dumps({
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"Machine": {"Type": "AWS::Serverless::StateMachine", "Properties": {
            "Role": "arn:aws:iam::123456789012:role/x",
            "Definition": {"StartAt": "Both", "States": {"Both": {
                "Type": "Parallel", "Branches": [{"StartAt": "Run", "States": {"Run": task}}], "End": True}}},
        }}},
    }))
    assert sorted((f.rule, f.message.split(": ", 2)[1]) for f in asl_findings(template)) == [
        ("E9604", "state 'Run'"), ("E9605", "state 'Run'")]


# --- the command line ------------------------------------------------------------------------------


NEXTT, LAUNCH_TYPE = '"Nextt"', '"LaunchType"'


@pytest.mark.slow  # the whole command: every template linted, worker processes each setting up cfn-lint
def test_generator_lint_command_exits_1_naming_the_definition_files_lines_and_rules(project, run_cli):
    """`python -m generator lint` on a render of the example manifest whose .asl.json was broken
    by hand (a "Nextt" typo, LaunchType FARGATEX): exit 1, each finding at the file's line."""
    paths = ["--manifest", str(project / "stacks.toml"), "--out", str(project / "templates_out"),
             "--samconfig", str(project / "samconfig.toml")]
    assert run_cli("render", *paths, cwd=project).code == 0
    template = project / "templates_out" / "stock-trader-task" / "template.yaml"
    definition = template.parent / "statemachine" / "stock-trader-task.asl.json"
    assert definition_files(template) == [definition]
    assert run_cli("lint", "stock-trader-task", *paths, cwd=project).code == 0

    document = json.loads(definition.read_text())
    break_definition(document)
    definition.write_text(json.dumps(document, indent=2) + "\n")
    result = run_cli("lint", "stock-trader-task", *paths, cwd=project)
    assert result.code == 1
    lines = result.out.splitlines()
    nextt = f"{definition}:{line_of(definition, NEXTT)}:"
    launch_type = f"{definition}:{line_of(definition, LAUNCH_TYPE)}:"
    assert any(line.startswith(nextt) and " E3601 " in line and "'Nextt' was unexpected" in line for line in lines), result.out
    assert any(line.startswith(launch_type) and " E9603 " in line and "'FARGATEX' is not allowed" in line for line in lines), result.out
    assert "lint:" in result.err and "finding(s)" in result.err
