"""Writing the output set: all or nothing, and what a removed stack or environment leaves is removed."""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import types
from pathlib import Path

import pytest

from generator.core import render
from generator.core.errors import UserError
from generator.core.manifest import load_manifest
from support.paths import snapshot


def without_tables(text: str, *prefixes: str) -> str:
    """The manifest without the tables whose header starts with one of prefixes (a stack, an environment)."""
    blocks = re.split(r"(?m)^(?=\[)", text)
    return "".join(b for b in blocks if not any(b.startswith(prefix) for prefix in prefixes))


def with_copy_of_stack(text: str, stack: str, copy: str) -> str:
    """The manifest plus a second stack made from `stack`'s tables, under the name `copy`."""
    blocks = re.split(r"(?m)^(?=\[)", text)
    tables = [b for b in blocks if b.startswith((f"[stacks.{stack}]", f"[stacks.{stack}."))]
    return text.rstrip("\n") + "\n\n" + "".join(t.replace(f"[stacks.{stack}", f"[stacks.{copy}", 1) for t in tables)


def folders(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def current_plan(project: Path, only=None) -> render.RenderPlan:
    return render.plan(load_manifest(project / "stacks.toml"), only=only, manifest_path=project / "stacks.toml",
                       out_dir=project / "templates_out", samconfig_path=project / "samconfig.toml")


@pytest.fixture
def rendered(project, run_cli):
    result = run_cli("render", cwd=project)
    assert result.code == 0, result.err
    return project


@pytest.fixture
def changed_manifest(rendered):
    """A manifest whose render changes existing files, adds a stack folder and changes samconfig.toml."""
    manifest = rendered / "stacks.toml"
    text = manifest.read_text()
    assert 'schedule = "cron(20 2 * * ? *)"' in text
    text = with_copy_of_stack(text.replace('schedule = "cron(20 2 * * ? *)"', 'schedule = "cron(25 2 * * ? *)"'),
                              "artisan-logger", "zz-artisan-copy")
    manifest.write_text(text)
    changed = [p for p, t in current_plan(rendered).files.items() if not p.exists() or p.read_text() != t]
    assert len(changed) >= 4 and rendered / "samconfig.toml" in changed
    assert not (rendered / "templates_out/zz-artisan-copy").exists()
    return rendered


# --- a failure while writing changes nothing --------------------------------------------------


def failing_mkstemp(fail_when):
    """tempfile.mkstemp whose temp file cannot be written (as on a full disk) when fail_when(call, prefix)."""
    calls = []

    def mkstemp(*args, prefix="", **kwargs):
        fd, name = tempfile.mkstemp(*args, prefix=prefix, **kwargs)
        calls.append(name)
        if fail_when(len(calls), prefix):
            os.close(fd)
            fd = os.open(name, os.O_RDONLY)  # the temp file exists, writing to it fails
        return fd, name

    return types.SimpleNamespace(mkstemp=mkstemp, calls=calls)


@pytest.mark.parametrize("fail_when", [
    pytest.param(lambda call, prefix: call == 1, id="first temp file"),
    pytest.param(lambda call, prefix: call == 3, id="third temp file"),
    pytest.param(lambda call, prefix: prefix.startswith(".samconfig.toml."), id="samconfig temp file"),
])
def test_a_failed_temp_write_leaves_the_previous_output_untouched(changed_manifest, run_cli, monkeypatch, fail_when):
    project = changed_manifest
    before, dirs_before = snapshot(project), folders(project)
    fake = failing_mkstemp(fail_when)
    monkeypatch.setattr(render, "tempfile", fake)
    result = run_cli("render", cwd=project)
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    failed = re.fullmatch(r"error: (\S+): cannot write \(Bad file descriptor\); nothing was changed\n", result.err)
    assert failed, result.err
    assert Path(fake.calls[-1]).name.startswith(f".{Path(failed.group(1)).name}.")  # the path named is the one that failed
    assert snapshot(project) == before
    assert folders(project) == dirs_before  # the new stack's folder was taken away again
    assert temp_files(project) == []


def test_a_target_that_is_a_folder_fails_in_one_line_and_changes_nothing(changed_manifest, run_cli):
    project = changed_manifest
    # the README of the last stack already rendered (written after artisan-logger's changes) is now a folder
    last = [name for name in load_manifest(project / "stacks.toml") if name != "zz-artisan-copy"][-1]
    readme = project / "templates_out" / last / "README.md"
    readme.unlink()
    readme.mkdir()
    (readme / "kept.txt").write_text("mine")
    before = snapshot(project)
    result = run_cli("render", cwd=project)
    assert result.code == 2
    assert result.err == f"error: templates_out/{last}/README.md: cannot write (Is a directory); nothing was changed\n"
    assert snapshot(project) == before
    assert not (project / "templates_out/zz-artisan-copy").exists()
    assert temp_files(project) == []


def test_a_failed_rename_names_the_file_and_leaves_no_temp_files(changed_manifest, monkeypatch):
    project = changed_manifest
    render_plan = current_plan(project)
    samconfig_before = (project / "samconfig.toml").read_bytes()
    real_replace, replaced = os.replace, []

    def replace(src, dst):
        if len(replaced) == 2:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)
        replaced.append(dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(UserError) as error:
        render.write(render_plan)
    monkeypatch.undo()
    assert re.fullmatch(r"\S+: cannot replace \(Invalid cross-device link\) after 2 other file\(s\) were; fix this and render again",
                        str(error.value))
    assert temp_files(project) == []
    assert (project / "samconfig.toml").read_bytes() == samconfig_before  # replaced last, so not yet


def test_a_successful_render_leaves_no_temp_files_and_keeps_file_modes(changed_manifest, run_cli):
    project = changed_manifest
    template = project / "templates_out/artisan-logger/template.yaml"
    template.chmod(0o600)
    assert run_cli("render", cwd=project).code == 0
    assert temp_files(project) == []
    assert "cron(25 2 * * ? *)" in template.read_text() and template.stat().st_mode & 0o777 == 0o600
    assert (project / "templates_out/zz-artisan-copy/template.yaml").stat().st_mode & 0o777 == 0o644
    assert render.diff(current_plan(project)) == ""


# --- stacks and environments removed from the manifest -----------------------------------------

FOREIGN = "\n# my own deploy defaults\n[default.deploy.parameters]\nresolve_s3 = true  # keep\n"


def test_a_removed_stack_fails_check_and_render_removes_its_folder_and_sections(rendered, run_cli):
    samconfig = rendered / "samconfig.toml"
    samconfig.write_text(samconfig.read_text() + FOREIGN)
    manifest = rendered / "stacks.toml"
    manifest.write_text(without_tables(manifest.read_text(), "[stacks.artisan-logger]", "[stacks.artisan-logger."))

    check = run_cli("check", cwd=rendered)
    assert check.code == 1
    assert ("stale (left from stacks or environments no longer in stacks.toml: templates_out/artisan-logger/, "
            "[artisan-logger-dev.deploy.parameters], [artisan-logger-prod.deploy.parameters])") in check.err
    assert "--- templates_out/artisan-logger/template.yaml (on disk)\n+++ /dev/null\n@@ stale: stack artisan-logger is not in the manifest @@\n" in check.out
    assert "-[artisan-logger-dev.deploy.parameters]" in check.out
    assert "stale: stack artisan-logger" in run_cli("diff", cwd=rendered).out

    result = run_cli("render", cwd=rendered)
    assert result.code == 0, result.err
    assert "artisan-logger: removed templates_out/artisan-logger (no longer in stacks.toml)" in result.out
    assert "samconfig.toml: updated (removed artisan-logger-dev, artisan-logger-prod)" in result.out
    assert not (rendered / "templates_out/artisan-logger").exists()
    text = samconfig.read_text()
    assert "artisan-logger" not in text and text.endswith(FOREIGN)
    assert "[nightly-report-dev.deploy.parameters]" in text
    assert render.diff(current_plan(rendered)) == ""
    before = snapshot(rendered)
    assert "samconfig.toml: updated" not in run_cli("render", cwd=rendered).out
    assert snapshot(rendered) == before


def test_a_removed_environment_fails_check_and_render_drops_its_section(rendered, run_cli):
    manifest = rendered / "stacks.toml"
    manifest.write_text(without_tables(manifest.read_text(), "[stacks.nightly-report.environments.prod"))
    check = run_cli("check", cwd=rendered)
    assert check.code == 1 and "[nightly-report-prod.deploy.parameters])" in check.err
    assert run_cli("render", cwd=rendered).code == 0
    text = (rendered / "samconfig.toml").read_text()
    assert "nightly-report-prod" not in text and "[nightly-report-dev.deploy.parameters]" in text
    assert (rendered / "templates_out/nightly-report/template.yaml").exists()
    assert render.diff(current_plan(rendered)) == ""


def test_folders_without_a_generated_template_of_their_own_are_left_alone(rendered, run_cli):
    out = rendered / "templates_out"
    (out / "notes").mkdir()
    (out / "notes/README.md").write_text("not a stack\n")
    (out / "handmade").mkdir()
    (out / "handmade/template.yaml").write_text("# written by hand\nResources: {}\n")
    shutil.copytree(out / "nightly-report", out / "copy-of-nightly-report")  # its header names another stack
    (out / "loose-file.yaml").write_text("x: 1\n")
    render_plan = current_plan(rendered)
    assert render_plan.stale_stacks == () and render.diff(render_plan) == ""
    before = snapshot(rendered)
    result = run_cli("render", cwd=rendered)
    assert result.code == 0 and "removed" not in result.out
    assert snapshot(rendered) == before


def test_a_render_of_named_stacks_removes_nothing_of_the_others(rendered, run_cli):
    manifest = rendered / "stacks.toml"
    manifest.write_text(without_tables(manifest.read_text(), "[stacks.artisan-logger]", "[stacks.artisan-logger.",
                                       "[stacks.nightly-report.environments.prod"))
    assert run_cli("render", "csv-ingest", cwd=rendered).code == 0
    text = (rendered / "samconfig.toml").read_text()
    assert (rendered / "templates_out/artisan-logger/template.yaml").exists()
    assert "[artisan-logger-dev.deploy.parameters]" in text and "[nightly-report-prod.deploy.parameters]" in text
    # a named stack's own removed environment is its own leftover, like its leftover files
    assert run_cli("render", "nightly-report", cwd=rendered).code == 0
    text = (rendered / "samconfig.toml").read_text()
    assert "nightly-report-prod" not in text and "[artisan-logger-dev.deploy.parameters]" in text
    assert (rendered / "templates_out/artisan-logger/template.yaml").exists()


def test_sections_of_another_output_folder_sharing_the_samconfig_are_kept(rendered, run_cli):
    manifest = (rendered / "stacks.toml").read_text()
    other = with_copy_of_stack(manifest, "artisan-logger", "other-job")
    (rendered / "other.toml").write_text(without_tables(other, *(f"[stacks.{name}" for name in load_manifest(rendered / "stacks.toml"))))
    assert run_cli("render", "--manifest", "other.toml", "--out", "other_out", cwd=rendered).code == 0
    assert 'template_file = "other_out/other-job/template.yaml"' in (rendered / "samconfig.toml").read_text()
    # other-job is not in stacks.toml, but its sections deploy from other_out, not from templates_out
    render_plan = current_plan(rendered)
    assert render_plan.stale_config_envs == () and render.diff(render_plan) == ""
    before = snapshot(rendered)
    assert run_cli("render", cwd=rendered).code == 0
    assert snapshot(rendered) == before
