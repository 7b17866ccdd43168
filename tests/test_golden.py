"""Golden files: the rendered output of tests/golden/stacks.toml, byte for byte.

They catch unintended change; the meaning is asserted in the per-blueprint tests. Refresh only on
purpose, and read the diff: `pytest tests/test_golden.py --update-golden`.
"""

from __future__ import annotations

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
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, f"{path} differs from the render: run pytest --update-golden and review"


def test_rendering_twice_is_byte_identical():
    first, second = _render().files, _render().files
    assert first == second
