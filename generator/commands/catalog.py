"""What a blueprint takes, from the blueprint itself: `list BLUEPRINT` prints it, `new STACK --blueprint
NAME` appends a stanza with every required value to fill in.

The options and their documentation come from the Options dataclass (generator.core.options.option),
the CloudFormation parameters from the template the blueprint builds with its required options'
examples and every other option at its default, and the environments' keys from the manifest's own
table (generator.core.manifest.ENVIRONMENT_KEYS): one source each, so this cannot drift from them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
import tomllib
from pathlib import Path

from generator.aws.parameters import allowed_text
from generator.core.contract import Blueprint, StackContext
from generator.core.errors import UserError
from generator.core.manifest import ENVIRONMENT_KEYS, ENVIRONMENT_NAME, PLACEHOLDER_START, STACK_NAME
from generator.core.options import OptionDoc, build_dataclass, example_table, option_docs
from generator.emit.encode import template_data

PARAMETERS_NOTE = "Options may add or replace parameters; `render` names every one still missing, all at once."
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value) -> str:
    """A value as TOML writes it inline (a JSON string is a valid TOML basic string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(key)} = {toml_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_key(key: str) -> str:
    return key if BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def example_parameters(blueprint: Blueprint) -> dict[str, dict] | None:
    """The CloudFormation Parameters of the template the blueprint builds with its required options'
    examples and every other option at its default, alone in a manifest; None for a blueprint that
    cannot be built without other stacks (deploy_role covers the manifest's other stacks)."""
    options = build_dataclass(blueprint.options_type, example_table(blueprint.options_type))
    try:
        rendered = blueprint.build(options, StackContext("example", blueprint.name, "", ("dev",)))
    except UserError:
        return None
    return template_data(rendered.template).get("Parameters", {})


NEEDS_OTHER_STACKS = "(they depend on the manifest's other stacks: `render` names every missing one, all at once)"


def _required_first(docs: list[OptionDoc]) -> list[OptionDoc]:
    return [doc for doc in docs if doc.required] + [doc for doc in docs if not doc.required]


def _option_line(doc: OptionDoc) -> str:
    kind = f"{doc.type_name}, required" if doc.required else doc.type_name
    text = f"{doc.name} ({kind}): {doc.doc}"
    if doc.required and doc.example is not dataclasses.MISSING:
        return f"{text}; e.g. {toml_value(doc.example)}"
    return text if doc.required else f"{text}; default: {doc.by_default}"


def _parameter_kind(parameter: dict) -> str:
    if "Default" in parameter:
        return f"{parameter['Type']}, default {json.dumps(parameter['Default'])}"
    return f"{parameter['Type']}, required"


def reference(blueprint: Blueprint) -> str:
    """`python -m generator list BLUEPRINT`: every option, every parameter, the environments' keys."""
    lines = [f"{blueprint.name}: {blueprint.description}", f"(from the {blueprint.origin}, module {blueprint.module.__name__})", "",
             "Options ([stacks.<name>.options]):"]
    for doc in _required_first(option_docs(blueprint.options_type)):
        lines.append(f"  {_option_line(doc)}")
        lines += [f"    {_option_line(nested)}" for nested in doc.table]
    lines += ["", "CloudFormation parameters ([stacks.<name>.environments.<env>.parameters]), with the options above at their defaults:"]
    parameters = example_parameters(blueprint)
    if parameters is None:
        lines.append(f"  {NEEDS_OTHER_STACKS}")
    else:
        lines += [f"  {name} ({_parameter_kind(parameter)}): {parameter.get('Description', '')}".rstrip(": ")
                  for name, parameter in parameters.items()] or ["  (none)"]
        lines.append(f"  {PARAMETERS_NOTE}")
    lines += ["", "Environments ([stacks.<name>.environments.<env>], one table per environment, e.g. dev and prod):"]
    lines += [f"  {key} ({kind}): {text}" for key, (kind, text) in ENVIRONMENT_KEYS.items()]
    return "\n".join(lines) + "\n"


# --- new STACK --blueprint NAME ------------------------------------------------------------------

def placeholder(what: str) -> str:
    """A value that reads as an instruction and fails the render until replaced."""
    return f"{PLACEHOLDER_START}: {what}>"


def stanza(stack: str, blueprint: Blueprint, environments: list[str]) -> str:
    """The TOML text of a new stack: every required option and parameter with a placeholder, the
    optional ones as comments saying what leaving them out does."""
    docs = _required_first(option_docs(blueprint.options_type))
    parameters = example_parameters(blueprint)
    out = ["", f"# New {blueprint.name} stack (python -m generator new): replace every \"{PLACEHOLDER_START}: …>\", then render.",
           f"# python -m generator list {blueprint.name} describes each option and parameter.",
           f"[stacks.{stack}]", f"blueprint = {toml_value(blueprint.name)}",
           f"description = {toml_value(placeholder('one line on what this job does'))}", "", f"[stacks.{stack}.options]"]
    for doc in docs:
        if doc.required:
            example = f", e.g. {toml_value(doc.example)}" if doc.example is not dataclasses.MISSING else ""
            out.append(f"# {doc.doc} ({doc.type_name}, required)")
            out.append(f"{doc.name} = {toml_value(placeholder(f'{doc.type_name}{example}'))}")
    optional = [doc for doc in docs if not doc.required]
    if optional:
        out.append("# Optional (each commented line says what leaving it out does):")
        out += [f"# {doc.name} ({doc.type_name}): {doc.doc}; default: {doc.by_default}" for doc in optional]
    for env in environments:
        out += ["", f"[stacks.{stack}.environments.{env}]"]
        out += [f"# {key} ({kind}): {text}" for key, (kind, text) in ENVIRONMENT_KEYS.items() if key != "parameters"]
        out += ["", f"[stacks.{stack}.environments.{env}.parameters]"]
        if parameters is None:
            out.append(f"# {NEEDS_OTHER_STACKS}")
        for name, parameter in (parameters or {}).items():
            if "Default" in parameter:
                out.append(f"# {name} ({parameter['Type']}): {parameter.get('Description', '')}; default: {json.dumps(parameter['Default'])}")
            else:
                allowed = allowed_text(parameter)
                out.append(f"# {parameter.get('Description', name)} ({parameter['Type']}, required)")
                out.append(f"{name} = {toml_value(placeholder(allowed))}")
    return "\n".join(out) + "\n"


def append_stanza(manifest: Path, stack: str, blueprint: Blueprint, environments: list[str]) -> str:
    """Append the new stack's stanza to the manifest (created if missing), keeping every byte already
    there, and return the stanza. The result is parsed back before it replaces the file."""
    if not STACK_NAME.match(stack):
        raise UserError("stack name must be lowercase letters, digits and '-', starting with a letter, at most 63 characters",
                        stack=stack, field="name")
    for env in environments:
        if not ENVIRONMENT_NAME.match(env):
            raise UserError(f"{env!r} is not an environment name; allowed: lowercase letters and digits, starting with a letter",
                            stack=stack, field="--env")
    try:
        existing = manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    try:
        stacks = tomllib.loads(existing).get("stacks", {})
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{manifest}: invalid TOML: {error}") from None
    if stack in stacks:
        raise UserError(f"is already in {manifest}; allowed: a new stack name", stack=stack)
    text = stanza(stack, blueprint, environments)
    if existing and not existing.endswith("\n"):
        existing += "\n"
    combined = existing + text
    parsed = tomllib.loads(combined)["stacks"][stack]  # raises if the stanza broke the file: a bug, not the user's
    assert parsed["blueprint"] == blueprint.name and set(parsed["environments"]) == set(environments), parsed
    _write_atomically(manifest, combined)
    return text


def _write_atomically(path: Path, text: str) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
