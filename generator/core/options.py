"""Turn a TOML table into a blueprint's typed, frozen options dataclass.

Type checks follow the dataclass annotations (str, int, bool, list[str], dict[str, str],
unions with None, nested dataclasses); the blueprint's own rules run in its __post_init__ and
raise UserError with the field name.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Union

from generator.core.errors import UserError


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
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
    return {str: "string", int: "integer", bool: "boolean", float: "number"}.get(tp, getattr(tp, "__name__", str(tp)))


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
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"expected a string, got {value!r}", field=field)
        return value
    if tp is Any:
        return value
    raise TypeError(f"unsupported option type {tp!r} for {field}")


def build_dataclass(cls: type, table: dict[str, Any], *, field_prefix: str | None = None):
    """cls(**table) with unknown keys, missing keys and wrong types reported as UserError."""
    hints = typing.get_type_hints(cls)
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
        return cls(**kwargs)
    except UserError as error:
        raise error.within(field_prefix=field_prefix) if field_prefix else error


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
