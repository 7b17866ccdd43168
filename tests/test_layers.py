"""The layers, enforced on the import graph (every module parsed with ast, imports inside functions
included): blueprints → generator.aws → (the contract only); the engine finds blueprints by discovery
and never names one; checks never reach into blueprints, review or commands; only __main__ imports
the command line; tests share helpers through tests/support, never through conftest or each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.paths import REPO

# What a blueprint and a building block may use of the engine: the contract, its errors, its options.
CONTRACT_MODULES = {"generator.core.contract", "generator.core.errors", "generator.core.options"}
ENGINE_MODULES = {"generator.core.render", "generator.core.manifest", "generator.core.registry", "generator.core.samconfig"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """Every module path imports, at any depth; `from package import name` counts as package.name
    when that is a module, else as package."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if is_module(candidate) else base)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def violations(folder: str, allowed) -> list[str]:
    return [f"{path.relative_to(REPO)} imports {name}" for path in modules(folder) for name in sorted(imports(path))
            if not allowed(path, name)]


def under(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def test_the_parser_sees_imports_inside_functions_and_relative_ones():
    # (the graph below is only as good as this)
    assert "generator.checks.asl_lint" in imports(REPO / "generator/checks/engine.py")  # imported inside a function
    assert "generator.core.registry" in imports(REPO / "generator/core/manifest.py")  # from generator.core import registry


def test_blueprints_use_only_the_building_blocks_and_the_contract():
    def allowed(path, name):
        return not under(name, "generator", "blueprints") or under(name, "generator.aws") or name in CONTRACT_MODULES
    assert violations("blueprints", allowed) == []


def test_building_blocks_never_reach_up():
    def allowed(path, name):
        return not under(name, "blueprints", "generator.checks", "generator.review", "generator.commands") and name not in ENGINE_MODULES
    assert violations("generator/aws", allowed) == []


def test_checks_never_import_blueprints_review_or_commands():
    assert violations("generator/checks", lambda path, name: not under(name, "blueprints", "generator.review", "generator.commands")) == []


def test_no_module_of_the_generator_names_a_blueprint_module():
    # the registry finds them (importlib, by folder and entry point); none is imported by name
    assert violations("generator", lambda path, name: not under(name, "blueprints")) == []
    blueprint_names = {path.stem for path in (REPO / "blueprints").glob("[!_]*.py")}
    named = [f"{path.relative_to(REPO)}: {node.value!r}" for path in modules("generator")
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and node.value in blueprint_names]
    assert named == []


def test_only_the_entry_point_imports_the_command_line():
    def allowed(path, name):
        return not under(name, "generator.commands") or under(module_name(path), "generator.commands") or path.name == "__main__.py"
    assert violations("generator", allowed) == []
    assert violations("blueprints", allowed) == []


TEST_FILES = sorted(path for path in (REPO / "tests").rglob("*.py") if "golden" not in path.parts)


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda path: str(path.relative_to(REPO / "tests")))
def test_tests_never_import_conftest_or_another_test_module(path):
    test_modules = {p.stem for p in TEST_FILES if p.stem.startswith("test_")} | {"conftest"}
    assert sorted(name for name in imports(path) if name.split(".")[0] in test_modules) == []
