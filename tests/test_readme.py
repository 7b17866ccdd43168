"""The per-stack README says what the template says: flow, run times, parameters, IAM, deploy."""

from __future__ import annotations

import datetime as dt

import jinja2
import pytest

from generator.review import describe
from generator.review import stack_readme as readme_module
from support.manifests import manifest_text, render_text


def readme(tmp_path, options: str) -> str:
    return render_text(tmp_path, manifest_text("job", "scheduled_task", options))["job"].files["job/README.md"]


def test_readme_for_a_time_zone_schedule(tmp_path):
    text = readme(tmp_path, 'schedule = "cron(0 2 * * ? *)"\ntimezone = "Asia/Tokyo"\ncontainer_name = "app"')
    assert "# job\n" in text
    assert "```mermaid\nflowchart LR\n" in text
    assert "  Schedule -->|runs| EcsTask\n" in text and "  Schedule -->|failed delivery| DeadLetterQueue\n" in text
    # 02:00 in Tokyo is 17:00 UTC the day before
    assert "| 2026-01-01 17:00 Thu | 2026-01-02 02:00 Fri |\n" in text
    assert "| `ClusterArn` | `String` | ARN of the ECS cluster the task runs in | arn:aws:ecs:us-east-1:123456789012:cluster/batch |\n" in text
    assert "Role `RunTaskRole`, assumed by scheduler.amazonaws.com" in text
    assert "- may `iam:PassRole` on `${ExecutionRoleArn}`, `${TaskRoleArn} (if HasTaskRole)` only when `iam:PassedToService` is `ecs-tasks.amazonaws.com`\n" in text
    assert "python -m generator deploy job --env dev\n" in text


def test_readme_for_a_utc_rule(tmp_path):
    text = readme(tmp_path, 'schedule = "cron(30 23 ? * MON-FRI *)"\ncontainer_name = "app"')
    assert "`ScheduleRule`: `cron(30 23 ? * MON-FRI *)` in UTC." in text
    # 2026-01-01 is a Thursday: Thu, Fri, then Mon-Wed
    assert "| UTC |\n| --- |\n| 2026-01-01 23:30 Thu |\n| 2026-01-02 23:30 Fri |\n| 2026-01-05 23:30 Mon |\n" in text
    assert "| UTC | UTC |" not in text


@pytest.fixture
def fresh_readme_template():
    readme_module._template.cache_clear()
    yield
    readme_module._template.cache_clear()


def test_the_compiled_readme_template_comes_from_the_user_cache(tmp_path, monkeypatch, fresh_readme_template):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    options = 'schedule = "rate(1 hour)"\ncontainer_name = "app"'
    first = readme(tmp_path, options)
    assert len(list((tmp_path / "xdg" / "ecs-batch-templates").glob("jinja2-*/__jinja2_*.cache"))) == 1

    def compile_(*args, **kwargs):
        raise AssertionError("the template was compiled again instead of loaded from the cache")

    readme_module._template.cache_clear()
    with monkeypatch.context() as patch:
        patch.setattr(jinja2.Environment, "compile", compile_)
        assert readme(tmp_path, options) == first


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch, fresh_readme_template):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    assert "# job\n" in readme(tmp_path, 'schedule = "rate(1 hour)"\ncontainer_name = "app"')


def test_run_times_across_a_daylight_saving_change():
    # 02:30 in Paris every day; on 2026-03-29 clocks go from 02:00 to 03:00 CET→CEST
    runs = describe.run_times("cron(0 9 * * ? *)", "Europe/Paris", count=2, after=dt.datetime(2026, 3, 28, 0, 0, tzinfo=dt.timezone.utc))
    assert [utc.strftime("%m-%d %H:%M") for utc, _ in runs] == ["03-28 08:00", "03-29 07:00"]


def test_a_run_in_the_hour_clocks_skip_does_not_happen():
    # Scheduler skips a wall-clock time that does not exist: 02:30 on 2026-03-29 in Paris
    runs = describe.run_times("cron(30 2 * * ? *)", "Europe/Paris", count=3, after=dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.timezone.utc))
    assert [local.strftime("%m-%d %H:%M%z") for _, local in runs] == ["03-28 02:30+0100", "03-30 02:30+0200", "03-31 02:30+0200"]
    # every minute of the skipped hour: the next run is the next day's 02:00
    runs = describe.run_times("cron(* 2 * * ? *)", "Europe/Paris", count=2, after=dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.timezone.utc))
    assert [local.strftime("%m-%d %H:%M") for _, local in runs] == ["03-30 02:00", "03-30 02:01"]


def test_a_repeated_hour_runs_once():
    # 2026-10-25 in Paris: 02:30 happens twice (CEST, then CET); Scheduler runs once
    runs = describe.run_times("cron(30 2 * * ? *)", "Europe/Paris", count=3, after=dt.datetime(2026, 10, 24, 12, 0, tzinfo=dt.timezone.utc))
    assert [utc.strftime("%m-%d %H:%M") for utc, _ in runs] == ["10-25 00:30", "10-26 01:30", "10-27 01:30"]


def test_diagram_labels_show_angle_brackets_and_quotes_as_text(tmp_path):
    text = render_text(tmp_path, manifest_text("job", "s3_object_task", 'container_name = "app"\nkey_prefix = "in/"\nimport_from = "base"',
                                               parameters=""))["job"].files["job/README.md"]
    diagram = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert "#60;export ${FoundationStack}-TaskFamily#62;" in diagram
    assert "<export" not in diagram and "<br/>" in diagram
    assert "Object Created<br/>key prefix in/\"]" in diagram
    assert "  EcsTask -->|stopped| TaskFailedAlertRule\n" in diagram and "Source" not in diagram


def test_rate_run_times_count_from_the_anchor():
    runs = describe.run_times("rate(6 hours)", "UTC", count=3)
    assert [utc.strftime("%d %H:%M") for utc, _ in runs] == ["01 06:00", "01 12:00", "01 18:00"]


def test_a_template_without_parameters_says_so_instead_of_an_empty_table(tmp_path):
    options = 'trigger = "push"\nalerts = "off"\n[stacks.job.options.services]\ntestrepo = [{ cluster = "main", service = "api" }]'
    stack = render_text(tmp_path, manifest_text("job", "ecr_redeploy", options, parameters=""))["job"]
    assert "Parameters" not in stack.template
    text = stack.files["job/README.md"]
    assert "\n## Parameters\n\nThis template has no parameters.\n\n## Permissions\n" in text
    assert "| name | type | description |" not in text
    # a template with parameters keeps its table
    with_parameters = readme(tmp_path, 'schedule = "rate(1 hour)"\ncontainer_name = "app"')
    assert "| name | type | description | dev |\n| --- | --- | --- | --- |\n| `ClusterArn` |" in with_parameters
    assert "has no parameters" not in with_parameters


def test_the_readme_lists_what_the_stack_alerts_on_from_the_template(tmp_path):
    text = readme(tmp_path, 'schedule = "rate(1 hour)"\ncontainer_name = "app"')
    section = text.split("## Alerts\n\n", 1)[1].split("\n\n## ", 1)[0]
    lines = section.splitlines()
    assert lines[0] == "- rule `TaskFailedAlertRule` → `AlertTopic`: the job's ECS task failed or did not start"
    assert "- alarm `FailedInvocationsAlarm` → `AlertTopic`: EventBridge could not start the task" in lines
    assert "- alarm `TaskFailedAlertRuleFailedInvocationsAlarm` → `AlertTopic`: EventBridge could not deliver an alert of TaskFailedAlertRule" in lines
    # one line per alert rule and per alarm of the rendered template, nothing else
    stack = render_text(tmp_path, manifest_text("job", "scheduled_task", 'schedule = "rate(1 hour)"\ncontainer_name = "app"'))["job"]
    alarms = [n for n, r in stack.template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(lines) == len(alarms) + 1
    off = readme(tmp_path, 'schedule = "rate(1 hour)"\ncontainer_name = "app"\nalerts = "off"')
    assert "## Alerts\n\nThis stack sends no alerts.\n" in off


def test_an_application_event_and_the_failure_alert_are_two_sources_in_the_flow():
    target = {"Id": "RunTask", "Arn": {"Ref": "ClusterArn"},
              "EcsParameters": {"TaskDefinitionArn": {"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${TaskFamily}"}}}
    template = {"Resources": {
        "EventRule": {"Type": "AWS::Events::Rule", "Properties": {
            "EventPattern": {"source": ["acme.orders"], "detail-type": ["OrderPlaced"]}, "Targets": [target]}},
        "TaskFailedAlertRule": {"Type": "AWS::Events::Rule", "Properties": {
            "EventPattern": {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]},
            "Targets": [{"Id": "Alert", "Arn": {"Ref": "AlertTopic"}}]}},
        "AlertTopic": {"Type": "AWS::SNS::Topic", "Properties": {}},
    }}
    nodes, edges = describe.flow(template)
    assert nodes["SourceAcmeOrders"] == "acme.orders" and "SourceAwsEcs" not in nodes
    assert ("SourceAcmeOrders", "EventRule", "event") in edges and ("EcsTask", "TaskFailedAlertRule", "stopped") in edges
    assert ("EcsTask", "EventRule", "stopped") not in edges
