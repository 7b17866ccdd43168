"""Which blueprints exist: found, never listed by hand, and each checked against the contract
(generator.core.contract) when it loads.

1. Every module of the repository's `blueprints/` package (a name starting with `_` is a helper and
   skipped), named after its module.
2. Every module an installed package registers under the entry-point group
   `ecs_batch_templates.blueprints`, named after its entry point (Sceptre's way with plugins):
       [project.entry-points."ecs_batch_templates.blueprints"]
       order_task = "acme_blueprints.order_task"
3. A module path written in stacks.toml, `blueprint = "package.module"` (stacker's class_path),
   imported when a stack names it, named by that path.
Two blueprints of one name (ours and a plugin's, or two plugins') are an error, never a silent choice.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from importlib import metadata
from types import ModuleType

from generator.core.contract import Blueprint, check_blueprint
from generator.core.errors import BlueprintContractError, UserError
from generator.core.options import did_you_mean

ENTRY_POINT_GROUP = "ecs_batch_templates.blueprints"
FOLDER_PACKAGE = "blueprints"
FOLDER_ORIGIN = "blueprints/ folder"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MODULE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


@functools.cache
def registered() -> dict[str, Blueprint]:
    """Name → blueprint, for the blueprints/ folder and the entry points, sorted by name."""
    found: dict[str, Blueprint] = {}

    def add(blueprint: Blueprint) -> None:
        other = found.get(blueprint.name)
        if other is not None and other.module is not blueprint.module:
            raise BlueprintContractError(f"two blueprints are named {blueprint.name!r}: {other.module.__name__} ({other.origin}) "
                                         f"and {blueprint.module.__name__} ({blueprint.origin}); rename one")
        found[blueprint.name] = blueprint

    package = importlib.import_module(FOLDER_PACKAGE)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"{FOLDER_PACKAGE}.{info.name}")
        add(check_blueprint(info.name, module, origin=FOLDER_ORIGIN))
    # The same distribution can be seen twice (e.g. on sys.path twice): one entry per name and module.
    entry_points = {(ep.name, ep.value): ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for (name, value), entry_point in sorted(entry_points.items()):
        dist = getattr(entry_point, "dist", None)
        origin = f"entry point of {dist.name} {dist.version}" if dist is not None else "entry point"
        if not NAME.match(name):
            raise BlueprintContractError(f"blueprint entry point {name!r} ({origin}): a name must be lowercase letters, digits and _, "
                                         "starting with a letter")
        try:
            module = entry_point.load()
        except Exception as error:  # noqa: BLE001  a plugin that cannot be imported: say which, in one line
            raise BlueprintContractError(f"blueprint {name!r} ({origin}): cannot import {value}: {_one_line(error)}") from error
        if not isinstance(module, ModuleType):
            raise BlueprintContractError(f"blueprint {name!r} ({origin}): {value} must name a module, not an object in one")
        add(check_blueprint(name, module, origin=origin))
    return dict(sorted(found.items()))


@functools.cache
def _from_module_path(path: str) -> Blueprint:
    try:
        module = importlib.import_module(path)
    except Exception as error:  # noqa: BLE001
        raise UserError(f"cannot import blueprint module {path!r} ({_one_line(error)}); allowed: a blueprint name "
                        "(python -m generator list) or an importable module path such as package.module", field="blueprint") from error
    return check_blueprint(path, module, origin="module path in stacks.toml")


def find(name: object) -> Blueprint:
    """The blueprint a stack names: a registered name, or a module path (package.module)."""
    if isinstance(name, str) and MODULE_PATH.match(name):
        return _from_module_path(name)
    blueprints = registered()
    if name not in blueprints:
        raise UserError(
            f"unknown blueprint {name!r}{did_you_mean(str(name), blueprints)}; allowed: {', '.join(blueprints)}, "
            "or a module path (package.module)",
            field="blueprint",
        )
    return blueprints[name]
