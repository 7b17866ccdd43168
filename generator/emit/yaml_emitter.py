"""Fast, deterministic YAML emitter for CloudFormation template dicts.

troposphere's ``Template.to_yaml()`` goes JSON text -> cfn-flip -> PyYAML's
pure-Python emitter, which costs ~12 ms per template.  The data we render is
much narrower than general YAML (``to_dict()`` output: dict/list/str/int/
float/bool/None, intrinsics as one-key dicts), so a small recursive emitter
that appends lines to a list is an order of magnitude faster and gives us
full control over the style:

* block style, 2-space indent, sequences indented under their key
  (``Key:\\n  - a``) like cfn-flip;
* short-form intrinsic tags (``!Ref``, ``!GetAtt Res.Attr``, ``!Sub`` ...);
* scalars quoted only when a YAML 1.1 *or* 1.2 loader would read them as
  something other than the same string;
* multi-line strings as literal blocks, long lines never folded (JSON blobs
  in properties stay intact and greppable).

The output is meant to be read back by CloudFormation, cfn-lint
(``cfnlint.decode.cfn_yaml``) and PyYAML-based tools; the tests round-trip
everything through cfn-lint's loader.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

__all__ = ["dump_yaml"]

# Intrinsics that have a short-form tag.  Anything else (e.g. Fn::ForEach::X,
# Rules functions) is emitted in long form, which is always valid.
_SHORT_TAGS = {
    name: "!" + name.removeprefix("Fn::")
    for name in (
        "Ref",
        "Condition",
        "Fn::Base64",
        "Fn::Cidr",
        "Fn::FindInMap",
        "Fn::GetAtt",
        "Fn::GetAZs",
        "Fn::ImportValue",
        "Fn::Join",
        "Fn::Select",
        "Fn::Split",
        "Fn::Sub",
        "Fn::Transform",
        "Fn::Length",
        "Fn::ToJsonString",
        "Fn::If",
        "Fn::Equals",
        "Fn::Not",
        "Fn::And",
        "Fn::Or",
    )
}

# Characters that cannot appear raw in a plain or single-quoted scalar:
# everything outside YAML's printable set, plus the YAML 1.1 line breaks
# (\n, \r, NEL \x85, LS \u2028, PS \u2029 -- they would be folded), tab
# (invisible and folded at line ends), and BOM \ufeff (libyaml rejects it
# inside a stream).  Such strings need double quotes with escapes, or a
# literal block if the only offender is "\n".
_PRINTABLE = "\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"


class _Pattern:
    """A character-class regex whose ASCII-only form is used for ASCII strings (almost every string
    in a template); the full Unicode class costs ~10 ms to compile, so it is built on first need."""

    def __init__(self, full: str, ascii_only: str):
        self._full_source = full
        self._full = None
        self._ascii = re.compile(ascii_only)

    def _for(self, s: str):
        if s.isascii():
            return self._ascii
        if self._full is None:
            self._full = re.compile(self._full_source)
        return self._full

    def search(self, s: str):
        return self._for(s).search(s)

    def sub(self, replacement, s: str) -> str:
        return self._for(s).sub(replacement, s)


_NEEDS_ESCAPE = _Pattern(f"[^{_PRINTABLE}]", "[^\x20-\x7e]")
_NEEDS_ESCAPE_EXCEPT_LF = _Pattern(f"[^\n{_PRINTABLE}]", "[^\n\x20-\x7e]")
_DQ_ESCAPE = _Pattern(f'["\\\\]|[^{_PRINTABLE}]', '["\\\\]|[^\x20-\x7e]')
_ESCAPES = {
    "\0": "\\0",
    "\x07": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}

# First characters that are YAML indicators (or whitespace) and so cannot
# start a plain scalar.  "-", "?" and ":" are allowed by the spec when not
# followed by a space, but quoting them is cheap and avoids "-1"/"- x" traps.
_BAD_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@` ")

# Plain strings that some loader would resolve to a non-string.  This is the
# union of PyYAML's YAML 1.1 implicit resolvers (what cfn-lint, cfn-flip and
# the AWS CLI use) and the YAML 1.2 core schema (e.g. "1e3", "0o17"), plus
# YAML 1.1's single-letter booleans "y"/"n" that PyYAML skips but other
# parsers honour.
_IMPLICIT = re.compile(
    r"""(?:
      # bool (YAML 1.1)
      yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
      |y|Y|n|N
      # null, merge key, value key
      |~|null|Null|NULL|<<|=
      # float (YAML 1.1, PyYAML)
      |[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
      |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
      |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
      |[-+]?\.(?:inf|Inf|INF)
      |\.(?:nan|NaN|NAN)
      # float (YAML 1.2 core: exponent without a dot or sign, e.g. 1e3)
      |[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
      # int (YAML 1.1: binary, octal, decimal, hex, sexagesimal; 1.2: 0o octal)
      |[-+]?0b[0-1_]+
      |[-+]?0[0-7_]+
      |[-+]?(?:0|[1-9][0-9_]*)
      |[-+]?0x[0-9a-fA-F_]+
      |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
      |0o[0-7]+
    )""",
    re.X,
)
# YAML 1.1 timestamps (PyYAML's pattern with its verbose-mode spaces removed).
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
)

# libyaml/PyYAML refuse implicit ("simple") keys longer than 1024 characters;
# longer keys need the explicit "? key" form.
_MAX_SIMPLE_KEY = 1000


def dump_yaml(data: dict, header: str = "") -> str:
    """Render a template dict as block-style YAML with short-form intrinsics.

    ``header`` holds zero or more comment lines (each starting with "#"),
    emitted first.  Dict insertion order is preserved; the result is
    deterministic and ends with exactly one newline.
    """
    if not isinstance(data, dict):
        raise TypeError(f"dump_yaml expects a dict, got {type(data).__name__}")
    head = ""
    if header:
        lines = header.splitlines()
        for line in lines:
            # Anything but a comment would change the document's meaning.
            if not line.startswith("#"):
                raise ValueError(f"header lines must be YAML comments: {line!r}")
        head = "\n".join(lines) + "\n"
    if not data:
        return head + "{}\n"
    text = _Emitter(keep_trailing_blanks=True).render(data)
    if text.endswith("\n\n"):
        # Only a "|+" block scalar at the very end of the document can do
        # this.  Re-render with such strings double-quoted so the output ends
        # with exactly one newline (rare: a final value ending in "\n\n").
        text = _Emitter(keep_trailing_blanks=False).render(data)
    return head + text


class _Emitter:
    """Appends output lines to ``out``.

    Every node is written by ``value(v, lead, indent)``: ``lead`` is the text
    that precedes the value on its first line (``"  Key:"`` or ``"  -"``),
    ``indent`` is the column where the value's block content goes (the
    lead's key/dash column + 2).
    """

    __slots__ = ("out", "keep")

    def __init__(self, keep_trailing_blanks: bool):
        self.out: list[str] = []
        self.keep = keep_trailing_blanks

    def render(self, data: dict) -> str:
        self.mapping(data, 0, None)
        return "".join(self.out)

    def value(self, v, lead: str, indent: int) -> None:
        if isinstance(v, str):
            r = _str(v)
            if r.__class__ is str:
                self.out.append(f"{lead} {r}\n")
            else:
                self.block(r, lead, indent)
        elif isinstance(v, dict):
            if len(v) == 1:
                ((name, arg),) = v.items()
                tag = _SHORT_TAGS.get(name)
                if tag is not None and self.intrinsic(tag, name, arg, lead, indent):
                    return
            if not v:
                self.out.append(lead + " {}\n")
            elif lead[-1] == "-":
                # Compact form "- Key: v" keeps list-of-dicts readable.
                self.mapping(v, indent, lead + " ")
            else:
                self.out.append(lead + "\n")
                self.mapping(v, indent, None)
        elif isinstance(v, (list, tuple)):
            if not v:
                self.out.append(lead + " []\n")
            elif lead[-1] == "-":
                self.sequence(v, indent, lead + " ")
            else:
                self.out.append(lead + "\n")
                self.sequence(v, indent, None)
        else:
            self.out.append(f"{lead} {_non_str_scalar(v)}\n")

    def mapping(self, d: dict, indent: int, first: str | None) -> None:
        # ``first`` replaces the indentation of the first entry (compact
        # "- Key: v" inside a sequence); it is exactly ``indent`` wide.
        pad = " " * indent
        for k, v in d.items():
            prefix = pad if first is None else first
            first = None
            key = _key(k)
            if len(key) > _MAX_SIMPLE_KEY:
                self.value(v, f"{prefix}? {key}\n{pad}:", indent + 2)
            else:
                self.value(v, f"{prefix}{key}:", indent + 2)

    def sequence(self, items, indent: int, first: str | None) -> None:
        pad = " " * indent
        for item in items:
            prefix = pad if first is None else first
            first = None
            self.value(item, prefix + "-", indent + 2)

    def intrinsic(self, tag: str, name: str, arg, lead: str, indent: int) -> bool:
        """Write ``{name: arg}`` in short form; False means use long form."""
        out = self.out
        if isinstance(arg, str):
            # cfn-lint/CloudFormation split "!GetAtt A.B" into a list, so a
            # plain-string GetAtt argument only round-trips in long form.
            if name == "Fn::GetAtt":
                return False
            r = _str(arg)
            if r.__class__ is str:
                out.append(f"{lead} {tag} {r}\n")
            else:
                self.block(r, f"{lead} {tag}", indent)  # e.g. !Sub | (UserData)
            return True
        if isinstance(arg, (list, tuple)):
            if (
                name == "Fn::GetAtt"
                and len(arg) == 2
                and isinstance(arg[0], str)
                and isinstance(arg[1], str)
                and "." not in arg[0]  # loaders split at the first dot
            ):
                r = _str(f"{arg[0]}.{arg[1]}")
                if r.__class__ is str:
                    out.append(f"{lead} {tag} {r}\n")
                    return True
            if not arg:
                out.append(f"{lead} {tag} []\n")
            else:
                # A tag may be followed by a block collection on the next
                # lines ("Key: !Join\n  - ''\n  - ...").
                out.append(f"{lead} {tag}\n")
                self.sequence(arg, indent, None)
            return True
        if isinstance(arg, dict):
            # A node takes one tag, so "!Base64 !Sub x" is invalid; write the
            # argument as a plain mapping ("!Base64\n  Fn::Sub: x").  Nested
            # values are still shortened by value().
            if not arg:
                out.append(f"{lead} {tag} {{}}\n")
            else:
                out.append(f"{lead} {tag}\n")
                self.mapping(arg, indent, None)
            return True
        # Tagged scalars are always read back as strings ("!Base64 1" ->
        # "1"), so non-string arguments keep their type only in long form.
        return False

    def block(self, blk: tuple, lead: str, indent: int) -> None:
        header, lines, extra_blank, original = blk
        if extra_blank and not self.keep:
            self.out.append(f"{lead} {_double_quoted(original)}\n")
            return
        out = self.out
        out.append(f"{lead} {header}\n")
        pad = " " * indent
        for line in lines:
            # Empty lines get no indentation: no trailing whitespace.
            out.append(f"{pad}{line}\n" if line else "\n")
        if extra_blank:
            out.append("\n" * extra_blank)


def _key(k) -> str:
    if isinstance(k, str):
        r = _str(k)
        # Keys must fit on one line; a multi-line key is double-quoted.
        return r if r.__class__ is str else _double_quoted(k)
    return _non_str_scalar(k)


@lru_cache(maxsize=16384)
def _str(s: str):
    """Render a string: inline text, or a tuple describing a literal block.

    Cached because templates repeat the same keys and values
    ("Type", "Properties", "AWS::IAM::Role", ...) many times.
    """
    if not s:
        return "''"
    if _NEEDS_ESCAPE.search(s) is None:
        if (
            s[0] not in _BAD_FIRST
            and s[-1] != " "
            and s[-1] != ":"  # "a:" at end of line would start a mapping
            and ": " not in s
            and " #" not in s  # would start a comment
            and not s.startswith("...")  # document end marker
            and _IMPLICIT.fullmatch(s) is None
            and _TIMESTAMP.fullmatch(s) is None
        ):
            return str(s)  # plain; str() drops str subclasses (cfn-lint nodes)
        return "'" + s.replace("'", "''") + "'"
    if "\n" in s:
        blk = _literal_block(s)
        if blk is not None:
            return blk
    return _double_quoted(s)


def _literal_block(s: str):
    """Describe ``s`` as a literal block scalar, or None if it cannot be one.

    Returns (header, lines, extra_blank_lines, s).  The chomping indicator
    reproduces the trailing newlines exactly: "-" none, "" (clip) one, "+"
    (keep) more, with the extra ones written as empty lines.
    """
    body = s.rstrip("\n")
    if (
        not body
        or _NEEDS_ESCAPE_EXCEPT_LF.search(body) is not None
        # Trailing spaces would be invisible and are stripped by editors.
        or " \n" in body
        or body[-1] == " "
    ):
        return None
    trailing = len(s) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    # Indentation is auto-detected from the first non-empty line; if the
    # text starts with spaces (or blank lines) state it explicitly.  Content
    # is always written 2 columns right of the parent key/dash.
    indicator = "2" if body[0] in " \n" else ""
    return ("|" + indicator + chomp, body.split("\n"), max(trailing - 1, 0), s)


def _escape_char(m: re.Match) -> str:
    c = m.group()
    e = _ESCAPES.get(c)
    if e is not None:
        return e
    o = ord(c)
    if o <= 0xFF:
        return f"\\x{o:02X}"
    if o <= 0xFFFF:
        return f"\\u{o:04X}"
    return f"\\U{o:08X}"


def _double_quoted(s: str) -> str:
    return '"' + _DQ_ESCAPE.sub(_escape_char, s) + '"'


def _non_str_scalar(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int) and not isinstance(v, bool):
        return int.__repr__(v)  # not str(): IntEnum would print its name
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        r = float.__repr__(v)
        # YAML 1.1 floats need a dot: "1e+16" would load as a string.
        if "e" in r and "." not in r:
            r = r.replace("e", ".0e")
        return r
    raise TypeError(f"cannot emit {type(v).__name__} as YAML: {v!r}")
