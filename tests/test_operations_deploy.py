"""`deploy --env` and `diff --live` against the moto server, for every example stack in dev and prod.

The stacks go to an account of this module's own (tests/operations.py says why, and what stands in
for `sam deploy` and for the two moto gaps). What moto's change sets cannot show (Replacement,
Details, a SAM template's changes, a failed change set) is tested with botocore's Stubber in
test_operations_stubbed.py.
"""

from __future__ import annotations

import json

import pytest

from operations import account_credentials, fresh_account, moto_like_aws, moto_stack, operations_project
from generator.commands import deploy_env, live_diff

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
        return run_cli(*args, "--endpoint-url", ops.endpoint, cwd=ops.folder)

    return run


@pytest.fixture(scope="module")
def deployed(ops):
    """Each environment deployed once, in order, by `deploy --env` (the first test checks how)."""
    return {}


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
    section = json.loads(json.dumps(__import__("tomllib").loads((ops.folder / "samconfig.toml").read_text())[stack_name]))
    return section["deploy"]["parameters"]["region"]


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
