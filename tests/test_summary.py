"""`summary`: the pull request's Markdown, for a set of manifest edits made on top of a committed render.

Each test commits a rendered manifest in a scratch git repository (fixed dates and author, so the
commit id in the heading is stable), edits the manifest, and reads the summary against HEAD. It
asserts what the summary says (the meaning), then compares the whole Markdown with a golden file
(tests/golden/summary/*.md; refresh with --update-golden and read the diff).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest


GOLDEN = Path(__file__).parent / "golden" / "summary"
NOW = "2026-03-01T00:00"
FIXED_GIT = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
             "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
             "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}

MANIFEST = """\
[stacks.batch-base]
blueprint = "task_foundation"
description = "Shared cluster"

[stacks.batch-base.options]
image_repository = "batch-app"
task_role_statements = [{ actions = ["s3:GetObject"], resources = ["arn:{partition}:s3:::reports/*"] }]

[stacks.batch-base.environments.dev]
region = "eu-west-1"

[stacks.batch-base.environments.dev.parameters]
ImageTag = "1.0.0"

[stacks.nightly]
blueprint = "scheduled_task"
description = "Nightly report"

[stacks.nightly.options]
schedule = "cron(0 2 * * ? *)"
timezone = "Europe/Paris"
container_name = "app"
command = ["report"]

[stacks.nightly.environments.dev]
region = "eu-west-1"

[stacks.nightly.environments.dev.parameters]
ClusterArn = "arn:aws:ecs:eu-west-1:123456789012:cluster/dev"
TaskFamily = "nightly"
Subnets = "subnet-0a1b2c3d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::123456789012:role/exec"
"""

NEW_STACK = """
[stacks.hourly]
blueprint = "scheduled_task"
description = "Hourly sync"

[stacks.hourly.options]
schedule = "rate(1 hour)"
container_name = "app"

[stacks.hourly.environments.dev]
region = "eu-west-1"

[stacks.hourly.environments.dev.parameters]
ClusterArn = "arn:aws:ecs:eu-west-1:123456789012:cluster/dev"
TaskFamily = "hourly"
Subnets = "subnet-0a1b2c3d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::123456789012:role/exec"
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={**os.environ, **FIXED_GIT}).stdout


@pytest.fixture
def repo(tmp_path, run_cli):
    (tmp_path / "stacks.toml").write_text(MANIFEST)
    assert run_cli("render", cwd=tmp_path).code == 0
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def _edit(repo: Path, old: str, new: str) -> None:
    manifest = repo / "stacks.toml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new))


def _summary(repo: Path, run_cli, monkeypatch, *extra: str) -> str:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert run_cli("render", cwd=repo).code == 0
    result = run_cli("summary", "--base", "HEAD", "--now", NOW, *extra, cwd=repo)
    assert result.code == 0, result.err
    return result.out


def _golden(request, name: str, text: str) -> None:
    path = GOLDEN / f"{name}.md"
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"{path} differs: run pytest --update-golden and review"


def _section(text: str, stack: str) -> str:
    start = text.index(f"### `{stack}`")
    end = text.find("\n### ", start + 1)
    return text[start:] if end == -1 else text[start:end]


def test_schedule_change_says_before_and_now_with_the_next_runs(repo, run_cli, monkeypatch, request):
    _edit(repo, 'schedule = "cron(0 2 * * ? *)"', 'schedule = "cron(30 5 ? * MON-FRI *)"')
    text = _summary(repo, run_cli, monkeypatch)
    nightly = _section(text, "nightly")
    assert "**Now:** Runs ECS task family `${TaskFamily}` in cluster `${ClusterArn}` on `cron(30 5 ? * MON-FRI *)` (Europe/Paris)." in nightly
    assert "**Before:** Runs ECS task family `${TaskFamily}` in cluster `${ClusterArn}` on `cron(0 2 * * ? *)` (Europe/Paris)." in nightly
    # 2026-03-01 is a Sunday: the next weekday runs are Mon 2, Tue 3, Wed 4 at 05:30 in Paris (UTC+1) = 04:30 UTC.
    assert ("| `Schedule` | `cron(0 2 * * ? *)` in Europe/Paris | `cron(30 5 ? * MON-FRI *)` in Europe/Paris | "
            "2026-03-02 04:30 Mon → 2026-03-02 05:30 Mon<br>2026-03-03 04:30 Tue → 2026-03-03 05:30 Tue<br>"
            "2026-03-04 04:30 Wed → 2026-03-04 05:30 Wed |") in nightly
    assert "| `Schedule` | `AWS::Scheduler::Schedule` | modified | `Description`, `ScheduleExpression` |" in nightly
    assert "IAM" not in nightly and "batch-base" not in text  # nothing else changed
    _golden(request, "schedule-change", text)


def test_new_stack_is_described_with_its_parameters_and_iam(repo, run_cli, monkeypatch, request):
    (repo / "stacks.toml").write_text(MANIFEST + NEW_STACK)
    text = _summary(repo, run_cli, monkeypatch)
    assert "| `hourly` | added | scheduled_task | dev |" in text
    hourly = _section(text, "hourly")
    assert "**New:** Runs ECS task family `${TaskFamily}` in cluster `${ClusterArn}` on `rate(1 hour)` (UTC)." in hourly
    assert "| `ScheduleRule` | `AWS::Events::Rule` | added |" in hourly
    assert "| `ScheduleRule` | – | `rate(1 hour)` in UTC | 2026-03-01 01:00 Sun → 2026-03-01 01:00 Sun<br>" in hourly
    assert "| **new principal** | + | `RunTaskRole (trust)` | Allow | `Service:events.amazonaws.com` | `sts:AssumeRole` | – |" in hourly
    assert "| dev | `TaskFamily` | – | `hourly` |" in hourly
    # every grant of a new stack is new: the run-task role's statements are all broadenings
    assert ("| **new action** | + | `RunTaskRole/run-task` | Allow | – | `ecs:RunTask` | "
            "`arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${TaskFamily}` |") in hourly
    assert "nightly" not in text.split("### `hourly`")[0].split("| --- |")[-1]  # the only row is hourly
    _golden(request, "new-stack", text)


def test_removed_stack_says_the_deployed_stacks_stay(repo, run_cli, monkeypatch, request):
    text_manifest = (repo / "stacks.toml").read_text()
    (repo / "stacks.toml").write_text(text_manifest[: text_manifest.index("[stacks.nightly]")])
    text = _summary(repo, run_cli, monkeypatch)
    nightly = _section(text, "nightly")
    assert "| `nightly` | removed | scheduled_task | dev |" in text
    assert "**Was:** Runs ECS task family `${TaskFamily}`" in nightly
    assert "does not delete the deployed stacks (`nightly-dev`)" in nightly
    assert "| `Schedule` | `AWS::Scheduler::Schedule` | **removed** |" in nightly
    assert "| dev | `ClusterArn` | `arn:aws:ecs:eu-west-1:123456789012:cluster/dev` | removed |" in nightly
    removed_grants = [line for line in nightly.splitlines() if line.startswith("|   | - | `RunTaskRole")]
    assert removed_grants and not any(line.startswith("| **") for line in nightly.splitlines() if "RunTaskRole" in line)  # losing access is not broadening
    _golden(request, "removed-stack", text)


def test_iam_broadening_comes_first_and_names_the_new_grant(repo, run_cli, monkeypatch, request):
    _edit(repo, 'actions = ["s3:GetObject"]', 'actions = ["s3:GetObject", "s3:PutObject"]')
    text = _summary(repo, run_cli, monkeypatch)
    assert "1 changed; **1 IAM broadening**." in text
    base = _section(text, "batch-base")
    table = base[base.index("IAM (broadenings first"):].splitlines()
    # only the new grant: s3:GetObject was allowed before and still is
    assert table[2:] == ["| why | +/- | where | effect | principal | action | resource | condition |",
                         "| --- | --- | --- | --- | --- | --- | --- | --- |",
                         "| **new action** | + | `TaskRole/task` | Allow | – | `s3:PutObject` | `arn:${AWS::Partition}:s3:::reports/*` | – |"]
    assert "**Does (unchanged):**" in base
    _golden(request, "iam-broadening", text)


def test_parameter_change_is_listed_per_environment_and_changes_only_that_deployment(repo, run_cli, monkeypatch, request):
    _edit(repo, 'ImageTag = "1.0.0"', 'ImageTag = "1.1.0"')
    text = _summary(repo, run_cli, monkeypatch)
    base = _section(text, "batch-base")
    assert "| dev | `ImageTag` | `1.0.0` | `1.1.0` |" in base
    assert "Resources:" not in base and "IAM (broadenings first)" not in base  # the template is the same
    _golden(request, "parameter-change", text)
    assert json.loads(_summary(repo, run_cli, monkeypatch, "--changed-stacks", "--env", "dev")) == ["batch-base"]


def test_no_change_and_a_first_deployment(repo, run_cli, monkeypatch):
    assert "No stack changes" in _summary(repo, run_cli, monkeypatch)
    assert json.loads(_summary(repo, run_cli, monkeypatch, "--changed-stacks", "--env", "dev")) == []
    result = run_cli("summary", "--base", "0" * 40, "--changed-stacks", "--env", "dev", cwd=repo)
    assert json.loads(result.out) == ["batch-base", "nightly"]


def test_output_goes_to_the_github_step_summary_when_set(repo, run_cli, monkeypatch):
    _edit(repo, 'ImageTag = "1.0.0"', 'ImageTag = "1.1.0"')
    assert run_cli("render", cwd=repo).code == 0
    target = repo / "step-summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    result = run_cli("summary", "--now", NOW, cwd=repo)
    assert result.code == 0 and "written to $GITHUB_STEP_SUMMARY" in result.out
    assert target.read_text().startswith("earlier step\n## Stack changes against `HEAD`")


def test_stale_output_is_called_out(repo, run_cli, monkeypatch):
    _edit(repo, 'ImageTag = "1.0.0"', 'ImageTag = "1.1.0"')  # not rendered
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = run_cli("summary", "--now", NOW, cwd=repo)
    assert "**The rendered output on disk is stale**" in result.out
    assert "| dev | `ImageTag` | `1.0.0` | `1.1.0` |" in result.out  # the summary is of what the manifest renders


@pytest.mark.parametrize("args, message", [
    (["--base", "no-such-branch"], "--base 'no-such-branch' is not a commit of this repository"),
    (["--now", "tomorrow"], "--now: 'tomorrow' is not an ISO 8601 time"),
    (["--changed-stacks"], "--env: --changed-stacks needs --env ENV"),
    (["--changed-stacks", "--env", "qa"], "--env: no stack has environment 'qa'; environments: dev"),
])
def test_bad_input_is_one_line(repo, run_cli, args, message):
    result = run_cli("summary", *args, cwd=repo)
    assert result.code == 2
    assert result.err.count("\n") == 1 and message in result.err


def test_outside_a_git_repository_is_one_line(tmp_path, run_cli):
    (tmp_path / "stacks.toml").write_text(MANIFEST)
    result = run_cli("summary", "--base", "main", cwd=tmp_path)
    assert result.code == 2 and result.err.count("\n") == 1
    assert "--base needs a git repository: not a git repository" in result.err


def test_a_new_stack_widens_the_deploy_role_and_the_summary_says_who_deploys_it(repo, run_cli, monkeypatch):
    roles = """
[stacks.deploy-roles]
blueprint = "deploy_role"
[stacks.deploy-roles.options]
github_repository = "octo-org/batch-jobs"
[stacks.deploy-roles.environments.dev]
region = "eu-west-1"
"""
    (repo / "stacks.toml").write_text(MANIFEST + roles)
    assert run_cli("render", cwd=repo).code == 0
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "roles")
    (repo / "stacks.toml").write_text(MANIFEST + NEW_STACK + roles)
    text = _summary(repo, run_cli, monkeypatch)
    roles_section = _section(text, "deploy-roles")
    assert "**Bootstrap stack:** the pipeline never deploys it" in roles_section
    assert ("| **new resource** | + | `DeployRole/sam-deploy` | Allow | – | `cloudformation:CreateChangeSet` | "
            "`arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/hourly-${GitHubEnvironment}/*` |") in roles_section
