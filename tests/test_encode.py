"""The one-walk encoder gives exactly troposphere's Template.to_dict() for every stack we render."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.core.manifest import load_manifest, manifest_stacks
from generator.core.render import stack_context
from generator.emit.encode import template_data
from support.paths import REPO

MANIFESTS = [REPO / "stacks.toml", Path(__file__).parent / "golden" / "stacks.toml"]
# each stack with the manifest it belongs to (deploy_role reads the other stacks)
SPECS = [(spec, manifest_stacks(specs.values())) for specs in map(load_manifest, MANIFESTS) for spec in specs.values()]


@pytest.mark.parametrize("spec, manifest", SPECS, ids=[f"{spec.name}" for spec, _ in SPECS])
def test_same_data_as_troposphere(spec, manifest):
    def build():
        return spec.implementation.build(spec.options, stack_context(spec, manifest)).template

    assert template_data(build()) == build().to_dict()


def test_validation_still_runs():
    from troposphere import events

    template = __import__("troposphere").Template()
    template.add_resource(events.Rule("Rule", Targets=[events.Target(Id="x")]))  # Target requires Arn
    with pytest.raises(ValueError, match="Arn required"):
        template_data(template)
