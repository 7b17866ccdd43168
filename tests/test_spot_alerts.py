"""The task-stopped alert and Fargate Spot interruptions: with nothing to re-run an interrupted task
(EventBridge rules and schedules, sfn_task without wait) every interruption alerts, whatever the exit
code; when the state machine re-runs it (sfn_task with wait) the interruption is left out, and the
execution's own outcome alerts. Evaluated with moto's pattern engine on sample events."""

from __future__ import annotations

import json

import pytest

from conftest import REFERENCE_EVENTS, REPO
from test_alerts import CLUSTER, PARAMETERS, matches, resolve
from helpers import manifest_text, render_text
from moto.events.models import EventPattern

EVENTS = REPO / "tests" / "events"
INTERRUPTED = ["ecs-task-state-change-spot-interrupted-exit0.json", "ecs-task-state-change-spot-interrupted-exit143.json"]
FAILED = ["ecs-task-state-change-stopped-exit1.json", "ecs-task-state-change-failed-to-start.json"]


def raw_pattern(tmp_path, blueprint: str, options: str) -> dict:
    template = render_text(tmp_path, manifest_text("report-job", blueprint, f'container_name = "app"\n{options}', PARAMETERS))["report-job"].template
    return resolve(template["Resources"]["TaskFailedAlertRule"]["Properties"]["EventPattern"], {"ClusterArn": CLUSTER, "TaskFamily": "report"})


def alert_pattern(tmp_path, blueprint: str, options: str) -> EventPattern:
    return EventPattern.load(json.dumps(raw_pattern(tmp_path, blueprint, options)))


def sample(name: str) -> dict:
    folder = REFERENCE_EVENTS if (REFERENCE_EVENTS / name).exists() else EVENTS
    return json.loads((folder / name).read_text())


@pytest.mark.parametrize("blueprint, options", [
    ("scheduled_task", 'schedule = "rate(1 hour)"\nspot = true'),
    ("scheduled_task", 'schedule = "rate(1 hour)"\ntimezone = "Asia/Tokyo"\ncapacity_provider_strategy = [{ provider = "FARGATE_SPOT" }, { provider = "FARGATE", base = 1 }]'),
    ("s3_object_task", "spot = true"),
    ("sfn_task", "spot = true\nwait = false"),
])
def test_when_nothing_re_runs_the_task_every_interruption_alerts(tmp_path, blueprint, options):
    pattern = alert_pattern(tmp_path, blueprint, options)
    for name in INTERRUPTED + FAILED:
        assert matches(pattern, sample(name)), name
    assert not matches(pattern, sample("ecs-task-state-change-stopped-exit0.json"))


def test_when_the_state_machine_re_runs_the_task_an_interruption_does_not_alert(tmp_path):
    pattern = alert_pattern(tmp_path, "sfn_task", "spot = true")
    for name in INTERRUPTED:
        assert not matches(pattern, sample(name)), name
    for name in FAILED:  # a real failure of the task still alerts
        assert matches(pattern, sample(name)), name


def test_without_spot_the_alert_rule_is_unchanged(tmp_path):
    on_demand = raw_pattern(tmp_path, "scheduled_task", 'schedule = "rate(1 hour)"\ncapacity_provider_strategy = [{ provider = "FARGATE" }]')
    assert on_demand == raw_pattern(tmp_path, "scheduled_task", 'schedule = "rate(1 hour)"')
    assert "stopCode" not in on_demand["detail"] and {"stopCode": ["SpotInterruption"]} not in on_demand["detail"]["$or"]
