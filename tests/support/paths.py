"""The repository's paths, AWS's reference events, and small file and port helpers."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
# Copies of ../shared/reference/events (AWS's documented sample events): CI runs on a bare clone.
REFERENCE_EVENTS = REPO / "tests" / "events" / "reference"
SHARED_REFERENCE_EVENTS = REPO.parent / "shared" / "reference" / "events"
GOLDEN = REPO / "tests" / "golden"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder with its bytes: to prove a failed command changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def external_tool(variable: str, command: str, why: str) -> str:
    """A tool kept out of the project's environment (it pins other boto versions): from the
    environment variable .ci/run sets, or PATH. Skipped locally without it; in CI it must exist."""
    found = os.environ.get(variable) or shutil.which(command)
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide {command} ({variable}=/path/to/{command}): see .ci/run")
        pytest.skip(f"{command} is not installed (set {variable} or put {command} on PATH); {why}")
    return found
