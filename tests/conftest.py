"""Shared fixtures: a CLI runner, a project copy, rendered examples and a moto server. Tests import
helpers from tests/support/, never from here."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.commands.cli import main
from support.paths import REPO, free_port

# Fixtures shared by several test modules (`stubs`: botocore clients with Stubber).
pytest_plugins = ["support.stubbed_aws"]


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/ from the current render")


@pytest.fixture(autouse=True, scope="session")
def private_user_cache(tmp_path_factory):
    """Lint results and compiled templates go to a scratch cache, never the developer's own."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    patch.delenv("ECS_BATCH_TEMPLATES_CACHE_DIR", raising=False)  # e.g. CI's restored lint cache
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


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server on a free loopback port, for deploying rendered stacks."""
    from moto.server import ThreadedMotoServer

    port = free_port()
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
