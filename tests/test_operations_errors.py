"""Every AWS-calling command's error paths are one line on stderr with exit status 2, never a
traceback: no credentials, an endpoint that cannot be reached, an endpoint URL that is not one, an
endpoint that does not answer as AWS does, an environment the stack (or the manifest) lacks, a stack
that is not deployed. Nothing is deployed here; the stacks are looked up in an empty moto account.
"""

from __future__ import annotations

import pytest

from support.operations import account_credentials, fresh_account
from support.paths import free_port

pytestmark = pytest.mark.slow  # botocore clients and a moto server

# One invocation per command that talks to AWS (deploy both ways: an environment, and one stack through sam).
COMMANDS = {
    "deploy --env": ("deploy", "--env", "dev"),
    "diff --live": ("diff", "--live", "--env", "dev"),
    "run": ("run", "artisan-logger", "--env", "dev"),
    "status": ("status", "artisan-logger", "--env", "dev"),
    "logs": ("logs", "artisan-logger", "--env", "dev"),
    "teardown": ("teardown", "--env", "dev", "--yes"),
}


@pytest.fixture
def rendered(project, run_cli):
    assert run_cli("render", cwd=project).code == 0
    return project


@pytest.fixture
def empty_account(moto_endpoint):
    with account_credentials(moto_endpoint, fresh_account()):
        yield moto_endpoint


def one_line_error(result) -> str:
    assert result.code == 2, (result.code, result.out, result.err)
    assert "Traceback" not in result.err and len(result.err.splitlines()) == 1, result.err
    return result.err


@pytest.mark.parametrize("command", COMMANDS)
def test_no_credentials(rendered, run_cli, monkeypatch, tmp_path, command):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    err = one_line_error(run_cli(*COMMANDS[command], "--endpoint-url", f"http://127.0.0.1:{free_port()}", cwd=rendered))
    assert "no AWS credentials found: set AWS_PROFILE (or pass --profile) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_endpoint(rendered, run_cli, monkeypatch, command):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    err = one_line_error(run_cli(*COMMANDS[command], "--endpoint-url", endpoint, cwd=rendered))
    assert err.endswith(f": cannot reach {endpoint}/\n") and ": DescribeStacks " in err


@pytest.mark.parametrize("command", [*COMMANDS, "deploy STACK"])
@pytest.mark.parametrize("url", ["localhost:5000", "ftp://localhost:5000"])
def test_an_endpoint_url_that_is_not_one(rendered, run_cli, command, url):
    arguments = ("deploy", "artisan-logger", "--env", "dev") if command == "deploy STACK" else COMMANDS[command]
    err = one_line_error(run_cli(*arguments, "--endpoint-url", url, cwd=rendered))
    assert err.endswith(f"--endpoint-url: {url!r} is not an endpoint URL; allowed: http:// or https:// and a host, like http://localhost:5000\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_endpoint_that_does_not_answer_as_aws(rendered, run_cli, empty_account, command):
    """A web page instead of an AWS answer (the moto server's own 404 page for a path it does not serve)."""
    err = one_line_error(run_cli(*COMMANDS[command], "--endpoint-url", f"{empty_account}/not-aws/", cwd=rendered))
    assert err.endswith("the endpoint's answer is not an AWS API response; is --endpoint-url the right address?\n")


@pytest.mark.parametrize("command", ["run", "status", "logs"])
def test_a_stack_that_is_not_deployed(rendered, run_cli, empty_account, command):
    err = one_line_error(run_cli(*COMMANDS[command], "--endpoint-url", empty_account, cwd=rendered))
    assert err == ("error: stack artisan-logger: --env: is not deployed: there is no stack artisan-logger-dev in us-east-1; "
                   "deploy it first (python -m generator deploy --env dev artisan-logger)\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_environment_the_stack_lacks(rendered, run_cli, command):
    """Refused before any AWS call (no endpoint is given, and none is needed)."""
    arguments = [("qa" if argument == "dev" else argument) for argument in COMMANDS[command]]
    err = one_line_error(run_cli(*arguments, cwd=rendered))
    if command in ("run", "status", "logs"):
        assert err == "error: stack artisan-logger: --env: unknown environment 'qa'; allowed: dev, prod\n"
    else:
        assert err == "error: --env: no stack has environment 'qa'; environments: dev, prod\n"


@pytest.mark.parametrize("command", ["status", "logs"])
@pytest.mark.parametrize("since, problem", [
    ("3654d", "'3654d' is too long; allowed: at most 3653d (10 years)"),
    ("9" * 5000 + "d", f"'{'9' * 60}…' is not a duration; allowed: a number and s, m, h or d, like 30m, 1h or 2d"),  # shortened
    ("1w", "'1w' is not a duration; allowed: a number and s, m, h or d, like 30m, 1h or 2d"),
])
def test_a_since_that_is_not_a_duration_is_refused_before_any_aws_call(rendered, run_cli, command, since, problem):
    err = one_line_error(run_cli(*COMMANDS[command], "--since", since, "--endpoint-url", f"http://127.0.0.1:{free_port()}", cwd=rendered))
    assert err == f"error: --since: {problem}\n"
