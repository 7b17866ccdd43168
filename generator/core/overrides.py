"""Hand overrides: `[stacks.<name>.overrides]`, the escape hatch for what a blueprint does not expose.

Each key is a path into the rendered template, its parts separated by `/` as in a JSON Pointer
(RFC 6901, without the leading `/`; `~1` stands for a `/` inside a part and `~0` for `~`), e.g.
"Resources/ScheduleRule/Properties/State". Its value replaces what is there, or is added when the
last part is new; list items are addressed by index (`Targets/0`), and `-` as the last part appends.
The value `{ delete = true }` deletes what the path names. Overrides are applied in the order
written, after the blueprint has built the template and before anything reads it (samconfig
parameters, README, lint), so an override is linted like everything else. A path whose parent does
not exist, or a deletion of something that does not exist, is an error with the nearest existing
name ("did you mean").
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass

from generator.core.errors import UserError
from generator.core.options import did_you_mean

DELETE_MARKER = {"delete": True}
SECTIONS = ("AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions",
            "Resources", "Outputs", "Globals")
APPEND = "-"


@dataclass(frozen=True)
class Override:
    path: str                 # as written in stacks.toml
    parts: tuple[str, ...]    # unescaped path parts
    value: object = None      # the new value (plain JSON data); unused when deleting
    delete: bool = False

    def describe(self) -> str:
        """One line for the README and `diff`: `path` = value, or `path` deleted."""
        if self.delete:
            return f"`{self.path}` deleted"
        return f"`{self.path}` = `{json.dumps(self.value, ensure_ascii=False, sort_keys=False)}`"

    def as_metadata(self) -> dict:
        return {"Path": self.path, "Delete": True} if self.delete else {"Path": self.path, "Value": self.value}


def _plain(value, field: str):
    """The TOML value as JSON data; TOML dates and times have no place in a template."""
    if isinstance(value, dict):
        return {k: _plain(v, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):  # TOML's nan and inf: JSON (and CloudFormation) has no such number
        raise UserError(f"{value!r} is not a number a template can hold; allowed: a finite number, or a string", field=field)
    if isinstance(value, (str, int, float, bool)):
        return value
    raise UserError(f"{value!r} is a TOML {type(value).__name__}, which a template cannot hold; write it as a string", field=field)


def parse_path(path: str, *, field: str) -> tuple[str, ...]:
    if not isinstance(path, str) or not path or path.startswith("/") or path.endswith("/") or "//" in path:
        raise UserError(f"{path!r} is not a template path; allowed: parts separated by /, like Resources/<LogicalId>/Properties/<Name>",
                        field=field)
    parts = tuple(part.replace("~1", "/").replace("~0", "~") for part in path.split("/"))
    if parts[0] not in SECTIONS:
        raise UserError(f"{parts[0]!r} is not a template section{did_you_mean(parts[0], SECTIONS)}; a path starts with one of "
                        f"{', '.join(SECTIONS)}", field=field)
    if len(parts) < 2:
        raise UserError(f"{path!r} names a whole template section; override something inside it, like "
                        f"{parts[0]}/<name>/... (in TOML, quote the path: \"{parts[0]}/<name>\" = ...)", field=field)
    return parts


def parse_overrides(table, *, field: str = "overrides") -> tuple[Override, ...]:
    """`[stacks.<name>.overrides]` → Overrides, in the order written."""
    if not isinstance(table, dict):
        raise UserError("expected a table of \"path\" = value", field=field)
    overrides = []
    for path, value in table.items():
        where = f"{field}.{path}"
        parts = parse_path(path, field=where)
        if isinstance(value, dict) and "delete" in value:
            if value != DELETE_MARKER:
                raise UserError(f"{value!r}: to delete, write {{ delete = true }} alone (a value with a delete key is not supported)",
                                field=where)
            overrides.append(Override(path, parts, delete=True))
        else:
            overrides.append(Override(path, parts, _plain(value, where)))
    return tuple(overrides)


def _step(node, part: str, *, path: str, done: tuple[str, ...], field: str):
    """The child of `node` named `part`, or a UserError saying where the path leaves the template."""
    where = "/".join(done) or "the template"
    if isinstance(node, dict):
        if part in node:
            return node[part]
        raise UserError(f"{path!r} points at nothing: {where} has no {part!r}{did_you_mean(part, [str(k) for k in node])}"
                        + (f"; it has {', '.join(map(str, list(node)[:12]))}" if node else "; it is empty"), field=field)
    if isinstance(node, list):
        index = _index(node, part, path=path, where=where, field=field)
        return node[index]
    raise UserError(f"{path!r} points at nothing: {where} is a value ({json.dumps(node)[:60]}), not a table or list", field=field)


def _index(items: list, part: str, *, path: str, where: str, field: str) -> int:
    if not (part.isascii() and part.isdigit()) or int(part) >= len(items):  # str.isdigit() also accepts "²", which int() refuses
        raise UserError(f"{path!r} points at nothing: {where} is a list of {len(items)} item(s), so {part!r} is not one of its "
                        f"indexes (0 to {len(items) - 1})", field=field)
    return int(part)


def apply_overrides(template: dict, overrides: tuple[Override, ...], *, field: str = "overrides") -> dict:
    """A copy of `template` with the overrides applied in order."""
    result = copy.deepcopy(template)
    for override in overrides:
        where = f"{field}.{override.path}"
        *parents, last = override.parts
        node = result
        for depth, part in enumerate(parents):
            node = _step(node, part, path=override.path, done=override.parts[:depth], field=where)
        parent_path = "/".join(parents)
        if isinstance(node, dict):
            if override.delete:
                _step(node, last, path=override.path, done=tuple(parents), field=where)  # must exist
                del node[last]
            else:
                node[last] = copy.deepcopy(override.value)
        elif isinstance(node, list):
            if last == APPEND and not override.delete:
                node.append(copy.deepcopy(override.value))
                continue
            index = _index(node, last, path=override.path, where=parent_path, field=where)
            if override.delete:
                del node[index]
            else:
                node[index] = copy.deepcopy(override.value)
        else:
            raise UserError(f"{override.path!r} points at nothing: {parent_path} is a value, not a table or list", field=where)
    return result
