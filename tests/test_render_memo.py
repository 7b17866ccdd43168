"""The render memo: `check` and `render` build only the stacks whose inputs changed, and never take
a file on disk as up to date unless it has exactly what a render writes."""

from __future__ import annotations

import json
import shutil

import pytest

from generator.core import render, render_memo


@pytest.fixture
def built(monkeypatch) -> list[str]:
    """The stacks actually built (render_stack calls), in order."""
    names: list[str] = []
    real = render.render_stack

    def counting(spec, **arguments):
        names.append(spec.name)
        return real(spec, **arguments)

    monkeypatch.setattr(render, "render_stack", counting)
    return names


@pytest.fixture
def rendered(project, run_cli, monkeypatch):
    monkeypatch.setenv("ECS_BATCH_TEMPLATES_CACHE_DIR", str(project / "cache"))
    assert run_cli("render", cwd=project).code == 0
    return project


def stack_names(project) -> list[str]:
    return sorted(path.name for path in (project / "templates_out").iterdir() if path.is_dir())


def test_check_and_render_of_an_unchanged_manifest_build_nothing(rendered, run_cli, built):
    assert run_cli("check", cwd=rendered).code == 0
    assert run_cli("render", cwd=rendered).code == 0
    assert built == []
    assert list((rendered / "cache" / "render").glob("render-*.json"))


def test_a_changed_stack_is_the_only_one_built(rendered, run_cli, built):
    manifest = rendered / "stacks.toml"
    text = manifest.read_text()
    assert 'schedule = "cron(20 2 * * ? *)"' in text
    manifest.write_text(text.replace('schedule = "cron(20 2 * * ? *)"', 'schedule = "cron(25 2 * * ? *)"'))
    result = run_cli("check", cwd=rendered)
    assert result.code == 1 and "cron(25 2 * * ? *)" in result.out  # stale, with the diff
    assert built == ["artisan-logger"]  # the others are remembered, and their files match
    built.clear()
    assert run_cli("render", cwd=rendered).code == 0
    assert built == ["artisan-logger"]
    built.clear()
    assert run_cli("check", cwd=rendered).code == 0
    assert built == []


def test_a_hand_edit_of_a_remembered_file_is_stale(rendered, run_cli, built):
    template = rendered / "templates_out" / "batch-base" / "template.yaml"
    template.write_text(template.read_text().replace("RetentionInDays: 30", "RetentionInDays: 31"))
    result = run_cli("check", cwd=rendered)
    assert result.code == 1 and "-      RetentionInDays: 31" in result.out
    assert built == ["batch-base"]  # only to show the diff
    assert run_cli("render", cwd=rendered).code == 0
    assert "RetentionInDays: 30" in template.read_text()
    (rendered / "templates_out" / "batch-base" / "README.md").unlink()
    assert run_cli("check", cwd=rendered).code == 1
    assert run_cli("render", cwd=rendered).code == 0 and (rendered / "templates_out" / "batch-base" / "README.md").is_file()


def test_a_hand_edit_of_samconfig_is_stale(rendered, run_cli):
    samconfig = rendered / "samconfig.toml"
    text = samconfig.read_text()
    assert 'confirm_changeset = false' in text
    samconfig.write_text(text.replace("confirm_changeset = false", "confirm_changeset = true", 1))
    result = run_cli("check", cwd=rendered)
    assert result.code == 1 and "--- samconfig.toml (on disk)" in result.out and "+confirm_changeset = false" in result.out
    assert run_cli("render", cwd=rendered).code == 0 and samconfig.read_text() == text


def test_new_code_builds_every_stack_again(rendered, run_cli, built, monkeypatch):
    monkeypatch.setattr(render_memo, "code_fingerprint", lambda: "0" * 64)
    assert run_cli("check", cwd=rendered).code == 0
    assert sorted(built) == stack_names(rendered)


def test_the_code_fingerprint_covers_blueprints_generator_files_and_library_versions(monkeypatch, tmp_path):
    from generator.core.registry import registered

    render_memo.code_fingerprint.cache_clear()
    before = render_memo.code_fingerprint()
    read = []
    real_read_bytes = type(tmp_path).read_bytes

    def recording(path):
        read.append(path.name)
        return real_read_bytes(path)

    monkeypatch.setattr(type(tmp_path), "read_bytes", recording)
    render_memo.code_fingerprint.cache_clear()
    assert render_memo.code_fingerprint() == before  # deterministic
    for blueprint in registered().values():
        assert blueprint.module.__file__.rsplit("/", 1)[1] in read
    assert {"render.py", "yaml_emitter.py", "stack_readme.md.j2", "app.py"} <= set(read)
    monkeypatch.undo()
    monkeypatch.setattr(render_memo.metadata, "version", lambda name: "0.0" if name == "troposphere" else "1")
    render_memo.code_fingerprint.cache_clear()
    assert render_memo.code_fingerprint() != before
    monkeypatch.undo()
    render_memo.code_fingerprint.cache_clear()


def test_no_cache_builds_everything_and_a_broken_memo_is_an_empty_one(rendered, run_cli, built):
    assert run_cli("check", "--no-cache", cwd=rendered).code == 0
    assert sorted(built) == stack_names(rendered)
    built.clear()
    (memo_file,) = (rendered / "cache" / "render").glob("render-*.json")
    memo_file.write_text("{not json")
    assert run_cli("check", cwd=rendered).code == 0
    assert sorted(built) == stack_names(rendered)
    assert json.loads(memo_file.read_text())["fingerprint"] == render_memo.code_fingerprint()  # written again


def test_the_memo_keeps_one_entry_per_stack_name(rendered, run_cli):
    manifest = rendered / "stacks.toml"
    text = manifest.read_text()
    for minute in (21, 22, 23):
        manifest.write_text(text.replace('schedule = "cron(20 2 * * ? *)"', f'schedule = "cron({minute} 2 * * ? *)"'))
        assert run_cli("render", cwd=rendered).code == 0
    (memo_file,) = (rendered / "cache" / "render").glob("render-*.json")
    assert sorted(json.loads(memo_file.read_text())["stacks"]) == stack_names(rendered)


@pytest.fixture
def golden_project(tmp_path, run_cli, monkeypatch):
    """The golden manifest (every blueprint, deploy roles, hand overrides) rendered with the memo."""
    from support.paths import REPO

    shutil.copy(REPO / "tests" / "golden" / "stacks.toml", tmp_path / "stacks.toml")
    monkeypatch.setenv("ECS_BATCH_TEMPLATES_CACHE_DIR", str(tmp_path / "cache"))
    assert run_cli("render", cwd=tmp_path).code == 0
    return tmp_path


def readers_of_the_manifest(project) -> set[str]:
    (memo_file,) = (project / "cache" / "render").glob("render-*.json")
    return {name for name, entry in json.loads(memo_file.read_text())["stacks"].items() if entry["manifest"] is not None}


def test_a_stack_built_from_the_other_stacks_is_built_again_when_they_change(golden_project, run_cli, built):
    readers = readers_of_the_manifest(golden_project)
    assert {"variant-deploy-roles", "variant-deploy-roles-us", "variant-deploy-roles-test"} <= readers  # deploy_role grants the others
    assert "batch-base" not in readers
    manifest = golden_project / "stacks.toml"
    text = manifest.read_text()
    assert "[stacks.batch-base.options]\n" in text
    manifest.write_text(text.replace("[stacks.batch-base.options]\n", "[stacks.batch-base.options]\nlog_retention_days = 90\n", 1))
    assert run_cli("render", cwd=golden_project).code == 0
    assert set(built) == {"batch-base"} | readers


def test_a_changed_hand_override_builds_that_stack_only(golden_project, run_cli, built):
    manifest = golden_project / "stacks.toml"
    text = manifest.read_text()
    old = '"Resources/Schedule/Properties/Target/RetryPolicy/MaximumRetryAttempts" = 10'
    assert old in text
    manifest.write_text(text.replace(old, old.replace("= 10", "= 11")))
    assert run_cli("render", cwd=golden_project).code == 0
    assert built == ["variant-scheduler-spot"]
    assert "MaximumRetryAttempts: 11" in (golden_project / "templates_out" / "variant-scheduler-spot" / "template.yaml").read_text()
