"""The task-stopped alert and Fargate Spot interruptions: with nothing to re-run an interrupted task
(EventBridge rules and schedules, sfn_task without wait) every interruption alerts, whatever the exit
code; when the state machine re-runs it (sfn_task with wait) only the execution's outcome alerts.
Evaluated with moto's pattern engine on sample events."""

from __future__ import annotations

import pytest

from generator.review.event_simulator import pattern_matches
from generator.review.event_simulator import Resolver
from support.events import CLUSTER, PARAMETERS, event
from support.manifests import manifest_text, render_text
INTERRUPTED = ["ecs-task-state-change-spot-interrupted-exit0.json", "ecs-task-state-change-spot-interrupted-exit143.json"]
FAILED = ["ecs-task-state-change-stopped-exit1.json", "ecs-task-state-change-failed-to-start.json"]


def alert_pattern(tmp_path, blueprint: str, options: str) -> dict:
    template = render_text(tmp_path, manifest_text("report-job", blueprint, f'container_name = "app"\n{options}', PARAMETERS))["report-job"].template
    return Resolver(template, {"ClusterArn": CLUSTER, "TaskFamily": "report"}, pseudo={}).resolve(template["Resources"]["TaskFailedAlertRule"]["Properties"]["EventPattern"])


@pytest.mark.parametrize("blueprint, options", [
    ("scheduled_task", 'schedule = "rate(1 hour)"\nspot = true'),
    ("scheduled_task", 'schedule = "rate(1 hour)"\ntimezone = "Asia/Tokyo"\ncapacity_provider_strategy = [{ provider = "FARGATE_SPOT" }, { provider = "FARGATE", base = 1 }]'),
    ("s3_object_task", "spot = true"),
    ("sfn_task", "spot = true\nwait = false"),
])
def test_when_nothing_re_runs_the_task_every_interruption_alerts(tmp_path, blueprint, options):
    pattern = alert_pattern(tmp_path, blueprint, options)
    for name in INTERRUPTED + FAILED:
        assert pattern_matches(pattern, event(name)), name
    assert not pattern_matches(pattern, event("ecs-task-state-change-stopped-exit0.json"))
    assert not pattern_matches(pattern, event("ecs-task-state-change-sidecar-first-job-succeeded.json"))


def test_when_the_state_machine_re_runs_the_task_only_the_execution_outcome_alerts(tmp_path):
    """With wait the definition re-runs an interrupted task (test_sfn_concurrency_spot.py): there is
    no task alert at all, only the execution's outcome, so an interruption followed by a re-run never
    pages, and an execution that uses up its re-runs (FAILED) does."""
    template = render_text(tmp_path, manifest_text("report-job", "sfn_task", 'container_name = "app"\nspot = true', PARAMETERS))["report-job"].template
    assert "TaskFailedAlertRule" not in template["Resources"]
    pattern = template["Resources"]["ExecutionFailedAlertRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]


def test_without_spot_the_alert_rule_is_unchanged(tmp_path):
    on_demand = alert_pattern(tmp_path, "scheduled_task", 'schedule = "rate(1 hour)"\ncapacity_provider_strategy = [{ provider = "FARGATE" }]')
    assert on_demand == alert_pattern(tmp_path, "scheduled_task", 'schedule = "rate(1 hour)"')
    assert "stopCode" not in on_demand["detail"] and {"stopCode": ["SpotInterruption"]} not in on_demand["detail"]["$or"]


def test_an_interrupted_task_that_exited_0_is_no_success_for_the_missed_run_alarm(tmp_path):
    template = render_text(tmp_path, manifest_text("report-job", "scheduled_task", 'container_name = "app"\nschedule = "rate(1 hour)"\n'
                                                   "spot = true\nmissed_run_alarm = true", PARAMETERS))["report-job"].template
    successes = Resolver(template, {"ClusterArn": CLUSTER, "TaskFamily": "report"}, pseudo={}).resolve(template["Resources"]["SuccessfulRunRule"]["Properties"]["EventPattern"])
    assert pattern_matches(successes, event("ecs-task-state-change-stopped-exit0.json"))
    assert not pattern_matches(successes, event("ecs-task-state-change-spot-interrupted-exit0.json"))
