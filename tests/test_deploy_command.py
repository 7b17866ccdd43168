"""`deploy`, `diff` and `next-runs`: the commands around render."""

from __future__ import annotations

import json
import os
import stat
import tomllib

import pytest

from support.paths import snapshot

FAKE_SAM = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_SAM_RECORD"], "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "endpoint": os.environ.get("AWS_ENDPOINT_URL")}, f)
sys.exit(int(os.environ.get("FAKE_SAM_EXIT", "0")))
"""


@pytest.fixture
def rendered(project, run_cli):
    assert run_cli("render", cwd=project).code == 0
    return project


@pytest.fixture
def fake_sam(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("bin")
    sam = folder / "sam"
    sam.write_text(FAKE_SAM)
    sam.chmod(sam.stat().st_mode | stat.S_IEXEC)
    record = folder / "record.json"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SAM_RECORD", str(record))
    return record


def test_dry_run_prints_the_exact_sam_command(rendered, run_cli):
    result = run_cli("deploy", "nightly-report", "--env", "prod", "--dry-run", cwd=rendered)
    assert result.code == 0
    assert result.out == f"cd {rendered.resolve()} && sam deploy --config-file {rendered.resolve()}/samconfig.toml --config-env nightly-report-prod\n"


def test_deploy_runs_sam_with_absolute_config_and_passthrough_args(rendered, run_cli, fake_sam, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("deploy", "artisan-logger", "--env", "dev", "--manifest", str(rendered / "stacks.toml"),
                     "--out", str(rendered / "templates_out"), "--samconfig", str(rendered / "samconfig.toml"),
                     "--endpoint-url", "http://127.0.0.1:4566", "--", "--no-confirm-changeset", cwd=elsewhere)
    assert result.code == 0, result.err
    record = json.loads(fake_sam.read_text())
    assert record["argv"] == ["deploy", "--config-file", str((rendered / "samconfig.toml").resolve()),
                              "--config-env", "artisan-logger-dev", "--no-confirm-changeset"]
    # sam runs beside samconfig.toml, where template_file paths are relative to
    assert record["cwd"] == str(rendered.resolve())
    assert record["endpoint"] == "http://127.0.0.1:4566"
    section = tomllib.loads((rendered / "samconfig.toml").read_text())["artisan-logger-dev"]["deploy"]["parameters"]
    assert (rendered / section["template_file"]).exists()


def test_failed_sam_deploy_exits_1(rendered, run_cli, fake_sam, monkeypatch):
    monkeypatch.setenv("FAKE_SAM_EXIT", "3")
    result = run_cli("deploy", "artisan-logger", "--env", "dev", cwd=rendered)
    assert result.code == 1 and "sam deploy exited with status 3" in result.err


def test_missing_sam_says_how_to_install(rendered, run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run_cli("deploy", "artisan-logger", "--env", "dev", cwd=rendered)
    assert result.code == 2
    assert "the AWS SAM CLI (`sam`) is not on PATH; install it" in result.err and "pip install aws-sam-cli" in result.err


def test_deploy_refuses_stale_output(rendered, run_cli, fake_sam):
    manifest = rendered / "stacks.toml"
    manifest.write_text(manifest.read_text().replace("retry_attempts = 3", "retry_attempts = 5"))
    result = run_cli("deploy", "artisan-logger", "--env", "dev", cwd=rendered)
    assert result.code == 2 and "rendered output is stale" in result.err
    assert not fake_sam.exists()


def test_deploy_unknown_environment(rendered, run_cli):
    result = run_cli("deploy", "artisan-logger", "--env", "staging", "--dry-run", cwd=rendered)
    assert result.code == 2
    assert result.err == "error: stack artisan-logger: --env: unknown environment 'staging'; allowed: dev, prod\n"


@pytest.mark.parametrize("argument", ["--parameter-overrides", "--parameter-overrides=TaskFamily=x", "--config-env", "-t"])
def test_passthrough_args_cannot_override_the_generated_section(rendered, run_cli, fake_sam, argument):
    result = run_cli("deploy", "artisan-logger", "--env", "dev", "--dry-run", "--", argument, "TaskFamily=x", cwd=rendered)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"error: stack artisan-logger: --: {argument.split('=')[0]} is not accepted after `--`: ")
    assert len(result.err.splitlines()) == 1 and not fake_sam.exists()


def test_passthrough_args_are_only_for_deploy(rendered, run_cli):
    with pytest.raises(SystemExit) as exit_:
        run_cli("render", "--", "--x", cwd=rendered)
    assert exit_.value.code == 2


def test_diff_summarises_resource_changes_and_writes_nothing(rendered, run_cli):
    manifest = rendered / "stacks.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace('schedule = "cron(20 2 * * ? *)"\ncontainer_name = "php"',
                                     'schedule = "cron(20 2 * * ? *)"\ndead_letter_queue = false\ncontainer_name = "php"'))
    before = snapshot(rendered)
    result = run_cli("diff", cwd=rendered)
    assert result.code == 0
    # the alert rule loses its dead-letter queue too
    assert "artisan-logger: resources removed DeadLetterQueue, DeadLetterQueuePolicy, DeadLetterQueueAlarm; changed ScheduleRule, TaskFailedAlertRule\n" in result.out
    assert "nightly-report: no resource changes\n" in result.out
    assert "-  DeadLetterQueue:\n" in result.out
    assert snapshot(rendered) == before


def test_next_runs_lists_future_runs_in_both_zones(project, run_cli):
    result = run_cli("next-runs", "nightly-report", "--count", "2", cwd=project)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "Schedule: cron(0 2 * * ? *) in Asia/Tokyo"
    assert len(lines) == 3
    for line in lines[1:]:
        assert "17:00" in line.split("UTC")[0] and "02:00" in line.split("UTC")[1]


def test_next_runs_of_a_stack_without_schedule_is_bad_input(tmp_path, run_cli):
    from support.manifests import manifest_text
    # a scheduled stack always has a schedule; an unknown stack is the reachable bad input here
    (tmp_path / "stacks.toml").write_text(manifest_text("job", "scheduled_task", 'schedule = "rate(1 day)"\ncontainer_name = "a"'))
    result = run_cli("next-runs", "nope", cwd=tmp_path)
    assert result.code == 2 and "unknown stack 'nope'" in result.err
