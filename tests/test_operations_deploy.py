"""`deploy --env` and `diff --live` against the moto server, for every example stack in dev and prod.

The stacks go to an account of this module's own (tests/support/operations.py says why, and what stands in
for `sam deploy` and for the two moto gaps). What moto's change sets cannot show (Replacement,
Details, a SAM template's changes, a failed change set) is tested with botocore's Stubber in
test_operations_stubbed.py.
"""

from __future__ import annotations

import tomllib

import pytest
import tomlkit

from generator.commands import deploy_env, live_diff
from support.moto_deploy import yaml_load
from support.operations import account_credentials, fresh_account, moto_like_aws, operations_project

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

ENVIRONMENTS = ("dev", "prod")
STACKS = ("nightly-report", "artisan-logger", "api-redeploy", "batch-base", "csv-ingest", "stock-trader-task")


@pytest.fixture(scope="module")
def ops(tmp_path_factory, moto_endpoint):
    account = fresh_account()
    with account_credentials(moto_endpoint, account), moto_like_aws():
        yield operations_project(tmp_path_factory.mktemp("operations"), moto_endpoint, account)


@pytest.fixture
def cli(ops, run_cli, monkeypatch):
    """`python -m generator …` in the project folder, `sam deploy` replaced by the moto stand-in,
    change sets polled without delay."""
    monkeypatch.setattr(deploy_env, "DEPLOYER", ops.deployer())
    monkeypatch.setattr(live_diff, "POLL_SECONDS", 0.01)

    def run(*args):
        ours, sams = (args[:args.index("--")], args[args.index("--"):]) if "--" in args else (args, ())
        return run_cli(*ours, "--endpoint-url", ops.endpoint, *sams, cwd=ops.folder)

    return run


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_diff_live_before_a_deploy_counts_what_would_be_created_and_creates_nothing(ops, cli, environment):
    result = cli("diff", "--live", "--env", environment)
    assert result.code == 1, result.err
    for stack in STACKS:
        template = yaml_load((ops.folder / "templates_out" / stack / "template.yaml").read_text())
        if "Transform" in template:  # counted after the SAM transform: no AWS::Serverless:: type is created
            line = next(line for line in result.out.splitlines() if line.startswith(f"{stack} ({stack}-{environment}): not deployed"))
            assert "AWS::Serverless" not in line
            assert ("AWS::Lambda::Function" if stack == "api-redeploy" else "AWS::StepFunctions::StateMachine") in line
            continue
        # every resource but the alert e-mail subscription, whose condition (AlertEmail set) is false
        conditional = [name for name, resource in template["Resources"].items() if resource.get("Condition") == "HasAlertEmail"]
        expected = len(template["Resources"]) - len(conditional)
        assert f"{stack} ({stack}-{environment}): not deployed; would create {expected} resources: " in result.out
    assert result.out.endswith(f"diff --live: {len(STACKS)} of {len(STACKS)} stack(s) would change ({', '.join(STACKS)})\n")
    # A CREATE change set would have left stacks in REVIEW_IN_PROGRESS behind: none was made
    # (this runs before either environment is deployed).
    for region in ("us-east-1", "ap-northeast-1"):
        assert ops.client("cloudformation", region).list_stacks()["StackSummaries"] == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_deploy_env_deploys_every_stack_foundation_first_then_skips_unchanged(ops, cli, environment):
    ops.calls.clear()
    result = cli("deploy", "--env", environment)
    assert result.code == 0, result.err
    names = [f"{stack}-{environment}" for stack in STACKS]
    assert sorted(ops.calls) == sorted(names)
    assert ops.calls.index(f"csv-ingest-{environment}") > ops.calls.index(f"batch-base-{environment}")
    for name in names:
        assert f"{name}: deploying (new stack)\n" in result.out
        assert ops.client("cloudformation", region_of(ops, name)).describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert f"deployed:      {', '.join(names)}" in result.out

    # Nothing changed: every stack is compared with what is live (template as packaged, parameters,
    # tags; the SAM stacks' artifacts by content) and skipped, sam is not run.
    ops.calls.clear()
    again = cli("deploy", "--env", environment)
    assert again.code == 0, again.err
    assert ops.calls == []
    assert all(f"{name}: no changes (skipped)\n" in again.out for name in names)


def region_of(ops, stack_name: str) -> str:
    return tomllib.loads((ops.folder / "samconfig.toml").read_text())[stack_name]["deploy"]["parameters"]["region"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_diff_live_after_a_deploy_shows_no_changes(ops, cli, environment):
    _deploy(cli, environment)
    result = cli("diff", "--live", "--env", environment)
    assert result.code == 0, result.err + result.out
    for stack in STACKS:
        assert f"{stack} ({stack}-{environment}): no changes\n" in result.out
    assert result.out.endswith(f"diff --live: 0 of {len(STACKS)} stack(s) would change\n")
    assert _change_sets(ops, environment) == []


def _deploy(cli, environment):
    result = cli("deploy", "--env", environment)
    assert result.code == 0, result.err


def _change_sets(ops, environment) -> list:
    """Every change set left on the environment's stacks (there must be none)."""
    found = []
    for stack in STACKS:
        name = f"{stack}-{environment}"
        found += ops.client("cloudformation", region_of(ops, name)).list_change_sets(StackName=name)["Summaries"]
    return found


def test_an_option_edit_shows_in_diff_live_with_its_iam_broadening_and_deploys_alone(ops, cli):
    """batch-base's task role may also write: diff --live shows the role modified and the new
    action as a broadening (resolved for the environment); deploy --env then deploys batch-base
    only, and afterwards nothing differs."""
    _deploy(cli, "dev")
    statements = lambda document: document["stacks"]["batch-base"]["options"]["task_role_statements"]
    original = [dict(statement) for statement in statements(tomlkit_document(ops))]
    ops.edit_manifest(lambda document: statements(document)[0]["actions"].append("s3:PutObject"))
    try:
        result = cli("diff", "--live", "--env", "dev")
        assert result.code == 1, result.err
        out = result.out
        assert "batch-base (batch-base-dev): 1 resource change(s)\n  modify      TaskRole (AWS::IAM::Role)\n" in out
        broadening = out.index("batch-base (batch-base-dev): IAM broadenings (1), review these first:")
        row = out.splitlines()[out[:broadening].count("\n") + 2].split()
        assert row == ["new", "action", "+", "TaskRole/task", "Allow", "-", "s3:PutObject", "arn:aws:s3:::sample-bucket-*/test/aaa/*", "-"]
        assert broadening < out.index("batch-base (batch-base-dev): 1 resource change(s)")  # broadenings come first
        assert "csv-ingest (csv-ingest-dev): no changes\n" in out
        assert out.endswith(" stack(s) would change (batch-base); IAM broadenings in batch-base\n")  # named again at the end
        assert _change_sets(ops, "dev") == []

        ops.calls.clear()
        deployed = cli("deploy", "--env", "dev")
        assert deployed.code == 0, deployed.err
        assert ops.calls == ["batch-base-dev"]
        assert "batch-base-dev: deploying (changed: template)\n" in deployed.out
        assert cli("diff", "--live", "--env", "dev").code == 0
    finally:
        ops.edit_manifest(lambda document: statements(document).__setitem__(0, original[0]))
        _deploy(cli, "dev")


def tomlkit_document(ops):
    return tomlkit.parse((ops.folder / "stacks.toml").read_text())


def test_a_parameter_change_is_listed_with_its_old_and_new_value(ops, cli):
    _deploy(cli, "prod")
    ops.edit_manifest(lambda document: document["stacks"]["batch-base"]["environments"]["prod"]["parameters"].__setitem__("ImageTag", "2024.07.1"))
    try:
        result = cli("diff", "--live", "--env", "prod", "batch-base")
        assert result.code == 1, result.err
        assert "  parameter   ImageTag: 2024.05.3 -> 2024.07.1\n" in result.out
        # (moto's change sets compare template text only, so they list no resource for a change of
        # parameter value; CloudFormation would list TaskDefinition: test_operations_stubbed.py)
        assert result.out.endswith("diff --live: 1 of 1 stack(s) would change (batch-base)\n")
        ops.calls.clear()
        assert cli("deploy", "--env", "prod", "batch-base", "csv-ingest").code == 0
        assert ops.calls == ["batch-base-prod"]  # csv-ingest-prod is unchanged
    finally:
        ops.edit_manifest(lambda document: document["stacks"]["batch-base"]["environments"]["prod"]["parameters"].__setitem__("ImageTag", "2024.05.3"))
        _deploy(cli, "prod")


def test_force_deploys_unchanged_stacks_and_jobs_runs_independent_ones_together(ops, cli):
    _deploy(cli, "dev")
    ops.calls.clear()
    result = cli("deploy", "--env", "dev", "--force", "--jobs", "3", "--", "--no-confirm-changeset")
    assert result.code == 0, result.err
    assert sorted(ops.calls) == sorted(f"{stack}-dev" for stack in STACKS)
    assert ops.calls.index("csv-ingest-dev") > ops.calls.index("batch-base-dev")
    assert "batch-base-dev: deploying (no changes, deployed anyway (--force))\n" in result.out
    assert "batch-base-dev | moto deployed batch-base-dev: UPDATE_COMPLETE\n" in result.out  # collected output, prefixed


def test_jobs_refuses_stacks_that_confirm_change_sets(ops, cli):
    result = cli("deploy", "--env", "prod", "--jobs", "2")
    assert result.code == 2 and len(result.err.splitlines()) == 1
    assert result.err.startswith("error: --jobs: nightly-report-prod, artisan-logger-prod, ")
    assert "confirm change sets (confirm_changeset = true), which needs the terminal; deploy with --jobs 1, or pass -- --no-confirm-changeset" in result.err


def test_the_first_failure_stops_the_deploy_and_the_summary_names_every_stack(ops, cli, monkeypatch):
    _deploy(cli, "dev")
    monkeypatch.setattr(deploy_env, "DEPLOYER", ops.deployer(fail={"batch-base"}))
    ops.calls.clear()
    result = cli("deploy", "--env", "dev", "--force")
    assert result.code == 1
    assert "batch-base-dev" in ops.calls and "csv-ingest-dev" not in ops.calls
    summary = result.out[result.out.index("deploy --env dev:\n"):]
    assert "  failed:        batch-base-dev (UPDATE_COMPLETE" in summary  # moto's stack is as it was; the reason's shape: test_operations_stubbed
    not_attempted = [line for line in summary.splitlines() if line.startswith("  not attempted:")]
    assert not_attempted and "csv-ingest-dev" in not_attempted[0] and "stock-trader-task-dev" in not_attempted[0]
    assert result.err.startswith("failed: deploy --env dev stopped at batch-base-dev; not attempted: ")


def test_with_dependencies_adds_the_foundation_and_dry_run_prints_the_order(ops, cli):
    ops.calls.clear()
    result = cli("deploy", "--env", "dev", "csv-ingest", "--with-dependencies", "--dry-run")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "1. batch-base-dev: (moto) deploy batch-base-dev"
    assert lines[1] == "2. csv-ingest-dev (after batch-base): (moto) deploy csv-ingest-dev"
    assert len(lines) == 3 and ops.calls == []  # the two stacks only, and nothing deployed


@pytest.mark.parametrize("arguments, message", [
    (("deploy", "--env", "staging"), "error: --env: no stack has environment 'staging'; environments: dev, prod\n"),
    (("deploy", "--env", "dev", "csv-ingest", "nope"), "error: unknown stack 'nope'; stacks: nightly-report, artisan-logger, api-redeploy, batch-base, csv-ingest, stock-trader-task\n"),
    (("diff", "--live", "--env", "qa", "batch-base"), "error: stack batch-base: --env: unknown environment 'qa'; allowed: dev, prod\n"),
    (("diff", "--live", "batch-base"), "error: --env: --live needs --env ENV: the environment whose deployed stacks to compare with\n"),
])
def test_bad_input_is_one_line_exit_2(ops, cli, arguments, message):
    result = cli(*arguments)
    assert (result.code, result.err) == (2, message)


def test_without_credentials_the_commands_say_so_in_one_line(ops, cli, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for arguments in (("deploy", "--env", "dev"), ("diff", "--live", "--env", "dev")):
        result = cli(*arguments)
        assert result.code == 2
        assert len(result.err.splitlines()) == 1 and "no AWS credentials found: set AWS_PROFILE" in result.err


def test_a_stale_render_is_refused(ops, cli):
    template = ops.folder / "templates_out" / "artisan-logger" / "template.yaml"
    text = template.read_text()
    template.write_text(text + "# edited\n")
    try:
        result = cli("deploy", "--env", "dev")
        assert result.code == 2 and "rendered output is stale" in result.err and len(result.err.splitlines()) == 1
    finally:
        template.write_text(text)
