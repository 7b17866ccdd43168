"""IAM changes between two templates, for a reviewer: every policy statement added or removed, and
the *broadenings* among them (what the new template lets someone do that the old one did not),
which come first.

A reviewer's question is "what may this stack do now that it could not before?". So statements
are compared as a whole for display (added / removed, with effect, principal, actions, resources
and condition), and each added Allow statement is then checked grant by grant (one action on one
resource for one principal) against every Allow statement the old template had in the same place
(the same role, the same resource policy): a grant that no old statement covers, with the same or
fewer conditions, is a broadening. A removed Deny and a newly attached managed policy or SAM
policy template are broadenings too. A statement's Sid and the order of statements, actions and
resources do not count, and neither does the policy name inside a role: splitting, merging or
renaming statements is no change.

Where IAM lives in a template: IAM roles (trust policy, inline policies, managed policy ARNs),
AWS::IAM::Policy / ManagedPolicy, resource policies (SQS queue, SNS topic, S3 bucket, KMS key),
AWS::Lambda::Permission (one resource-policy statement of the function) and SAM `Policies`
(inline statements, managed policies, policy templates).

Self-contained on purpose (templates as data in, a list of IamChange out), so `summary` and
`diff` can share it; values are shown as reviewers read them (`${Param}`, `Role.Arn`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

ADDED, REMOVED = "added", "removed"
RESOURCE_POLICIES = {
    "AWS::SQS::QueuePolicy": ("PolicyDocument", "queue policy"),
    "AWS::SNS::TopicPolicy": ("PolicyDocument", "topic policy"),
    "AWS::S3::BucketPolicy": ("PolicyDocument", "bucket policy"),
    "AWS::KMS::Key": ("KeyPolicy", "key policy"),
}
SAM_WITH_POLICIES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")


@dataclass(frozen=True)
class IamChange:
    """One policy statement added or removed. `broadening` says whether it widens access; `reason`
    says how (e.g. "`s3:PutObject` on `arn:…` was not allowed before")."""

    change: str                  # ADDED or REMOVED
    where: str                   # the role / policy / resource that holds the statement
    effect: str                  # Allow or Deny
    principals: tuple[str, ...]  # who (trust and resource policies); () for identity policies
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: str               # in words, "" when none
    broadening: bool
    reason: str = ""


def iam_changes(old: dict | None, new: dict | None) -> list[IamChange]:
    """Statements added and removed from `old` to `new` (either may be None: a stack added or
    removed), broadenings first, then by place; deterministic."""
    before, after = _statements(old or {}), _statements(new or {})
    changes = []
    for key, statement in after.items():
        if key not in before:
            broadening, reason = _added_broadens(statement, [s for s in before.values() if s.holder == statement.holder])
            changes.append(_change(ADDED, statement, broadening, reason))
    for key, statement in before.items():
        if key not in after:
            broadening = statement.effect == "Deny"
            changes.append(_change(REMOVED, statement, broadening, "a Deny statement is gone" if broadening else ""))
    return sorted(changes, key=lambda c: (not c.broadening, c.where, c.change != REMOVED, c.actions, c.resources, c.principals, c.condition))


# --- statements as data -------------------------------------------------------------------

@dataclass(frozen=True)
class _Statement:
    holder: str                     # where, as a comparison key
    where: str                      # where, for the reader
    effect: str
    principals: tuple[str, ...]
    actions: tuple[str, ...]        # "NOT x" entries stand for NotAction
    resources: tuple[str, ...]      # "NOT x" entries stand for NotResource
    conditions: frozenset           # {(operator, key, frozenset(values))}
    condition_words: str


def _statements(template: dict) -> dict[tuple, _Statement]:
    found: dict[tuple, _Statement] = {}

    def add(holder: str, where: str, statement: dict, *, principal_required: bool) -> None:
        for variant, note in _branches(statement):
            if not isinstance(variant, dict):
                continue
            item = _normalise(holder, where + note, variant, principal_required=principal_required)
            found[(item.holder, item.effect, item.principals, item.actions, item.resources, item.conditions)] = item

    def add_document(holder: str, where: str, document, *, principal_required: bool = False) -> None:
        for doc, note in _branches(document):
            if isinstance(doc, str):
                try:
                    doc = json.loads(doc)
                except ValueError:
                    continue
            if not isinstance(doc, dict):
                continue
            statements = doc.get("Statement", [])
            for statement in statements if isinstance(statements, list) else [statements]:
                add(holder, where + note, statement, principal_required=principal_required)

    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::IAM::Role":
            add_document(f"{logical_id} trust", f"{logical_id} (trust policy)", props.get("AssumeRolePolicyDocument"), principal_required=True)
            for policy in _listed(props.get("Policies", [])):
                if isinstance(policy, dict):
                    add_document(logical_id, logical_id, policy.get("PolicyDocument"))
            for arn in _listed(props.get("ManagedPolicyArns", [])):
                add(logical_id, logical_id, _managed(arn), principal_required=False)
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            roles = [r["Ref"] for r in _listed(props.get("Roles", [])) if isinstance(r, dict) and set(r) == {"Ref"}]
            # A policy attached to one role of the template belongs to that role: a statement moving
            # between the role's policies (or its inline ones) is no change.
            attached_to_one = len(roles) == 1 and len(_listed(props.get("Roles", []))) == 1 and roles[0] in template.get("Resources", {})
            holder = roles[0] if attached_to_one else logical_id
            where = f"{roles[0]} ({logical_id})" if holder != logical_id else logical_id
            add_document(holder, where, props.get("PolicyDocument"))
        elif kind in RESOURCE_POLICIES:
            key, label = RESOURCE_POLICIES[kind]
            add_document(f"{logical_id} {label}", f"{logical_id} ({label})", props.get(key), principal_required=True)
        elif kind == "AWS::Lambda::Permission":
            function = _text(props.get("FunctionName"))
            add(f"{function} invoke", f"{function} (function policy)", _lambda_permission(props), principal_required=True)
        elif kind in SAM_WITH_POLICIES:
            policies = props.get("Policies", [])
            for policy in _listed(policies):
                if isinstance(policy, str) or (isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in ("Ref", "Fn::Sub", "Fn::ImportValue")):
                    add(logical_id, logical_id, _managed(policy), principal_required=False)
                elif isinstance(policy, dict) and "Statement" in policy:
                    add_document(logical_id, logical_id, policy)
                elif isinstance(policy, dict) and len(policy) == 1:
                    (name, arguments), = policy.items()
                    add(logical_id, logical_id, {"Effect": "Allow", "Action": f"SAM policy template {name}",
                                                 "Resource": _text(arguments) if arguments else "*"}, principal_required=False)
    return found


def _managed(arn) -> dict:
    return {"Effect": "Allow", "Action": "every action of managed policy", "Resource": arn}


def _lambda_permission(props: dict) -> dict:
    """AWS::Lambda::Permission as the statement Lambda adds to the function's resource policy."""
    principal = _text(props.get("Principal"))
    kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
    condition: dict = {}
    if "SourceArn" in props:
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = props["SourceArn"]
    if "SourceAccount" in props:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = props["SourceAccount"]
    statement = {"Effect": "Allow", "Principal": {kind: props.get("Principal")}, "Action": props.get("Action"),
                 "Resource": props.get("FunctionName")}
    if condition:
        statement["Condition"] = condition
    return statement


def _normalise(holder: str, where: str, statement: dict, *, principal_required: bool) -> _Statement:
    principals: tuple[str, ...] = ()
    if "Principal" in statement or "NotPrincipal" in statement or principal_required:
        principals = tuple(sorted(_principals(statement.get("Principal"), negate=False)
                                  + _principals(statement.get("NotPrincipal"), negate=True)))
    actions = tuple(sorted(_strings(statement.get("Action")) + ["NOT " + a for a in _strings(statement.get("NotAction"))]))
    resources = tuple(sorted(_strings(statement.get("Resource")) + ["NOT " + r for r in _strings(statement.get("NotResource"))]))
    conditions = []
    words = []
    condition = statement.get("Condition")
    for operator, pairs in sorted((condition or {}).items()) if isinstance(condition, dict) else []:
        for key, value in sorted(pairs.items()) if isinstance(pairs, dict) else []:
            values = _strings(value)
            conditions.append((operator, key.lower(), frozenset(values)))  # condition keys are case-insensitive
            words.append(f"`{key}` {_OPERATORS.get(operator, operator)} " + " or ".join(f"`{v}`" for v in sorted(values)))
    if condition is not None and not isinstance(condition, dict):
        words.append(f"`{_text(condition)}`")
        conditions.append(("?", "?", frozenset([_text(condition)])))
    effect = statement.get("Effect") if statement.get("Effect") == "Deny" else "Allow"
    return _Statement(holder, where, effect, principals, actions, resources, frozenset(conditions), " and ".join(words))


_OPERATORS = {"StringEquals": "is", "ArnEquals": "is", "StringLike": "matches", "ArnLike": "matches", "Bool": "is",
              "StringNotEquals": "is not", "ArnNotEquals": "is not", "NumericEquals": "is", "ForAnyValue:StringEquals": "has any of",
              "ForAllValues:StringEquals": "has only"}


def _principals(value, *, negate: bool) -> list[str]:
    if value is None:
        return []
    prefix = "not " if negate else ""
    if value == "*" or not isinstance(value, dict):
        return [prefix + _text(value)]
    return [f"{prefix}{kind}:{item}" for kind, items in value.items() for item in _strings(items)]


def _branches(value):
    """A value, or both branches of an Fn::If (each noted), AWS::NoValue dropped."""
    if isinstance(value, dict) and set(value) == {"Fn::If"} and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
        condition, yes, no = value["Fn::If"]
        for branch, note in ((yes, f" when {condition}"), (no, f" unless {condition}")):
            for inner, inner_note in _branches(branch):
                yield inner, note + inner_note
        return
    if value == {"Ref": "AWS::NoValue"} or value is None:
        return
    yield value, ""


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return [text for branch, _ in _branches(value) for text in _strings(branch)]
    return [_text(value)]


def _text(value) -> str:
    from generator.review.describe import expression

    if isinstance(value, (dict, list, str)):
        text = expression(value)
        return text if isinstance(text, str) else json.dumps(value, sort_keys=True)
    return json.dumps(value)


# --- broadening ---------------------------------------------------------------------------

def _added_broadens(statement: _Statement, before: list[_Statement]) -> tuple[bool, str]:
    """Whether an added statement lets someone do something no old statement at the same place did."""
    if statement.effect == "Deny":
        return False, ""
    allows = [old for old in before if old.effect == "Allow"]
    if any(a.startswith("NOT ") for a in statement.actions) or any(r.startswith("NOT ") for r in statement.resources):
        return True, "NotAction/NotResource allows everything but what it lists"
    if statement.actions and statement.actions[0].startswith(("every action of managed policy", "SAM policy template")):
        return True, f"attaches {statement.actions[0].removeprefix('every action of ')} `{statement.resources[0]}`"
    uncovered = []
    # A trust policy statement has no Resource (the role is the resource): compare who and what only.
    for principal, action, resource in product(statement.principals or ("",), statement.actions, statement.resources or ("",)):
        if not any(_covers(old, principal, action, resource, statement.conditions) for old in allows):
            uncovered.append((principal, action, resource))
    if not uncovered:
        return False, ""
    same_grants = [old for old in allows if (old.principals, old.actions, old.resources) ==
                   (statement.principals, statement.actions, statement.resources)]
    if same_grants:
        lost = sorted({old.condition_words for old in same_grants if old.condition_words} - {statement.condition_words})
        return True, f"no longer only when {lost[0]}" if lost else "the same grant had a narrower condition before"
    principal, action, resource = uncovered[0]
    who = f" for `{principal}`" if principal else ""
    more = f" (and {len(uncovered) - 1} more)" if len(uncovered) > 1 else ""
    on = f" on `{resource}`" if resource else ""
    return True, f"`{action}`{on}{who} was not allowed before{more}"


def _covers(old: _Statement, principal: str, action: str, resource: str, conditions: frozenset) -> bool:
    if principal and not any(p == principal or p == "*" or p == "AWS:*" for p in old.principals):
        return False
    if not any(_wildcard(a, case=False).fullmatch(action) for a in old.actions if not a.startswith("NOT ")):
        return False
    if resource and not any(_wildcard(r).fullmatch(resource) for r in old.resources if not r.startswith("NOT ")):
        return False
    # The old grant's conditions must all still hold: each (operator, key) present with no more values.
    by_key = {(op, key): values for op, key, values in conditions}
    return all((op, key) in by_key and by_key[(op, key)] <= values for op, key, values in old.conditions)


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, *, case: bool = True) -> re.Pattern:
    """IAM's * and ? wildcards (nothing else is special); actions match case-insensitively."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, 0 if case else re.IGNORECASE)


def _change(change: str, statement: _Statement, broadening: bool, reason: str) -> IamChange:
    return IamChange(change, statement.where, statement.effect, statement.principals, statement.actions,
                     statement.resources, statement.condition_words, broadening, reason)
