"""ACME's blueprints for ecs-batch-templates (registered in pyproject.toml)."""
