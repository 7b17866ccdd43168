"""`deploy`: run `sam deploy` for one stack and environment with the generated samconfig section."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from generator.core.errors import UserError
from generator.core.toml_files import read_toml

SAM_INSTALL_HINT = (
    "the AWS SAM CLI (`sam`) is not on PATH; install it, ideally in its own virtual environment "
    "(`python3 -m venv ~/.sam && ~/.sam/bin/pip install aws-sam-cli`, then put ~/.sam/bin on PATH), "
    "see https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html"
)


# Arguments after `--` that would quietly undo what the generated section says: sam takes
# --parameter-overrides from the command line *instead of* the file's (all of them, not merged),
# and the others would point sam at another section, file or template.
_OWNED_SAM_OPTIONS = {
    "--parameter-overrides": "it would replace every parameter override in the samconfig section, not add to them; "
                             "change the value in stacks.toml and render",
    "--config-file": "the generator names the samconfig file (use --samconfig)",
    "--config-env": "the generator names the section (use the stack name and --env)",
    "--template-file": "the section names the rendered template",
    "--template": "the section names the rendered template",
    "-t": "the section names the rendered template",
}


def sam_deploy_command(samconfig: Path, config_env: str, extra_args: list[str], *, stack: str | None = None) -> list[str]:
    for argument in extra_args:
        option = argument.split("=", 1)[0]
        if option in _OWNED_SAM_OPTIONS:
            raise UserError(f"{option} is not accepted after `--`: {_OWNED_SAM_OPTIONS[option]}", stack=stack, field="--")
    # --config-file must be absolute: SAM otherwise resolves it next to the template.
    return ["sam", "deploy", "--config-file", str(samconfig.resolve()), "--config-env", config_env, *extra_args]


def check_config_env(samconfig: Path, config_env: str, *, stack: str) -> None:
    if not samconfig.exists():
        raise UserError(f"{samconfig} does not exist; run `python -m generator render` first", stack=stack)
    config = read_toml(samconfig)
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
