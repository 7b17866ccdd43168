"""Shared fixtures: the repository's paths, a CLI runner, a project copy, and a moto server."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.commands.cli import main

REPO = Path(__file__).resolve().parent.parent
# Copies of ../shared/reference/events (AWS's documented sample events): CI runs on a bare clone.
REFERENCE_EVENTS = REPO / "tests" / "events" / "reference"
SHARED_REFERENCE_EVENTS = REPO.parent / "shared" / "reference" / "events"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/ from the current render")


@pytest.fixture(autouse=True, scope="session")
def private_user_cache(tmp_path_factory):
    """Lint results and compiled templates go to a scratch cache, never the developer's own."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run `python -m generator ARGS` in-process in a working directory."""

    def run(*args: str, cwd: Path) -> CliResult:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the repository's manifest, and of the workflows generated from it (its [pipeline]
    table makes `check` compare them), in a scratch folder (renders never touch the repo)."""
    shutil.copy(REPO / "stacks.toml", tmp_path / "stacks.toml")
    shutil.copytree(REPO / ".github" / "workflows", tmp_path / ".github" / "workflows")
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder with its bytes: to prove a failed command changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server on a free loopback port, for deploying rendered stacks."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def rendered_examples(tmp_path_factory) -> Path:
    """The repository's example manifest rendered into a scratch folder (with its samconfig.toml)."""
    folder = tmp_path_factory.mktemp("examples")
    shutil.copy(REPO / "stacks.toml", folder / "stacks.toml")
    assert main(["render", "--manifest", str(folder / "stacks.toml"), "--out", str(folder / "templates_out"),
                 "--samconfig", str(folder / "samconfig.toml")]) == 0
    return folder


def external_tool(variable: str, command: str, why: str) -> str:
    """A tool kept out of the project's environment (it pins other boto versions): from the
    environment variable .ci/run sets, or PATH. Skipped locally without it; in CI it must exist."""
    found = os.environ.get(variable) or shutil.which(command)
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide {command} ({variable}=/path/to/{command}): see .ci/run")
        pytest.skip(f"{command} is not installed (set {variable} or put {command} on PATH); {why}")
    return found
