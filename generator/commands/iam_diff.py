"""IAM changes between two templates, as `cdk diff` lists security changes: every policy statement
added or removed (per role or policy, with effect, principal, action, resource and condition), and
the *broadenings* among them called out first: a new action, a new or wider resource, a removed
or changed condition, a new principal, a removed Deny.

Statements are compared one grant at a time (one action on one resource for one principal), so
splitting or merging statements is no change, and a grant that moved between roles is one removal
and one addition. Values are shown as reviewers read them (`${Param}`, `Resource.Arn`,
`<export …>`), or resolved when the caller gives a resolver (diff --live, per environment).

Policies looked at: IAM roles (inline policies, the trust policy, managed policy ARNs),
AWS::IAM::Policy / ManagedPolicy, resource policies (SQS queue, SNS topic, S3 bucket, KMS key),
AWS::Lambda::Permission, and inline statements in SAM `Policies`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

from generator.review.describe import expression
from generator.review.event_simulator import NO_VALUE

RESOURCE_POLICIES = {"AWS::SQS::QueuePolicy": "PolicyDocument", "AWS::SNS::TopicPolicy": "PolicyDocument",
                     "AWS::S3::BucketPolicy": "PolicyDocument", "AWS::IAM::Policy": "PolicyDocument",
                     "AWS::IAM::ManagedPolicy": "PolicyDocument", "AWS::KMS::Key": "KeyPolicy"}
SAM_POLICY_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
NONE = "-"


@dataclass(frozen=True, order=True)
class Grant:
    """One action on one resource, for one principal (resource and trust policies), under one condition."""

    policy: str
    effect: str
    principal: str
    action: str
    resource: str
    condition: str  # canonical JSON of the statement's Condition ("-" for none)


@dataclass(frozen=True)
class Change:
    sign: str        # "+" added, "-" removed
    grant: Grant
    broadening: str  # why it widens access ("" when it does not)


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _strings(value) -> list[str]:
    """A shown value as a flat list of texts (lists flattened, objects as compact JSON)."""
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [json.dumps(value, sort_keys=True)]
    return [str(value)]


def _principals(principal) -> list[str]:
    if not isinstance(principal, dict):
        return _strings(principal)
    return [f"{kind}:{value}" for kind, values in sorted(principal.items()) for value in _strings(values)]


def _statement_grants(policy: str, statement: dict, show: Callable) -> list[Grant]:
    if not isinstance(statement, dict):
        return []
    effect = statement.get("Effect", "Allow")
    not_action, not_resource = "NotAction" in statement, "NotResource" in statement
    actions = [("NOT " if not_action else "") + a for a in _strings(show(statement.get("NotAction" if not_action else "Action", [])))]
    resources = [("NOT " if not_resource else "") + r for r in _strings(show(statement.get("NotResource" if not_resource else "Resource", NONE)))]
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    principals = [("NOT " if "NotPrincipal" in statement else "") + p for p in _principals(show(principal))] if principal is not None else [NONE]
    condition = json.dumps(show(statement["Condition"]), sort_keys=True) if statement.get("Condition") else NONE
    return [Grant(policy, effect, p, a, r, condition) for p in principals for a in actions for r in resources]


def _document_grants(policy: str, document, show: Callable) -> list[Grant]:
    if not isinstance(document, dict):
        return []
    return [grant for statement in _listed(document.get("Statement", [])) for grant in _statement_grants(policy, statement, show)]


def grants(template: dict, show: Callable = expression) -> set[Grant]:
    """Every grant of every policy in the template; `show` turns a template value into text
    (default: readable expressions; a resolver's output for one environment)."""
    def text(value):
        if isinstance(value, dict) and not _is_expression(value):
            return {key: text(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shown for shown in map(text, value) if shown is not NO_VALUE]
        shown = show(value)
        return shown if shown is NO_VALUE or isinstance(shown, (str, dict, list)) else str(shown)

    found: set[Grant] = set()
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::IAM::Role":
            found.update(_document_grants(f"{logical_id} (trust)", props.get("AssumeRolePolicyDocument"), text))
            for policy in _listed(props.get("Policies", [])):
                if isinstance(policy, dict):
                    found.update(_document_grants(f"{logical_id}/{text(policy.get('PolicyName', '?'))}", policy.get("PolicyDocument"), text))
            for managed in _listed(props.get("ManagedPolicyArns", [])):
                found.add(Grant(logical_id, "Allow", NONE, "(managed policy)", str(text(managed)), NONE))
        elif kind in RESOURCE_POLICIES:
            found.update(_document_grants(logical_id, props.get(RESOURCE_POLICIES[kind]), text))
        elif kind == "AWS::Lambda::Permission":
            condition = {key: text(props[key]) for key in ("SourceArn", "SourceAccount") if key in props}
            found.add(Grant(logical_id, "Allow", str(text(props.get("Principal", NONE))), str(text(props.get("Action", NONE))),
                            str(text(props.get("FunctionName", NONE))), json.dumps(condition, sort_keys=True) if condition else NONE))
        elif kind in SAM_POLICY_TYPES:
            for index, policy in enumerate(_listed(props.get("Policies", []))):
                if isinstance(policy, dict) and "Statement" in policy:
                    found.update(_document_grants(f"{logical_id}/Policies[{index}]", policy, text))
                elif isinstance(policy, dict):  # a SAM policy template such as {"SQSSendMessagePolicy": {...}}
                    for name, arguments in policy.items():
                        found.add(Grant(f"{logical_id}/Policies[{index}]", "Allow", NONE, f"(SAM policy template {name})",
                                        json.dumps(text(arguments), sort_keys=True), NONE))
                elif isinstance(policy, str):  # a managed policy by name or ARN
                    found.add(Grant(f"{logical_id}/Policies[{index}]", "Allow", NONE, "(managed policy)", str(text(policy)), NONE))
    return found


def _is_expression(value: dict) -> bool:
    return len(value) == 1 and next(iter(value)) in ("Ref", "Condition") or any(key.startswith("Fn::") for key in value)


def _pattern(text: str) -> re.Pattern:
    """IAM wildcards: * any characters, ? one character; everything else literal, case as written."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text), re.DOTALL)


def _covers(wide: str, narrow: str, *, ignore_case: bool = False) -> bool:
    if ignore_case:
        wide, narrow = wide.lower(), narrow.lower()
    return wide == narrow or bool(_pattern(wide).fullmatch(narrow))


def _condition(grant: Grant) -> dict:
    return {} if grant.condition == NONE else json.loads(grant.condition)


def _weaker_condition(old: dict, new: dict) -> str:
    """'' when `new` restricts at least as much as `old` (every old operator and key is still there
    with no more values), else why not."""
    for operator, pairs in old.items():
        if not isinstance(pairs, dict):  # a Lambda permission's SourceArn / SourceAccount
            if new.get(operator) != pairs:
                return "removed condition" if operator not in new else "changed condition"
            continue
        for key, values in pairs.items():
            if key not in (new.get(operator) or {}):
                return "removed condition"
            if not set(map(str, _listed(new[operator][key]))) <= set(map(str, _listed(values))):
                return "changed condition"
    return ""


def broadening(grant: Grant, before: set[Grant]) -> str:
    """Why an added grant widens access compared with `before` ('' when it does not)."""
    if grant.effect != "Allow":
        return ""
    same_policy = [old for old in before if old.policy == grant.policy and old.effect == "Allow"]
    if grant.principal != NONE and not any(old.principal == grant.principal for old in same_policy):
        return "new principal"
    same_principal = [old for old in same_policy if old.principal == grant.principal]
    by_action = [old for old in same_principal if _covers(old.action, grant.action, ignore_case=True)]
    if not by_action:
        wider = any(_covers(grant.action, old.action, ignore_case=True) for old in same_principal)
        return "wider action" if wider else "new action"
    by_resource = [old for old in by_action if _covers(old.resource, grant.resource)]
    if not by_resource:
        wider = any(_covers(grant.resource, old.resource) for old in by_action)
        return "wider resource" if wider else "new resource"
    reasons = [_weaker_condition(_condition(old), _condition(grant)) for old in by_resource]
    return "" if "" in reasons else ("removed condition" if "removed condition" in reasons else "changed condition")


def iam_changes(before: set[Grant], after: set[Grant]) -> list[Change]:
    """Added and removed grants, broadenings first (then by policy); a removed Deny is a broadening."""
    changes = [Change("+", grant, broadening(grant, before)) for grant in sorted(after - before)]
    changes += [Change("-", grant, "removed deny" if grant.effect == "Deny" else "") for grant in sorted(before - after)]
    return sorted(changes, key=lambda change: (not change.broadening, change.grant.policy, change.sign, change.grant))


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def _condition_text(grant: Grant) -> str:
    if grant.condition == NONE:
        return NONE
    parts = []
    for operator, pairs in _condition(grant).items():
        if isinstance(pairs, dict):
            parts += [f"{operator} {key}={value}" for key, value in pairs.items()]
        else:  # a Lambda permission's SourceArn / SourceAccount
            parts.append(f"{operator}={pairs}")
    return "; ".join(parts)


_HEADER = ["policy", "effect", "principal", "action", "resource", "condition"]


def _cells(change: Change) -> list[str]:
    grant = change.grant
    return [grant.policy, grant.effect, grant.principal, grant.action, grant.resource, _condition_text(grant)]


def broadening_lines(stack: str, changes: list[Change]) -> list[str]:
    """The broadenings of a diff in a table of their own (printed before everything else)."""
    broadenings = [change for change in changes if change.broadening]
    if not broadenings:
        return []
    return [f"{stack}: IAM broadenings ({len(broadenings)}), review these first:",
            *_table([["why", *_HEADER]] + [[change.broadening, *_cells(change)] for change in broadenings])]


def change_lines(stack: str, changes: list[Change]) -> list[str]:
    """Every IAM change of a diff, + added and - removed, broadenings first."""
    if not changes:
        return []
    return [f"{stack}: IAM changes ({len(changes)}):", *_table([["", *_HEADER]] + [[change.sign, *_cells(change)] for change in changes])]


def template_on_disk(path) -> dict:
    """The template a render would replace ({} when there is none), as data."""
    from pathlib import Path

    from generator.commands.live import parse_template

    path = Path(path)
    return parse_template(path.read_text(encoding="utf-8")) if path.exists() else {}


def as_json(changes: list[Change]) -> list[dict]:
    return [{"change": "added" if c.sign == "+" else "removed", "broadening": c.broadening or None,
             "policy": c.grant.policy, "effect": c.grant.effect, "principal": c.grant.principal, "action": c.grant.action,
             "resource": c.grant.resource, "condition": _condition(c.grant) or None} for c in changes]
