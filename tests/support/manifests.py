"""A manifest given as TOML text for one stack, rendered in memory; walking a rendered template."""

from __future__ import annotations

from pathlib import Path

from generator.core.manifest import load_manifest
from generator.core.render import RenderedStack, manifest_stacks, render_stack

NETWORK_PARAMETERS = """
ClusterArn = "arn:aws:ecs:us-east-1:123456789012:cluster/batch"
TaskFamily = "job"
Subnets = "subnet-0a1b2c3d,subnet-1a2b3c4d"
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::123456789012:role/exec"
TaskRoleArn = "arn:aws:iam::123456789012:role/task"
"""


def manifest_text(stack: str, blueprint: str, options: str, parameters: str = NETWORK_PARAMETERS) -> str:
    return (
        f'[stacks.{stack}]\nblueprint = "{blueprint}"\ndescription = "test"\n'
        f"[stacks.{stack}.options]\n{options}\n"
        f'[stacks.{stack}.environments.dev]\nregion = "us-east-1"\n'
        f"[stacks.{stack}.environments.dev.parameters]\n{parameters}\n"
    )


def render_text(tmp_path: Path, text: str) -> dict[str, RenderedStack]:
    path = tmp_path / "stacks.toml"
    path.write_text(text)
    specs = load_manifest(path)
    manifest = manifest_stacks(specs.values())
    return {name: render_stack(spec, manifest_name="stacks.toml", manifest=manifest) for name, spec in specs.items()}


def resources_of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def one_resource(template: dict, kind: str) -> dict:
    (resource,) = resources_of_type(template, kind).values()
    return resource


def substituted(text: str, values: dict[str, str]) -> str:
    """What CloudFormation does with a state machine's DefinitionSubstitutions: textual replacement of ${key}."""
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return text
