"""Shared helpers for the policy rules: finding IAM policy statements and reading values.

Values in a template may be intrinsic functions (dicts such as ``{"Fn::Sub": ...}``);
every helper here accepts them without crashing and never mistakes one for ``"*"``.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

# Where each resource type keeps its policy documents ("*" = every item of a list).
POLICY_DOCUMENT_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "AWS::IAM::Role": (("AssumeRolePolicyDocument",), ("Policies", "*", "PolicyDocument")),
    "AWS::IAM::User": (("Policies", "*", "PolicyDocument"),),
    "AWS::IAM::Group": (("Policies", "*", "PolicyDocument"),),
    "AWS::IAM::Policy": (("PolicyDocument",),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument",),),
    "AWS::IAM::RolePolicy": (("PolicyDocument",),),
    "AWS::IAM::UserPolicy": (("PolicyDocument",),),
    "AWS::IAM::GroupPolicy": (("PolicyDocument",),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument",),),
    "AWS::SQS::QueueInlinePolicy": (("PolicyDocument",),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument",),),
    "AWS::SNS::TopicInlinePolicy": (("PolicyDocument",),),
    "AWS::S3::BucketPolicy": (("PolicyDocument",),),
}

Path = list[str | int]


def resources(cfn: Any, types: str | list[str]) -> Iterator[tuple[str, dict[str, Any], Path]]:
    """(logical id, Properties or {}, path to the resource) for each resource of the given types."""
    for name, resource in cfn.get_resources(types).items():
        properties = resource.get("Properties")
        yield name, properties if isinstance(properties, dict) else {}, ["Resources", name]


def is_no_value(value: Any) -> bool:
    return isinstance(value, dict) and value == {"Ref": "AWS::NoValue"}


def branches(value: Any, path: Path, *, keep_no_value: bool = False) -> Iterator[tuple[Any, Path]]:
    """The value itself, or both branches of an ``Fn::If`` (recursively); ``AWS::NoValue`` is dropped unless kept."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        args = value["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            for index in (1, 2):
                yield from branches(args[index], [*path, "Fn::If", index], keep_no_value=keep_no_value)
        return
    if is_no_value(value) and not keep_no_value:
        return
    yield value, path


def is_set(properties: dict[str, Any], key: str) -> bool:
    """The property is present and not ``AWS::NoValue`` (an intrinsic counts as set: it cannot be resolved here)."""
    return key in properties and properties[key] is not None and not is_no_value(properties[key])


def is_true(value: Any) -> bool:
    """A literal CloudFormation true (boolean, or the string "true"); an intrinsic is not provably true."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _documents(value: Any, keys: tuple[str, ...], path: Path) -> Iterator[tuple[Any, Path]]:
    for node, node_path in branches(value, path):
        if not keys:
            if isinstance(node, str):  # a policy given as a JSON string
                try:
                    node = json.loads(node)
                except ValueError:
                    continue
            yield node, node_path
        elif keys[0] == "*":
            if isinstance(node, list):
                for index, item in enumerate(node):
                    yield from _documents(item, keys[1:], [*node_path, index])
        elif isinstance(node, dict) and keys[0] in node:
            yield from _documents(node[keys[0]], keys[1:], [*node_path, keys[0]])


def policy_statements(cfn: Any) -> Iterator[tuple[str, dict[str, Any], Path]]:
    """(logical id, statement, path to the statement) for every statement of every policy document."""
    for name, properties, path in resources(cfn, list(POLICY_DOCUMENT_PATHS)):
        resource_type = cfn.template["Resources"][name]["Type"]
        for keys in POLICY_DOCUMENT_PATHS[resource_type]:
            for document, document_path in _documents(properties, keys, [*path, "Properties"]):
                if not isinstance(document, dict) or "Statement" not in document:
                    continue
                statements = document["Statement"]
                statements_path = [*document_path, "Statement"]
                if isinstance(statements, list):
                    items = [(s, [*statements_path, i]) for i, s in enumerate(statements)]
                else:  # IAM accepts a single statement object
                    items = [(statements, statements_path)]
                for item, item_path in items:
                    for statement, statement_path in branches(item, item_path):
                        if isinstance(statement, dict):
                            yield name, statement, statement_path


def is_allow(statement: dict[str, Any]) -> bool:
    """Effect is required by IAM; anything but a literal "Deny" is treated as Allow (the strict reading)."""
    return statement.get("Effect") != "Deny"


def actions(statement: dict[str, Any]) -> list[Any]:
    """The Action entries (strings, or intrinsics as given); [] when the statement uses NotAction."""
    if "Action" not in statement:
        return []
    return [action for action in as_list(statement["Action"]) if not is_no_value(action)]
