"""Reading TOML the user wrote (stacks.toml, samconfig.toml): every way the bytes can be wrong is one
UserError, translated here where the parser is called, so no library exception reaches the CLI."""

from __future__ import annotations

import tomllib
from pathlib import Path

from generator.core.errors import UserError

UTF8_BOM = b"\xef\xbb\xbf"


def parse_toml(text: str, what: str) -> dict:
    """`text` parsed; `what` names the file in the error (e.g. "samconfig.toml")."""
    if text.startswith("\ufeff"):
        raise UserError(f"{what}: starts with a byte-order mark, which TOML does not allow; save it as UTF-8 without a BOM")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{what}: invalid TOML: {error}") from None
    except RecursionError:  # tomllib recurses once per nesting level of arrays and inline tables
        raise UserError(f"{what}: invalid TOML: nested too deeply") from None
    except ValueError as error:  # e.g. an integer over Python's digit limit (sys.set_int_max_str_digits)
        raise UserError(f"{what}: invalid TOML: {error}") from None


def decode_toml_bytes(data: bytes, what: str) -> str:
    """The file's text: UTF-8 as TOML requires, without a byte-order mark."""
    if data.startswith(UTF8_BOM):
        raise UserError(f"{what}: starts with a byte-order mark, which TOML does not allow; save it as UTF-8 without a BOM")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{what}: not UTF-8 (byte {error.start}); TOML files must be UTF-8") from None


def read_toml_text(path: Path, what: str | None = None) -> str:
    """The file's text, checked to be UTF-8 without a BOM (OSError is left to the caller)."""
    return decode_toml_bytes(path.read_bytes(), what or str(path))


def read_toml(path: Path, what: str | None = None) -> dict:
    what = what or str(path)
    return parse_toml(read_toml_text(path, what), what)
