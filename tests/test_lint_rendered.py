"""Lint as the CLI runs it over what render writes: every golden variant is clean (the blueprints'
option combinations worth linting are golden variants, tests/golden/stacks.toml), a warning fails
`generator lint`, and a SAM resource is also checked as the CloudFormation it becomes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.checks.engine import lint_paths, lint_text

pytestmark = pytest.mark.lint

GOLDEN_TEMPLATES = sorted((Path(__file__).parent / "golden" / "out").glob("*/template.yaml"))


@pytest.mark.slow  # the whole corpus; the lint tests of the fast subset cover each mechanism
@pytest.mark.parametrize("template", GOLDEN_TEMPLATES, ids=lambda path: path.parent.name)
def test_every_golden_variant_lints_clean(template):
    assert lint_paths([template], cache_dir=None, jobs=1) == []


def test_the_golden_variants_cover_every_blueprint():
    from generator.core.registry import registered

    found = {match for path in GOLDEN_TEMPLATES
             for match in re.findall(r"generated from blueprint (\w+)", path.read_text(encoding="utf-8"))}
    assert found == set(registered())


@pytest.mark.slow  # the whole command: every template linted, worker processes each setting up cfn-lint
def test_lint_command_fails_on_a_warning(project, run_cli):
    assert run_cli("render", cwd=project).code == 0
    template = project / "templates_out" / "nightly-report" / "template.yaml"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("Parameters:\n", "Parameters:\n  Unused:\n    Type: String\n", 1), encoding="utf-8")
    result = run_cli("lint", "--no-cache", cwd=project)
    assert result.code == 1
    assert "templates_out/nightly-report/template.yaml:" in result.out and "W2001" in result.out
    assert run_cli("lint", "--no-cache", "batch-base", cwd=project).code == 0


SAM_FUNCTION = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/handler/
      Handler: app.handler
      Runtime: {runtime}
      Policies: []
"""


def test_a_sam_function_is_also_linted_as_the_lambda_function_it_becomes():
    # cfn-lint checks AWS::Serverless::Function against SAM's schema only, which does not know
    # Lambda's runtimes; the transformed AWS::Lambda::Function does.
    assert lint_text(SAM_FUNCTION.format(runtime="python3.13")) == []
    (finding,) = lint_text(SAM_FUNCTION.format(runtime="python9.99"))
    assert finding.rule == "E3030" and finding.level == "error"
    assert "'python9.99' is not one of" in finding.message and "(in Handler after the SAM transform)" in finding.message
    assert finding.line == 4  # the SAM resource the function came from


def test_check_keeps_lint_results_in_the_cache_dir_ci_restores(project, run_cli, monkeypatch):
    """ECS_BATCH_TEMPLATES_CACHE_DIR (what the CI recipe restores) holds the results; --cache-dir wins."""
    assert run_cli("render", cwd=project).code == 0
    monkeypatch.setenv("ECS_BATCH_TEMPLATES_CACHE_DIR", str(project / "ci-cache"))
    assert run_cli("check", cwd=project).code == 0
    entries = sorted((project / "ci-cache" / "lint").glob("*.json"))
    templates = list((project / "templates_out").glob("*/template.yaml"))
    assert len(entries) == len(templates) > 0
    assert list((project / "ci-cache" / "render").glob("render-*.json"))  # what each stack rendered to
    assert run_cli("check", "--cache-dir", str(project / "other"), cwd=project).code == 0
    assert len(list((project / "other" / "lint").glob("*.json"))) == len(templates)
    assert sorted((project / "ci-cache" / "lint").glob("*.json")) == entries


def test_lint_cache_key_is_printed_without_a_manifest(run_cli, tmp_path):
    from generator.checks.engine import cache_key

    result = run_cli("lint", "--cache-key", cwd=tmp_path)
    assert result.code == 0 and result.out == cache_key() + "\n"
    assert re.fullmatch(r"ecs-batch-templates-lint-cfn-lint-[0-9.]+-[0-9a-f]{16}\n", result.out)
