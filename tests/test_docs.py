"""docs/writing-a-blueprint.md shows real code: each file it quotes is the file in the repository
(byte for byte, or a contiguous excerpt of it), and the `list` output it shows is what the example
blueprint prints. README.md links to it."""

from __future__ import annotations

import importlib
import re

import pytest

from generator.commands.catalog import reference
from generator.core.contract import check_blueprint
from support.paths import REPO

GUIDE = REPO / "docs" / "writing-a-blueprint.md"
QUOTED = re.compile(r"<!-- (file|excerpt|output): (.+?) -->\n```\w*\n(.*?)```\n", re.S)
QUOTES = QUOTED.findall(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_quotes_the_example_package_and_is_linked_from_the_readme():
    kinds = sorted({kind for kind, _, _ in QUOTES})
    assert kinds == ["excerpt", "file", "output"]
    assert "(docs/writing-a-blueprint.md)" in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind, source, quoted", QUOTES, ids=[source for _, source, _ in QUOTES])
def test_each_quote_is_the_real_thing(kind, source, quoted):
    if kind == "output":
        assert source == "python -m generator list event_task"
        module = importlib.import_module("acme_blueprints.event_task")  # (tests/plugins/acme_blueprints/src is on the path)
        assert quoted == reference(check_blueprint("event_task", module, origin="entry point of acme-blueprints 1.0.0"))
    elif kind == "file":
        assert quoted == (REPO / source).read_text(encoding="utf-8")
    else:
        assert quoted in (REPO / source).read_text(encoding="utf-8")
