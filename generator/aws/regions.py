"""AWS Regions and partitions as botocore knows them (its `data/partitions.json`), read as data:
render stays offline and does not import botocore (importing it costs start-up time)."""

from __future__ import annotations

import functools
import json
from importlib.util import find_spec
from pathlib import Path


@functools.cache
def region_partitions() -> dict[str, str]:
    """Region name → partition (`aws`, `aws-cn`, `aws-us-gov`…), without the `*-global` pseudo-Regions."""
    spec = find_spec("botocore")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return {}
    data = json.loads((Path(spec.submodule_search_locations[0]) / "data" / "partitions.json").read_text(encoding="utf-8"))
    return {region: partition["id"] for partition in data["partitions"] for region in partition["regions"]
            if not region.endswith("-global")}
