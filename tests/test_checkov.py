"""checkov over the rendered templates: zero failed checks, and every skip is one of the reasoned
exceptions in generator/skip_reasons.py, attached by a blueprint to the resource's Metadata.

checkov pins older boto3/botocore than moto and cfn-lint want, so CI installs it in its own virtual
environment and sets CHECKOV; locally the test is skipped without it, in CI (CI=true) it must run.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from generator.aws import checkov_skips as skip_reasons
from support.paths import REPO, external_tool

pytestmark = pytest.mark.slow


def _checkov(folder):
    result = subprocess.run(
        [external_tool("CHECKOV", "checkov", "it scans templates_out/"), "--directory", str(folder), "--framework", "cloudformation",
         "--output", "json", "--skip-download"],  # not --quiet: it drops skipped checks from the report
        capture_output=True, text=True, timeout=600,
    )
    report = json.loads(result.stdout)
    (report,) = report if isinstance(report, list) else [report]
    return report


def test_rendered_templates_pass_checkov():
    report = _checkov(REPO / "templates_out")
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 20
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    reasons = {check: reason for check, reason in
               (value for value in vars(skip_reasons).values() if isinstance(value, tuple) and len(value) == 2)}
    assert report["results"]["skipped_checks"], "expected the reasoned skips of generator/skip_reasons.py"
    for skipped in report["results"]["skipped_checks"]:
        assert reasons.get(skipped["check_id"]) == skipped["check_result"]["suppress_comment"], skipped["check_id"]


def test_deploy_role_variants_pass_checkov(tmp_path):
    """The deploy_role blueprint has no example in stacks.toml (the examples are jobs): its golden
    variants are scanned instead."""
    import shutil

    for folder in sorted((REPO / "tests" / "golden" / "out").glob("variant-deploy-roles*")):
        shutil.copytree(folder, tmp_path / folder.name)
    report = _checkov(tmp_path)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] >= 20
    assert [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]] == []
    assert {c["check_id"] for c in report["results"]["passed_checks"]} >= {"CKV_AWS_60", "CKV_AWS_110", "CKV_AWS_111", "CKV_AWS_21"}
