"""The one list of blueprints: name in stacks.toml → module (a typo fails at import)."""

from blueprints import scheduled_task

BLUEPRINTS = {
    "scheduled_task": scheduled_task,
}
