"""The one error type for user mistakes; the CLI turns it into one line on stderr."""

from __future__ import annotations

import re

# Names shown as they are in messages: ASCII letters, digits and the punctuation of ARNs and
# option paths. Anything else (a newline, a quote, non-ASCII) is shown quoted, repr-style.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.:/@+=,<>\[\]-]{1,80}", re.ASCII)
MAX_LINE = 1000


def quoted(value: object, limit: int = 60) -> str:
    """User text inside a message: repr-style quoted (a newline cannot split the line), long values
    shortened with an ellipsis."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:limit] + "…" if len(text) > limit else text)


def shown(name: object) -> str:
    """A stack name, key or field path in a message: as it is when plain ASCII, else quoted."""
    text = name if isinstance(name, str) else str(name)
    return text if _PLAIN_NAME.fullmatch(text) else quoted(text)


def one_line(text: str) -> str:
    """The last defence of the one-line promise: control characters and line or paragraph
    separators are escaped, and an overlong message is cut."""
    text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "…"


class UserError(Exception):
    """A mistake in the user's input: names where (stack, field) and what is allowed."""

    def __init__(self, message: str, *, stack: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.stack = stack
        self.field = field

    def within(self, *, stack: str | None = None, field_prefix: str | None = None) -> "UserError":
        """The same error located more precisely (outer code knows the stack, inner code the field)."""
        field = self.field
        if field_prefix:
            field = f"{field_prefix}.{field}" if field else field_prefix
        return UserError(self.message, stack=self.stack or stack, field=field)

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.stack and f"stack {shown(self.stack)}",
                                            self.field and shown(self.field)) if part)
        return f"{where}: {self.message}" if where else self.message


class CheckFailed(Exception):
    """A check (stale output, lint finding) failed: exit status 1, not a usage error."""


class BlueprintContractError(UserError):
    """A blueprint (ours, a plugin's, or a module named in stacks.toml) does not meet the contract in
    generator/core/contract.py; the message names the blueprint and what is missing."""
