"""`deploy`: run `sam deploy` for one stack and environment with the generated samconfig section."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

from generator.errors import UserError

SAM_INSTALL_HINT = (
    "the AWS SAM CLI (`sam`) is not on PATH; install it, ideally in its own virtual environment "
    "(`python3 -m venv ~/.sam && ~/.sam/bin/pip install aws-sam-cli`, then put ~/.sam/bin on PATH), "
    "see https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html"
)


def sam_deploy_command(samconfig: Path, config_env: str, extra_args: list[str]) -> list[str]:
    # --config-file must be absolute: SAM otherwise resolves it next to the template. Overrides stay
    # in the file: --parameter-overrides on the command line would replace them, not merge.
    return ["sam", "deploy", "--config-file", str(samconfig.resolve()), "--config-env", config_env, *extra_args]


def check_config_env(samconfig: Path, config_env: str, *, stack: str) -> None:
    if not samconfig.exists():
        raise UserError(f"{samconfig} does not exist; run `python -m generator render` first", stack=stack)
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    if "parameters" not in config.get(config_env, {}).get("deploy", {}):
        raise UserError(f"{samconfig} has no [{config_env}.deploy.parameters]; run `python -m generator render`", stack=stack)


def describe_command(command: list[str], *, cwd: Path, endpoint_url: str | None) -> str:
    prefix = f"cd {shlex.quote(str(cwd.resolve()))} && "
    if endpoint_url:
        prefix += f"AWS_ENDPOINT_URL={shlex.quote(endpoint_url)} "
    return prefix + shlex.join(command)


def run(command: list[str], *, cwd: Path, endpoint_url: str | None) -> int:
    executable = shutil.which(command[0])
    if executable is None:
        raise UserError(SAM_INSTALL_HINT)
    environment = dict(os.environ)
    if endpoint_url:
        # boto3 (and so the SAM CLI) sends every AWS call to AWS_ENDPOINT_URL when it is set.
        environment["AWS_ENDPOINT_URL"] = endpoint_url
    return subprocess.run([executable, *command[1:]], cwd=cwd, env=environment).returncode
