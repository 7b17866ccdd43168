"""Blueprints are found, never registered by hand: a module in the repository's blueprints/ folder, an
installed package's entry point (`ecs_batch_templates.blueprints`), or a module path in stacks.toml.
Two blueprints of one name are an error. (tests/test_plugin_package.py installs a real package.)"""

from __future__ import annotations

import sys
from importlib import metadata

import pytest

import blueprints
from generator.core import registry
from generator.core.errors import BlueprintContractError, UserError
from generator.core.manifest import load_manifest
from generator.core.registry import FOLDER_ORIGIN, registered
from generator.core.render import render_stack
from support.paths import REPO

# A whole blueprint: an encrypted queue (no parameters, so a stack needs only an environment).
QUEUE_BLUEPRINT = '''
from dataclasses import dataclass

from troposphere import Template
from troposphere.sqs import Queue

from generator.core.contract import BlueprintOptions, Rendered
from generator.core.options import option

DESCRIPTION = "An encrypted SQS queue"


@dataclass(frozen=True, kw_only=True)
class Options(BlueprintOptions):
    retention_days: int = option(4, doc="days a message is kept", by_default="4 days")


def build(options, stack):
    template = Template()
    template.add_resource(Queue("Queue", SqsManagedSseEnabled=True, MessageRetentionPeriod=options.retention_days * 86400))
    return Rendered(template, summary="An encrypted queue.")
'''
NOT_A_BLUEPRINT = 'DESCRIPTION = "forgot the rest"\n'


def manifest(tmp_path, blueprint: str) -> str:
    path = tmp_path / "stacks.toml"
    path.write_text(f'[stacks.jobs]\nblueprint = "{blueprint}"\n[stacks.jobs.options]\nretention_days = 2\n'
                    '[stacks.jobs.environments.dev]\nregion = "eu-west-1"\n')
    return path


@pytest.fixture
def fresh_registry(monkeypatch):
    """Discovery from scratch, and modules imported by the test forgotten afterwards."""
    modules = set(sys.modules)
    registry.registered.cache_clear()
    registry._from_module_path.cache_clear()
    yield
    registry.registered.cache_clear()
    registry._from_module_path.cache_clear()
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def test_every_module_of_the_blueprints_folder_is_found():
    found = {name for name, blueprint in registered().items() if blueprint.origin == FOLDER_ORIGIN}
    assert found == {path.stem for path in (REPO / "blueprints").glob("*.py") if not path.name.startswith("_")}
    assert all(blueprint.module.__name__ == f"blueprints.{name}" for name, blueprint in registered().items() if name in found)


def test_a_module_added_to_the_folder_is_found_without_registration(tmp_path, monkeypatch, fresh_registry):
    folder = tmp_path / "more_blueprints"
    folder.mkdir()
    (folder / "queue_demo.py").write_text(QUEUE_BLUEPRINT)
    (folder / "_shared.py").write_text("# a helper module: never a blueprint\n")
    monkeypatch.setattr(blueprints, "__path__", [*blueprints.__path__, str(folder)])
    assert registered()["queue_demo"].origin == FOLDER_ORIGIN and "_shared" not in registered()
    (spec,) = load_manifest(manifest(tmp_path, "queue_demo")).values()
    template = render_stack(spec, manifest_name="stacks.toml").template
    assert template["Resources"]["Queue"]["Properties"]["MessageRetentionPeriod"] == 2 * 86400


def test_a_folder_module_that_misses_the_contract_stops_every_command_naming_it(tmp_path, monkeypatch, fresh_registry, run_cli):
    folder = tmp_path / "more_blueprints"
    folder.mkdir()
    (folder / "half_done.py").write_text(NOT_A_BLUEPRINT)
    monkeypatch.setattr(blueprints, "__path__", [*blueprints.__path__, str(folder)])
    result = run_cli("list", "--manifest", "none.toml", cwd=tmp_path)
    assert result.code == 2 and result.err == (
        "error: blueprint 'half_done' (blueprints/ folder, module blueprints.half_done) does not meet the contract: "
        "Options (a frozen dataclass deriving from BlueprintOptions) is missing; build(options, stack) is missing "
        "(see generator/core/contract.py)\n")


def entry_points(monkeypatch, tmp_path, *pairs: tuple[str, str]):
    """Installed packages' entry points, as importlib.metadata reports them, for modules under tmp_path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    points = metadata.EntryPoints(metadata.EntryPoint(name, value, registry.ENTRY_POINT_GROUP) for name, value in pairs)
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: points.select(group=group))


def test_an_entry_point_registers_a_blueprint_by_its_name(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "acme_queue.py").write_text(QUEUE_BLUEPRINT)
    entry_points(monkeypatch, tmp_path, ("team_queue", "acme_queue"))
    assert registered()["team_queue"].module.__name__ == "acme_queue"
    (spec,) = load_manifest(manifest(tmp_path, "team_queue")).values()
    assert spec.implementation.origin == "entry point"


@pytest.mark.parametrize("pairs, message", [
    ([("scheduled_task", "acme_queue")],
     "two blueprints are named 'scheduled_task': blueprints.scheduled_task (blueprints/ folder) and acme_queue (entry point); rename one"),
    ([("team_queue", "acme_queue"), ("team_queue", "acme_other")],
     "two blueprints are named 'team_queue': acme_other (entry point) and acme_queue (entry point); rename one"),
    ([("Team-Queue", "acme_queue")],
     "blueprint entry point 'Team-Queue' (entry point): a name must be lowercase letters, digits and _, starting with a letter"),
    ([("team_queue", "acme_missing")],
     "blueprint 'team_queue' (entry point): cannot import acme_missing: ModuleNotFoundError: No module named 'acme_missing'"),
    ([("team_queue", "acme_queue:build")], "blueprint 'team_queue' (entry point): acme_queue:build must name a module, not an object in one"),
])
def test_name_clashes_and_broken_entry_points_are_errors(tmp_path, monkeypatch, fresh_registry, pairs, message):
    (tmp_path / "acme_queue.py").write_text(QUEUE_BLUEPRINT)
    (tmp_path / "acme_other.py").write_text(QUEUE_BLUEPRINT)
    entry_points(monkeypatch, tmp_path, *pairs)
    with pytest.raises(BlueprintContractError) as raised:
        registered()
    assert str(raised.value) == message


def test_a_module_path_in_the_manifest_is_a_blueprint(tmp_path, monkeypatch, fresh_registry):
    package = tmp_path / "team_blueprints"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "queue.py").write_text(QUEUE_BLUEPRINT)
    monkeypatch.syspath_prepend(str(tmp_path))
    (spec,) = load_manifest(manifest(tmp_path, "team_blueprints.queue")).values()
    assert (spec.blueprint, spec.implementation.origin) == ("team_blueprints.queue", "module path in stacks.toml")
    assert "Generated by" in render_stack(spec, manifest_name="stacks.toml").files["jobs/template.yaml"]


@pytest.mark.parametrize("source, message", [
    (None, "stack jobs: blueprint: cannot import blueprint module 'team_blueprints.queue' (ModuleNotFoundError: No module named "
           "'team_blueprints'); allowed: a blueprint name (python -m generator list) or an importable module path such as package.module"),
    (NOT_A_BLUEPRINT, "stack jobs: blueprint 'team_blueprints.queue' (module path in stacks.toml, module team_blueprints.queue) does not "
                      "meet the contract: Options (a frozen dataclass deriving from BlueprintOptions) is missing; build(options, stack) "
                      "is missing (see generator/core/contract.py)"),
])
def test_a_module_path_that_is_no_blueprint_is_one_error_naming_the_stack(tmp_path, monkeypatch, fresh_registry, source, message):
    if source is not None:
        (tmp_path / "team_blueprints").mkdir()
        (tmp_path / "team_blueprints" / "__init__.py").write_text("")
        (tmp_path / "team_blueprints" / "queue.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError) as raised:
        load_manifest(manifest(tmp_path, "team_blueprints.queue"))
    assert str(raised.value) == message


def test_an_unknown_name_lists_what_is_allowed(tmp_path):
    with pytest.raises(UserError) as raised:
        load_manifest(manifest(tmp_path, "queue"))
    assert str(raised.value) == (
        f"stack jobs: blueprint: unknown blueprint 'queue'; allowed: {', '.join(registered())}, or a module path (package.module)")
