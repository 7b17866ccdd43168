"""What a check reports: one finding per problem, and the error for a lint that cannot run."""

from __future__ import annotations

from dataclasses import dataclass

from generator.core.errors import CheckFailed


@dataclass(frozen=True)
class Finding:
    path: str  # as given
    line: int
    column: int
    rule: str  # e.g. "E3002", "W9003"
    level: str  # "error" | "warning" | "informational"
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.rule} {self.message}"


class LintEngineError(CheckFailed):
    """cfn-lint cannot lint as asked (e.g. a SAM template without aws-sam-translator installed)."""
