"""The real SAM CLI reads our samconfig.toml: `python -m generator deploy` → `sam deploy` → a stack
on the moto server with exactly the parameter values and tags from stacks.toml.

SAM is not a dependency of the project (it pins many packages); CI installs it in its own virtual
environment and sets SAM_CLI. Locally the test is skipped without it; in CI (CI=true) it must run.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from support.moto_deploy import client, samconfig_overrides
from support.paths import REPO, external_tool

pytestmark = [pytest.mark.deploy, pytest.mark.slow]


def test_sam_deploy_uses_generated_overrides_and_tags(tmp_path, moto_endpoint):
    sam = external_tool("SAM_CLI", "sam", "it runs the real sam deploy")
    manifest = (REPO / "stacks.toml").read_text()
    # a tag value with a space must survive samconfig quoting and SAM's own parsing
    manifest = manifest.replace('tags = { team = "web", env = "dev" }', 'tags = { team = "web", env = "dev", owner = "Web Platform Team" }')
    (tmp_path / "stacks.toml").write_text(manifest)
    environment = {**os.environ, "PATH": f"{Path(sam).parent}{os.pathsep}{os.environ['PATH']}",
                   "SAM_CLI_TELEMETRY": "0", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "PYTHONPATH": str(REPO)}  # this checkout's generator, whichever one is installed
    generator = [sys.executable, "-m", "generator"]
    subprocess.run([*generator, "render"], cwd=tmp_path, env=environment, check=True, capture_output=True)
    deploy = subprocess.run(
        [*generator, "deploy", "artisan-logger", "--env", "dev", "--endpoint-url", moto_endpoint,
         "--", "--no-confirm-changeset", "--no-resolve-s3"],  # moto cannot host SAM's managed bucket stack
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout[-2000:] + deploy.stderr[-2000:]
    assert "Successfully created/updated stack - artisan-logger-dev" in deploy.stdout

    section, overrides = samconfig_overrides(tmp_path / "samconfig.toml", "artisan-logger-dev")
    (stack,) = client("cloudformation", moto_endpoint, section["region"]).describe_stacks(StackName="artisan-logger-dev")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    received = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    # moto reports a List<…> parameter as the Python repr of the list it split the value into
    for name in ("Subnets", "SecurityGroups"):
        received[name] = ",".join(ast.literal_eval(received[name]))
    expected = tomllib.loads(manifest)["stacks"]["artisan-logger"]["environments"]["dev"]["parameters"]
    assert {key: received[key] for key in expected} == expected
    assert received["Subnets"] == "subnet-0a1b2c3d,subnet-1a2b3c4d"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {"team": "web", "env": "dev", "owner": "Web Platform Team"}
