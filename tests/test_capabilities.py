"""samconfig's capabilities come from the template's resources, for every kind of template."""

from __future__ import annotations

import pytest

from generator.core.render import capabilities


def template(*resources: tuple[str, dict]) -> dict:
    return {"Resources": {f"R{index}": {"Type": kind, "Properties": props} for index, (kind, props) in enumerate(resources)}}


@pytest.mark.parametrize("resources, expected", [
    ([("AWS::SQS::Queue", {})], ()),
    ([("AWS::IAM::Role", {})], ("CAPABILITY_IAM",)),
    ([("AWS::IAM::Role", {"RoleName": "fixed"})], ("CAPABILITY_NAMED_IAM",)),
    ([("AWS::IAM::Role", {}), ("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "fixed"})], ("CAPABILITY_NAMED_IAM",)),
    ([("AWS::IAM::AccessKey", {})], ("CAPABILITY_IAM",)),
    ([("AWS::IAM::UserToGroupAddition", {})], ("CAPABILITY_IAM",)),
    ([("AWS::Serverless::Function", {})], ("CAPABILITY_IAM",)),  # SAM makes its role
    ([("AWS::Serverless::Function", {"Role": "arn:aws:iam::123456789012:role/given"})], ()),
    ([("AWS::Serverless::StateMachine", {})], ("CAPABILITY_IAM",)),
    ([("AWS::Serverless::Application", {})], ("CAPABILITY_AUTO_EXPAND",)),
    ([("AWS::Serverless::Application", {}), ("AWS::IAM::Role", {})], ("CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM")),
])
def test_capabilities_follow_the_resources(resources, expected):
    assert capabilities(template(*resources)) == expected
