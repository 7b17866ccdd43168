"""Where the generator keeps what only costs time to recompute (lint results, compiled templates)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/ecs-batch-templates/<kind>``, or ``~/.cache/ecs-batch-templates/<kind>``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    # the XDG spec says a relative value is invalid and must be ignored
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "ecs-batch-templates" / kind
