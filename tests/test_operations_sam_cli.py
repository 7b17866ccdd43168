"""`deploy --env` with the real SAM CLI against the moto server: the stacks deploy through `sam
deploy`, and a second `deploy --env` finds the template sam submitted (its own re-serialized
YAML, kept by CloudFormation as the Original template), the parameters and the tags equal to the
render, so it skips them without running sam.

Only stacks sam can deploy to moto take part (a plain template whose outputs moto can read:
artisan-logger, batch-base); tests/support/operations.py says why the others cannot, and
test_operations_deploy.py covers them with a stand-in for `sam deploy`. Skipped locally without
the SAM CLI (SAM_CLI); CI provides it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support.operations import account_credentials, aws_client, fresh_account, moto_like_aws
from support.paths import REPO, external_tool

pytestmark = [pytest.mark.deploy, pytest.mark.slow]


def test_deploy_env_through_sam_then_skips_what_sam_deployed(tmp_path, moto_endpoint, run_cli, monkeypatch):
    sam = external_tool("SAM_CLI", "sam", "it runs the real sam deploy")
    monkeypatch.setenv("PATH", f"{Path(sam).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SAM_CLI_TELEMETRY", "0")
    shutil.copy(REPO / "stacks.toml", tmp_path / "stacks.toml")
    assert run_cli("render", cwd=tmp_path).code == 0
    stacks = ("artisan-logger", "batch-base")
    with account_credentials(moto_endpoint, fresh_account()), moto_like_aws():
        first = run_cli("deploy", "--env", "dev", *stacks, "--endpoint-url", moto_endpoint,
                        "--", "--no-confirm-changeset", "--no-resolve-s3", cwd=tmp_path)  # moto cannot host SAM's managed bucket stack
        assert first.code == 0, first.out[-3000:] + first.err
        assert "  deployed:      artisan-logger-dev, batch-base-dev\n" in first.out  # (sam's own output goes to the terminal)
        for name, region in (("artisan-logger-dev", "us-east-1"), ("batch-base-dev", "ap-northeast-1")):
            (stack,) = aws_client("cloudformation", moto_endpoint, region).describe_stacks(StackName=name)["Stacks"]
            assert stack["StackStatus"] == "CREATE_COMPLETE"

        second = run_cli("deploy", "--env", "dev", *stacks, "--endpoint-url", moto_endpoint, "--", "--no-resolve-s3", cwd=tmp_path)
        assert second.code == 0, second.err
        assert second.out == ("artisan-logger-dev: no changes (skipped)\nbatch-base-dev: no changes (skipped)\n"
                              "deploy --env dev:\n  no changes:    artisan-logger-dev, batch-base-dev\n")
        # (`diff --live` is not asked here: moto's change sets compare its own parse of the two
        # texts, and its YAML reading of sam's short forms (`!GetAtt Queue.Arn`) differs from the
        # same template in JSON, so on moto every resource of a sam-deployed stack looks modified.
        # test_operations_deploy.py previews stacks deployed in the form diff --live sends.)
