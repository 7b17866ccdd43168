"""Turn a TOML table into a blueprint's typed, frozen options dataclass, and describe its options.

Type checks follow the dataclass annotations (str, int, float, bool, list[str], dict[str, str],
unions with None, nested dataclasses); the blueprint's own rules run in its __post_init__ and
raise UserError with the field name.

Every options class (a blueprint's Options, the mixins it combines, nested tables) derives from
`OptionTable` and declares each field with `option(...)`: the one place its documentation lives
(`python -m generator list BLUEPRINT` and `new` print it). Each class's __post_init__ checks its
own fields and then calls `super().__post_init__()`, so combining mixins runs every mixin's checks
and no blueprint has to name them; a chain that stops early is refused (`post_init_chain_breaks`
when the blueprint loads, `build_dataclass` when options are built).
"""

from __future__ import annotations

import dataclasses
import re
import difflib
import functools
import types
import typing
from typing import Any, Union

from generator.core.errors import BlueprintContractError, UserError

_CHAIN_COMPLETE = "_option_table_checks_ran"  # set on the instance by OptionTable.__post_init__


def did_you_mean(word: str, choices) -> str:
    """A suggestion for a mistyped name: a choice the word begins (`timeout` → `timeout_seconds`, not
    `timezone`), else the closest by difflib's ratio."""
    choices = [choice for choice in choices if isinstance(choice, str)]
    if not isinstance(word, str) or not word:
        return ""
    prefixed = sorted((c for c in choices if c != word and c.startswith(word) and len(word) >= 3), key=len)
    close = prefixed[:1] or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key_error(key: str, allowed, *, what: str, field: str | None = None) -> UserError:
    return UserError(
        f"unknown {what} {key!r}{did_you_mean(key, allowed)}; allowed: {', '.join(sorted(allowed))}",
        field=field or key,
    )


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(tp) if arg is not type(None))
    if origin in (list, tuple):  # options hold lists as tuples (frozen dataclasses)
        return f"a list of {_type_name(typing.get_args(tp)[0])}s"
    if origin is dict:
        return f"a table of {_type_name(typing.get_args(tp)[1])}s"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {str: "string", int: "integer", bool: "boolean", float: "number", Any: "any value"}.get(tp, getattr(tp, "__name__", str(tp)))


def coerce(value: Any, tp: Any, field: str) -> Any:
    """Check value against the annotation tp; return it in the dataclass's shape (lists → tuples)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        members = typing.get_args(tp)
        if value is None and type(None) in members:
            return None
        errors = []
        for member in members:
            if member is type(None):
                continue
            try:
                return coerce(value, member, field)
            except UserError as error:
                errors.append(error)
        if len(errors) == 1:  # `X | None`: X's own error (e.g. inside a nested table) says more
            raise errors[0]
        raise UserError(f"expected {_type_name(tp)}, got {value!r}", field=field)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise UserError(f"expected {_type_name(tp)}, got {value!r}", field=field)
        (item_type, *_) = typing.get_args(tp)
        return tuple(coerce(item, item_type, f"{field}[{index}]") for index, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"expected {_type_name(tp)}, got {value!r}", field=field)
        key_type, value_type = typing.get_args(tp)
        return {coerce(k, key_type, field): coerce(v, value_type, f"{field}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"expected a table, got {value!r}", field=field)
        return build_dataclass(tp, value, field_prefix=field)
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"expected true or false, got {value!r}", field=field)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"expected an integer, got {value!r}", field=field)
        return value
    if tp is float:  # a TOML integer is a number too
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"expected a number, got {value!r}", field=field)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"expected a string, got {value!r}", field=field)
        return value
    if tp is Any:
        return value
    raise TypeError(f"unsupported option type {tp!r} for {field}")


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """typing.get_type_hints(cls), resolved once per class (it evaluates every annotation again on
    each call: most of building 1,000 stacks' options). Read only."""
    return typing.get_type_hints(cls)


def build_dataclass(cls: type, table: dict[str, Any], *, field_prefix: str | None = None):
    """cls(**table) with unknown keys, missing keys and wrong types reported as UserError."""
    hints = type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    prefix = f"{field_prefix}." if field_prefix else ""
    for key, value in table.items():
        if key not in fields:
            raise unknown_key_error(key, fields, what="option", field=f"{prefix}{key}")
        kwargs[key] = coerce(value, hints[key], f"{prefix}{key}")
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            # a field may say what to choose (dataclasses.field(metadata={"allowed": ...}))
            allowed = f.metadata.get("allowed")
            raise UserError(f"required option is missing ({_type_name(hints[name])})" + (f"; allowed: {allowed}" if allowed else ""),
                            field=f"{prefix}{name}")
    try:
        built = cls(**kwargs)
    except UserError as error:
        raise error.within(field_prefix=field_prefix) if field_prefix else error
    if isinstance(built, OptionTable) and not built.__dict__.get(_CHAIN_COMPLETE):
        broken = ", ".join(post_init_chain_breaks(cls)) or f"{cls.__qualname__}.__post_init__"
        raise BlueprintContractError(f"{cls.__module__}.{cls.__qualname__}: {broken} does not call super().__post_init__(), "
                                     "so the checks of the classes after it were skipped")
    return built


def option_summary(options) -> dict[str, Any]:
    """The options as plain data, for the template's Metadata and Description (defaults included)."""
    def plain(value):
        if dataclasses.is_dataclass(value):
            return {name: plain(getattr(value, name)) for name in _field_order(type(value))}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(options)


def _field_order(cls: type) -> list[str]:
    """A blueprint's own options first, then those it shares (RunTaskOptions, DeliveryOptions…)."""
    names = [f.name for f in dataclasses.fields(cls)]
    own = [name for name in cls.__dict__.get("__annotations__", {}) if name in names]
    return own + [name for name in names if name not in own]


# --- the options contract: a chain of checks, and one source of documentation ---------------


class OptionTable:
    """Base of every options class: the end of the __post_init__ chain.

    A class derived from it checks its own fields in __post_init__ and then calls
    super().__post_init__(); this last link records that the whole chain ran."""

    def __post_init__(self) -> None:
        object.__setattr__(self, _CHAIN_COMPLETE, True)


def post_init_chain_breaks(cls: type) -> list[str]:
    """The __post_init__ methods in cls's classes (its own, its mixins') that do not call
    super().__post_init__(): each would stop the chain and skip the checks of the classes after it."""
    broken = []
    for klass in cls.__mro__:
        method = klass.__dict__.get("__post_init__")
        if method is None or klass is OptionTable:
            continue
        names = getattr(getattr(method, "__code__", None), "co_names", ())
        if not ("super" in names and "__post_init__" in names):
            broken.append(f"{klass.__qualname__}.__post_init__")
    return broken


def option(default: Any = dataclasses.MISSING, *, doc: str, by_default: str | None = None, example: Any = dataclasses.MISSING,
           allowed: str | None = None, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its documentation: `doc` says what the option is (one line);
    `by_default` what happens when it is left out, as behaviour ("a new encrypted queue receives
    failed starts", not "true"); `example` a valid value of a required option, from which
    `list BLUEPRINT` builds the template to show its parameters; `allowed` what the error for a
    missing required option offers to choose from."""
    metadata = {"doc": doc, "by_default": by_default, "example": example}
    if allowed is not None:
        metadata["allowed"] = allowed
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class OptionDoc:
    name: str
    type_name: str
    required: bool
    doc: str | None
    by_default: str | None
    example: Any  # dataclasses.MISSING when there is none
    table: tuple["OptionDoc", ...] = ()  # the fields of a nested table (or of the tables a list/map holds)


def option_docs(cls: type) -> list[OptionDoc]:
    """Each field of an options class, the class's own first (as option_summary orders them)."""
    hints = type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    docs = []
    for name in _field_order(cls):
        if name not in fields:
            continue
        f = fields[name]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        nested = [doc for table in _nested_tables(hints[name]) for doc in option_docs(table)]
        docs.append(OptionDoc(name, type_words(hints[name]), required, f.metadata.get("doc"), f.metadata.get("by_default"),
                              f.metadata.get("example", dataclasses.MISSING), tuple(nested)))
    return docs


def type_words(tp: Any, *, plural: bool = False) -> str:
    """An option's type as `list BLUEPRINT` names it: "string", "list of strings", "table of lists of tables"."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(type_words(arg, plural=plural) for arg in typing.get_args(tp) if arg is not type(None))
    if origin in (list, tuple):
        return f"list{'s' if plural else ''} of {type_words(typing.get_args(tp)[0], plural=True)}"
    if origin is dict:
        return f"table{'s' if plural else ''} of {type_words(typing.get_args(tp)[1], plural=True)}"
    word = "table" if dataclasses.is_dataclass(tp) else {str: "string", int: "integer", bool: "boolean", float: "number"}.get(tp, "value")
    return word + ("s" if plural else "")


def _nested_tables(tp: Any) -> list[type]:
    if dataclasses.is_dataclass(tp):
        return [tp]
    return [table for arg in typing.get_args(tp) for table in _nested_tables(arg)]


def nested_option_types(cls: type) -> list[type]:
    """The dataclasses used as tables inside cls's options (at any depth), each once."""
    found: list[type] = []
    hints = type_hints(cls)
    for f in dataclasses.fields(cls):
        for table in _nested_tables(hints[f.name]):
            for each in (table, *nested_option_types(table)):
                if each not in found:
                    found.append(each)
    return found


def example_table(cls: type) -> dict[str, Any]:
    """An options table with an example value for each required option (and nothing else), as
    stacks.toml would give it: the smallest table from which cls builds."""
    return {doc.name: doc.example for doc in option_docs(cls) if doc.required or doc.example is not dataclasses.MISSING}


def ascii_fullmatch(pattern: "str | re.Pattern[str]", value: object) -> "re.Match[str] | None":
    """The one way user strings are checked: the whole value against `pattern` with ASCII classes
    (so `\\d` is 0-9 only, as in CloudFormation's patterns, and `$` cannot accept a trailing newline).
    A value that is not a string never matches."""
    if not isinstance(value, str):
        return None
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    return re.fullmatch(source, value, re.ASCII)
