"""The one error type for user mistakes; the CLI turns it into one line on stderr."""

from __future__ import annotations


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
        where = ": ".join(part for part in (self.stack and f"stack {self.stack}", self.field) if part)
        return f"{where}: {self.message}" if where else self.message


class CheckFailed(Exception):
    """A check (stale output, lint finding) failed: exit status 1, not a usage error."""


class BlueprintContractError(UserError):
    """A blueprint (ours, a plugin's, or a module named in stacks.toml) does not meet the contract in
    generator/core/contract.py; the message names the blueprint and what is missing."""
