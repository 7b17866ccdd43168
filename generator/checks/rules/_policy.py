"""Shared helpers for the policy rules: finding IAM policy statements and reading values.

Values in a template may be intrinsic functions (dicts such as ``{"Fn::Sub": ...}``);
every helper here accepts them without crashing and never mistakes one for ``"*"``
(a ``*`` written in an ``Fn::Sub`` or ``Fn::Join`` string is a literal ``*``, and counts).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator, NamedTuple

# Shared with the blueprints (task_foundation refuses at render what E9003 would flag), so they live
# with the building blocks, which never import the checks.
from generator.aws.arns import as_text, is_wildcard_resource  # noqa: F401  (re-exported for the rules)

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
    "AWS::KMS::Key": (("KeyPolicy",),),
    "AWS::KMS::ReplicaKey": (("KeyPolicy",),),
}

# A key policy governs one KMS key only: its Resource is always that key ("*" means "this KMS
# key"), so resource wildcards do not apply to it.
# https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
KEY_POLICY_TYPES = frozenset({"AWS::KMS::Key", "AWS::KMS::ReplicaKey"})

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


class PolicyStatement(NamedTuple):
    name: str  # logical id of the resource holding the policy
    statement: dict[str, Any]
    path: Path  # to the statement
    resource_type: str  # of that resource ("AWS::KMS::Key": a key policy, see KEY_POLICY_TYPES)


def policy_statements(cfn: Any) -> Iterator[PolicyStatement]:
    """Every statement of every policy document, with where it is."""
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
                            yield PolicyStatement(name, statement, statement_path, resource_type)


def is_allow(statement: dict[str, Any]) -> bool:
    """Effect is required by IAM; anything but a literal "Deny" is treated as Allow (the strict reading)."""
    return statement.get("Effect") != "Deny"


def actions(statement: dict[str, Any]) -> list[Any]:
    """The Action entries (strings, or intrinsics as given); [] when the statement uses NotAction."""
    if "Action" not in statement:
        return []
    return [action for action in as_list(statement["Action"]) if not is_no_value(action)]


def not_actions(statement: dict[str, Any]) -> list[Any] | None:
    """The NotAction entries, or None when the statement has no NotAction.

    An Allow statement with NotAction grants every action (of every service) except those listed.
    """
    if "NotAction" not in statement or is_no_value(statement["NotAction"]):
        return None
    return [action for action in as_list(statement["NotAction"]) if not is_no_value(action)]


def has_not_resource(statement: dict[str, Any]) -> bool:
    """The statement uses NotResource: with Allow, every resource except those listed."""
    return "NotResource" in statement and not is_no_value(statement["NotResource"])


def has_condition(statement: dict[str, Any]) -> bool:
    """A non-empty Condition (an intrinsic counts: it cannot be resolved here)."""
    condition = statement.get("Condition")
    return condition is not None and not is_no_value(condition) and condition != {}


# --- principals --------------------------------------------------------------------------

# This account as a principal: its root ARN (any partition) or the bare account id, which IAM
# reads as the same. A literal account id is not known to be this account, so it does not count.
_THIS_ACCOUNT = re.compile(r"arn:(\$\{AWS::Partition\}|aws|aws-cn|aws-us-gov):iam::\$\{AWS::AccountId\}:root|\$\{AWS::AccountId\}")


def principal_is_this_account(statement: dict[str, Any]) -> bool:
    """Principal is only ``{"AWS": <this account's root ARN or id>}`` (one or a list).

    That principal is the account, not its root user: in a key policy it lets the account's IAM
    policies grant access to the key (AWS's default key policy statement).
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
    """
    principal = statement.get("Principal")
    if "NotPrincipal" in statement or not isinstance(principal, dict) or set(principal) != {"AWS"}:
        return False
    accounts = as_list(principal["AWS"])
    return bool(accounts) and all(
        (text := as_text(account)) is not None and _THIS_ACCOUNT.fullmatch(text) for account in accounts
    )


def principal_is_everyone(statement: dict[str, Any]) -> bool:
    """Principal ``"*"`` or ``{"AWS": "*"}`` (alone or in a list): every AWS account, and anonymous callers."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))


def principal_services(statement: dict[str, Any]) -> list[str]:
    """The service principals a statement names (``{"Service": ...}``), lowercased; intrinsics are left out."""
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return []
    services = []
    for service, _ in branches(principal.get("Service"), []):
        services += [item.lower() for item in as_list(service) if isinstance(item, str)]
    return services


def condition_keys(statement: dict[str, Any]) -> dict[str, str]:
    """Each condition key of a statement, lowercased (condition keys are case-insensitive), with its operator."""
    condition = statement.get("Condition")
    keys: dict[str, str] = {}
    for branch, _ in branches(condition, []):
        if not isinstance(branch, dict):
            continue
        for operator, pairs in branch.items():
            if isinstance(pairs, dict):
                keys.update({key.lower(): operator for key in pairs if isinstance(key, str)})
    return keys
