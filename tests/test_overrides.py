"""Hand overrides ([stacks.X.overrides]): paths into the rendered template that set, add, append or
delete, applied after the blueprint builds and before anything reads the template; shown in the
stack README, the template's Metadata and `diff`; linted like everything else."""

from __future__ import annotations

import re

import pytest

from generator.checks.engine import lint_text
from generator.core.errors import UserError
from generator.core.overrides import apply_overrides, parse_overrides
from support.manifests import manifest_text, render_text

RULE_JOB = 'schedule = "rate(1 hour)"\ncontainer_name = "app"'


def render(tmp_path, overrides: str, options: str = RULE_JOB):
    text = manifest_text("job", "scheduled_task", options) + f"[stacks.job.overrides]\n{overrides}\n"
    return render_text(tmp_path, text)["job"]


def test_set_add_and_delete_change_exactly_the_named_properties(tmp_path):
    plain = render_text(tmp_path, manifest_text("job", "scheduled_task", RULE_JOB))["job"].template
    stack = render(tmp_path, '"Resources/ScheduleRule/Properties/State" = "DISABLED"\n'
                             '"Resources/ScheduleRule/Properties/Targets/0/EcsParameters/Group" = "nightly"\n'
                             '"Resources/ScheduleRule/Properties/Description" = { delete = true }\n')
    rule, before = stack.template["Resources"]["ScheduleRule"]["Properties"], plain["Resources"]["ScheduleRule"]["Properties"]
    assert rule["State"] == "DISABLED"                                     # replaced
    assert rule["Targets"][0]["EcsParameters"]["Group"] == "nightly"       # added
    assert "Description" not in rule                                       # deleted
    rule = dict(rule, State="ENABLED", Description=before["Description"])
    rule["Targets"] = [dict(rule["Targets"][0], EcsParameters={k: v for k, v in rule["Targets"][0]["EcsParameters"].items() if k != "Group"})]
    assert rule == before  # nothing else moved
    without_metadata = {k: v for k, v in stack.template.items() if k not in ("Metadata", "Resources")}
    assert without_metadata == {k: v for k, v in plain.items() if k not in ("Metadata", "Resources")}


def test_overrides_are_recorded_in_metadata_and_listed_in_the_readme(tmp_path):
    stack = render(tmp_path, '"Resources/ScheduleRule/Properties/State" = "DISABLED"\n'
                             '"Resources/ScheduleRule/Properties/Description" = { delete = true }\n')
    assert stack.template["Metadata"]["Generator"]["HandOverrides"] == [
        {"Path": "Resources/ScheduleRule/Properties/State", "Value": "DISABLED"},
        {"Path": "Resources/ScheduleRule/Properties/Description", "Delete": True},
    ]
    readme = stack.files["job/README.md"]
    section = readme.split("## Hand overrides", 1)[1].split("\n## ", 1)[0]
    assert "- `Resources/ScheduleRule/Properties/State` = `\"DISABLED\"`" in section
    assert "- `Resources/ScheduleRule/Properties/Description` deleted" in section


def test_without_overrides_no_section_and_no_metadata(tmp_path):
    stack = render_text(tmp_path, manifest_text("job", "scheduled_task", RULE_JOB))["job"]
    assert "Hand overrides" not in stack.files["job/README.md"]
    assert "HandOverrides" not in stack.template["Metadata"]["Generator"]


def test_overrides_apply_in_order_and_append_to_lists_and_escape_slashes():
    template = {"Resources": {"R": {"Type": "T", "Properties": {"List": [1], "a/b": {"x": 1}}}}}
    overrides = parse_overrides({
        "Resources/R/Properties/List/-": 2,
        "Resources/R/Properties/List/0": 0,
        "Resources/R/Properties/a~1b/x": 5,
        "Resources/R/Properties/New": {"Nested": ["v"]},
    })
    result = apply_overrides(template, overrides)
    assert result["Resources"]["R"]["Properties"] == {"List": [0, 2], "a/b": {"x": 5}, "New": {"Nested": ["v"]}}
    assert template["Resources"]["R"]["Properties"]["List"] == [1]  # the input is not changed
    deleted = apply_overrides(result, parse_overrides({"Resources/R/Properties/List/0": {"delete": True}}))
    assert deleted["Resources"]["R"]["Properties"]["List"] == [2]


def test_a_path_through_a_value_is_an_error():
    with pytest.raises(UserError, match="Resources/R/Type is a value"):
        apply_overrides({"Resources": {"R": {"Type": "T"}}}, parse_overrides({"Resources/R/Type/X": 1}))


@pytest.mark.parametrize("path, value, expected", [
    ("Resources/R/Properties/List/\u00b2", 1, "is a list of 1 item(s), so '\u00b2' is not one of its indexes"),  # isdigit(), not int()
    ("Resources/R/Properties/New", float("nan"), "nan is not a number a template can hold"),
    ("Resources/R/Properties/New", {"Deep": [float("-inf")]}, "-inf is not a number a template can hold"),
])
def test_values_and_indexes_a_template_cannot_take_are_user_errors(path, value, expected):
    with pytest.raises(UserError, match=re.escape(expected)):
        apply_overrides({"Resources": {"R": {"Type": "T", "Properties": {"List": [1]}}}}, parse_overrides({path: value}))


def test_overrides_reach_the_samconfig_checks_and_the_capabilities(tmp_path):
    # the override is applied before samconfig's parameter checks read the template: a new default
    # makes the parameter optional
    text = (manifest_text("job", "scheduled_task", RULE_JOB).replace('ExecutionRoleArn = "arn:aws:iam::123456789012:role/exec"\n', "")
            + '[stacks.job.overrides]\n"Parameters/ExecutionRoleArn/Default" = "arn:aws:iam::123456789012:role/exec"\n')
    stack = render_text(tmp_path, text)["job"]
    assert stack.template["Parameters"]["ExecutionRoleArn"]["Default"] == "arn:aws:iam::123456789012:role/exec"


def test_an_override_is_linted_like_everything_else(tmp_path):
    stack = render(tmp_path, '"Resources/ScheduleRule/Properties/State" = "PAUSED"\n')
    findings = lint_text(stack.files["job/template.yaml"], "template.yaml")
    assert any("PAUSED" in finding.message for finding in findings), findings


def test_an_override_cannot_widen_a_policy_past_the_policy_rules(tmp_path):
    """The project's E9xxx rules read the overridden template: a hand override that opens a role
    to Resource "*" (or an action wildcard) fails lint, like a blueprint that did it."""
    statements = "Resources/RunTaskRole/Properties/Policies/0/PolicyDocument/Statement"
    stack = render(tmp_path, f'"{statements}/0/Resource" = "*"\n'
                             f'"{statements}/-" = {{ Effect = "Allow", Action = "s3:*", Resource = "arn:aws:s3:::reports/*" }}\n')
    policy = stack.template["Resources"]["RunTaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert policy["Statement"][0]["Resource"] == "*" and policy["Statement"][-1]["Action"] == "s3:*"  # the override is in
    findings = lint_text(stack.files["job/template.yaml"], "template.yaml")
    assert sorted((f.rule, f.message.split(";")[0]) for f in findings) == [
        ("E9001", "RunTaskRole: Allow statement grants Action 's3:*'"),
        ("E9003", 'RunTaskRole: Resource "*" for ecs:RunTask'),
    ]


def test_an_override_giving_a_spot_target_a_launch_type_fails_lint(tmp_path):
    stack = render(tmp_path, '"Resources/ScheduleRule/Properties/Targets/0/EcsParameters/LaunchType" = "FARGATE"\n',
                   options=RULE_JOB + "\nspot = true")
    ecs = stack.template["Resources"]["ScheduleRule"]["Properties"]["Targets"][0]["EcsParameters"]
    assert ecs["LaunchType"] == "FARGATE" and ecs["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    findings = lint_text(stack.files["job/template.yaml"], "template.yaml")
    assert [(f.rule, f.message) for f in findings] == [
        ("E9011", "ScheduleRule: the ECS target sets both LaunchType and CapacityProviderStrategy; RunTask takes one or the other, "
                  "so drop LaunchType")]


def test_diff_lists_the_hand_overrides(tmp_path, run_cli):
    (tmp_path / "stacks.toml").write_text(manifest_text("job", "scheduled_task", RULE_JOB)
                                          + '[stacks.job.overrides]\n"Resources/ScheduleRule/Properties/State" = "DISABLED"\n')
    result = run_cli("diff", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "job: 1 hand override(s): Resources/ScheduleRule/Properties/State = \"DISABLED\"" in result.out
    # ...and the unified diff shows the template change and the README section it brings
    added = [line for line in result.out.splitlines() if line.startswith("+")]
    assert any("HandOverrides" in line for line in added) and "+## Hand overrides" in added
