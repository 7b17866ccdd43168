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


# A folder for every cache of one checkout (lint results in lint/, render digests in render/), e.g.
# one a CI job restores and saves between runs.
CACHE_DIR_VARIABLE = "ECS_BATCH_TEMPLATES_CACHE_DIR"


def project_cache_dir(kind: str, given: Path | None = None) -> Path:
    """``<given>/<kind>`` (``--cache-dir``), else ``$ECS_BATCH_TEMPLATES_CACHE_DIR/<kind>``, else the
    user cache's ``<kind>`` folder."""
    if given is None and os.environ.get(CACHE_DIR_VARIABLE):
        given = Path(os.environ[CACHE_DIR_VARIABLE])
    return given / kind if given is not None else user_cache_dir(kind)
