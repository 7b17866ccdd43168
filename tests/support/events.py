"""AWS's sample events (tests/events/reference) and our variants (tests/events), and a job in the cluster AWS's ECS sample events name."""

from __future__ import annotations

import json

from support.paths import REFERENCE_EVENTS


CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/example-cluster"
PARAMETERS = f'''ClusterArn = "{CLUSTER}"
TaskFamily = "report"
Subnets = "subnet-0a1b2c3d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::111122223333:role/exec"'''
EVENTS = REFERENCE_EVENTS.parent


def event(name: str) -> dict:
    folder = REFERENCE_EVENTS if (REFERENCE_EVENTS / name).exists() else EVENTS
    return json.loads((folder / name).read_text())
