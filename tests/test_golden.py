"""Golden files: the rendered output of tests/golden/stacks.toml, byte for byte.

They catch unintended change; the meaning is asserted in the per-blueprint tests. Refresh only on
purpose, and read the diff: `pytest tests/test_golden.py --update-golden`.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from generator.core.manifest import load_manifest
from generator.core.render import plan

GOLDEN = Path(__file__).parent / "golden"


def _render():
    specs = load_manifest(GOLDEN / "stacks.toml")
    return plan(specs, only=None, manifest_path=GOLDEN / "stacks.toml", out_dir=GOLDEN / "out", samconfig_path=GOLDEN / "out" / "samconfig.toml")


def test_golden_files_match_the_render(request):
    rendered = {path: text for path, text in _render().files.items()}
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN / "out", ignore_errors=True)
        for path, text in rendered.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        pytest.skip("golden files rewritten; review the diff before committing")
    on_disk = {p for p in (GOLDEN / "out").rglob("*") if p.is_file()}
    assert on_disk == set(rendered), "golden files added or missing: run pytest --update-golden and review"
    differences = "".join(golden_diff(path, text) for path, text in rendered.items())
    assert not differences, f"the render differs from the golden files (run pytest --update-golden and review):\n{differences}"


def golden_diff(path: Path, rendered: str) -> str:
    """A unified diff from the golden file to the render ('' when they are the same)."""
    golden = path.read_text(encoding="utf-8")
    if golden == rendered:
        return ""
    return "".join(difflib.unified_diff(golden.splitlines(keepends=True), rendered.splitlines(keepends=True),
                                        fromfile=f"{path.relative_to(GOLDEN)} (golden)", tofile=f"{path.relative_to(GOLDEN)} (rendered)"))


def test_a_difference_is_shown_as_a_diff(tmp_path):
    golden = GOLDEN / "out" / "nightly-report" / "template.yaml"
    text = golden.read_text(encoding="utf-8")
    diff = golden_diff(golden, text.replace("cron(0 2 * * ? *)", "cron(0 3 * * ? *)"))
    assert "--- out/nightly-report/template.yaml (golden)\n+++ out/nightly-report/template.yaml (rendered)\n" in diff
    assert "\n-      ScheduleExpression: cron(0 2 * * ? *)\n+      ScheduleExpression: cron(0 3 * * ? *)\n" in diff
    assert golden_diff(golden, text) == ""


def test_rendering_twice_is_byte_identical():
    first, second = _render().files, _render().files
    assert first == second
