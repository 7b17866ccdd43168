"""event_task: what its template means (the rule, the task it runs, exactly which IAM), its golden
files, and that it lints clean, with ecs-batch-templates' rules and the team's own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.checks.engine import lint_paths, lint_text
from generator.core.errors import UserError
from generator.core.manifest import load_manifest
from generator.core.render import plan
from generator.review.event_simulator import pattern_matches

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
LINT_RULES = HERE.parent / "lint_rules"
MANIFEST = HERE / "stacks.toml"


def render(manifest: Path = MANIFEST):
    return plan(load_manifest(manifest), only=None, manifest_path=manifest, out_dir=GOLDEN, samconfig_path=GOLDEN / "samconfig.toml")


@pytest.fixture(scope="module")
def template() -> dict:
    (stack,) = render().stacks
    return stack.template


def order_event(detail_type: str = "OrderPlaced", source: str = "acme.orders") -> dict:
    return {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detail_type, "source": source,
            "account": "123456789012", "time": "2024-06-01T10:00:00Z", "region": "eu-west-1", "resources": [],
            "detail": {"orderId": "o-1"}}


def test_the_rule_hears_exactly_the_application_events(template):
    pattern = template["Resources"]["EventRule"]["Properties"]["EventPattern"]
    assert pattern == {"source": ["acme.orders"], "detail-type": ["OrderPlaced", "OrderResubmitted"]}
    assert pattern_matches(pattern, order_event()) and pattern_matches(pattern, order_event("OrderResubmitted"))
    assert not pattern_matches(pattern, order_event("OrderCancelled"))
    assert not pattern_matches(pattern, order_event(source="acme.payments"))


def test_the_target_runs_the_latest_revision_with_retries_and_a_dead_letter_queue(template):
    (target,) = template["Resources"]["EventRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "ClusterArn"}
    assert target["EcsParameters"]["TaskDefinitionArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${TaskFamily}"}
    assert target["Input"] == '{"containerOverrides":[{"name":"fulfil","command":["python","fulfil.py"]}]}'
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}


def test_the_role_may_run_only_this_family_in_this_cluster_and_pass_only_its_roles(template):
    (policy,) = template["Resources"]["RunTaskRole"]["Properties"]["Policies"]
    family = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${TaskFamily}"
    assert policy["PolicyDocument"]["Statement"] == [
        {"Sid": "RunTaskFamilyInCluster", "Effect": "Allow", "Action": ["ecs:RunTask"],
         "Resource": [{"Fn::Sub": family}, {"Fn::Sub": family + ":*"}],
         "Condition": {"ArnEquals": {"ecs:cluster": {"Ref": "ClusterArn"}}}},
        {"Sid": "PassTaskRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": [{"Ref": "ExecutionRoleArn"}, {"Fn::If": ["HasTaskRole", {"Ref": "TaskRoleArn"}, {"Ref": "AWS::NoValue"}]}],
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
    ]


def test_failures_alert(template):
    assert {"TaskFailedAlertRule", "DeadLetterQueueAlarm", "FailedInvocationsAlarm", "AlertTopic"} <= set(template["Resources"])


@pytest.mark.parametrize("change, field", [
    (('source = "acme.orders"', 'source = " "'), "source"),
    (('detail_types = ["OrderPlaced", "OrderResubmitted"]', "detail_types = []"), "detail_types"),
])
def test_bad_options_are_one_error_naming_the_option(tmp_path, change, field):
    (tmp_path / "stacks.toml").write_text(MANIFEST.read_text().replace(*change))
    with pytest.raises(UserError) as raised:
        load_manifest(tmp_path / "stacks.toml")
    assert (raised.value.stack, raised.value.field) == ("order-fulfilment", f"options.{field}")


def test_golden_files_match_the_render(request):
    rendered = render().files
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for path, text in rendered.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        pytest.skip("golden files rewritten; review the diff before committing")
    assert {p for p in GOLDEN.rglob("*") if p.is_file()} == set(rendered)
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, f"{path} differs from the render: run pytest --update-golden and review"


@pytest.mark.lint
def test_it_lints_clean_with_the_project_rules_and_the_team_rule():
    assert lint_paths(sorted(GOLDEN.glob("*/template.yaml")), append_rules=[LINT_RULES], jobs=1) == []


@pytest.mark.lint
def test_the_team_rule_flags_a_queue_that_forgets_messages_sooner():
    template = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n      MessageRetentionPeriod: 345600\n"
    (finding,) = lint_text(template, append_rules=[LINT_RULES])
    assert (finding.rule, finding.line) == ("E9901", 4)  # the queue's Properties
    assert lint_text(template.replace("345600", "1209600"), append_rules=[LINT_RULES]) == []
