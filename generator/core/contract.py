"""What a blueprint module provides and returns: the contract between blueprints and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

from troposphere import Template


@dataclass(frozen=True)
class ManifestStack:
    """A stack of the same manifest, as a blueprint that acts on other stacks sees it (deploy_role
    grants deploying them): its name, blueprint, typed options, and per environment its Region
    (None: the deployer's default) and parameter values."""

    name: str
    blueprint: str
    options: object
    regions: dict[str, str | None] = field(default_factory=dict)
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StackContext:
    """What a blueprint may know about the stack it builds. The template is the same for every
    environment; `environments` only lets a blueprint check limits that depend on the names
    (e.g. a resource name built from ${AWS::StackName}, which is <name>-<environment>), and
    `environment_tags` (environment → its stacks.toml `tags`) which tag keys every environment has."""

    name: str
    blueprint: str
    description: str
    environments: tuple[str, ...] = ()
    manifest: tuple[ManifestStack, ...] = ()  # every stack of the manifest, this one included
    environment_tags: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)


@dataclass
class Rendered:
    """A blueprint's output: the template, plus files written beside it (path relative to the
    stack's folder → text), e.g. `statemachine/<name>.asl.json` or Lambda source."""

    template: Template
    files: dict[str, str] = field(default_factory=dict)
    summary: str = ""                                      # one or two sentences for the stack's README
    notes: list[str] = field(default_factory=list)         # what a deployer must know (README call-outs)
