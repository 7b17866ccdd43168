"""IAM changes between two templates, as `cdk diff` lists security changes: every grant added or
removed, and the *broadenings* among them first (a new action, a new or wider resource, a removed
or changed condition, a new principal, a removed Deny, a newly attached managed policy). One module
and one table for every reader: `diff` (rendered vs on disk), `diff --live` (per environment, values
resolved) and `summary` (the pull request's Markdown).

A reviewer's question is "what may this stack do now that it could not before?". So statements are
compared one grant at a time (one action on one resource for one principal, under one condition),
within the place that holds them: a role (its inline policies, managed policy ARNs, SAM `Policies`
and an AWS::IAM::Policy attached to that one role alone), a role's trust policy, a resource policy
(SQS queue, SNS topic, S3 bucket, KMS key) or a function's resource policy (its
AWS::Lambda::Permission resources). Splitting, merging or re-ordering statements, a Sid, and the
name of the policy a statement sits in are no change. Condition keys compare case-insensitively, as
IAM reads them (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html).

Values are shown as reviewers read them (`${Param}`, `Resource.Arn`, `<export …>`), or resolved when
the caller gives a resolver (diff --live, per environment). A statement, policy or document under
an unresolved Fn::If is read in both branches, each noted with its condition.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator

from generator.review.describe import expression
from generator.review.event_simulator import NO_VALUE

RESOURCE_POLICIES = {
    "AWS::SQS::QueuePolicy": ("PolicyDocument", "queue policy"),
    "AWS::SNS::TopicPolicy": ("PolicyDocument", "topic policy"),
    "AWS::S3::BucketPolicy": ("PolicyDocument", "bucket policy"),
    "AWS::KMS::Key": ("KeyPolicy", "key policy"),
}
IDENTITY_POLICIES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
SAM_POLICY_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
NONE = "-"
MANAGED_POLICY = "(managed policy)"


@dataclass(frozen=True, order=True)
class Grant:
    """One action on one resource, for one principal (resource and trust policies), under one
    condition, held by one place. `policy` says where it is written, for the reader; it is not
    part of the grant's identity (moving a grant between the policies of one role is no change)."""

    holder: str     # the role, trust policy or resource policy the grant belongs to
    effect: str
    principal: str
    action: str
    resource: str
    condition: str  # canonical JSON of the statement's Condition ("-" for none)
    policy: str = field(default="", compare=False)


@dataclass(frozen=True)
class Change:
    sign: str        # "+" added, "-" removed
    grant: Grant
    broadening: str  # why it widens access ("" when it does not)

    @property
    def added(self) -> bool:
        return self.sign == "+"


# --- grants out of a template -------------------------------------------------------------------

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


def _is_expression(value) -> bool:
    return isinstance(value, dict) and (len(value) == 1 and next(iter(value)) in ("Ref", "Condition")
                                        or any(key.startswith("Fn::") for key in value))


def _variants(value, show: Callable) -> Iterator[tuple[object, str]]:
    """A value as written, or what an Fn::If around it can be: the branch a resolver picks, else
    both branches, each with a note of its condition. AWS::NoValue and None give nothing."""
    if value is None or value == {"Ref": "AWS::NoValue"}:
        return
    arguments = value.get("Fn::If") if isinstance(value, dict) and len(value) == 1 else None
    if isinstance(arguments, list) and len(arguments) == 3:
        picked = show(value)
        if picked is NO_VALUE:
            return
        condition, yes, no = arguments
        chosen = [branch for branch in (yes, no) if show(branch) == picked]
        if chosen:  # a resolver evaluated the condition (or both branches read the same)
            yield from _variants(chosen[0], show)
            return
        for branch, note in ((yes, f" when {condition}"), (no, f" unless {condition}")):
            for inner, inner_note in _variants(branch, show):
                yield inner, note + inner_note
        return
    yield value, ""


def _statement_grants(holder: str, policy: str, statement: dict, show: Callable) -> list[Grant]:
    if not isinstance(statement, dict):
        return []
    effect = "Deny" if show(statement.get("Effect")) == "Deny" else "Allow"
    not_action, not_resource = "NotAction" in statement, "NotResource" in statement
    actions = [("NOT " if not_action else "") + a for a in _strings(show(statement.get("NotAction" if not_action else "Action", [])))]
    resources = [("NOT " if not_resource else "") + r for r in _strings(show(statement.get("NotResource" if not_resource else "Resource", NONE)))]
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    principals = [("NOT " if "NotPrincipal" in statement else "") + p for p in _principals(show(principal))] if principal is not None else [NONE]
    condition = json.dumps(show(statement["Condition"]), sort_keys=True) if statement.get("Condition") else NONE
    return [Grant(holder, effect, p, a, r, condition, policy) for p in principals for a in actions for r in resources]


def _document_grants(holder: str, policy: str, document, show: Callable) -> list[Grant]:
    found = []
    for doc, note in _variants(document, show):
        if isinstance(doc, str):  # a policy document may be given as a JSON string
            try:
                doc = json.loads(doc)
            except ValueError:
                continue
        if not isinstance(doc, dict):
            continue
        for listed in _listed(doc.get("Statement", [])):
            for statement, inner in _variants(listed, show):
                found += _statement_grants(holder + note + inner, policy + note + inner, statement, show)
    return found


def grants(template: dict, show: Callable = expression) -> set[Grant]:
    """Every grant of every policy in the template; `show` turns a template value into text
    (default: readable expressions; a resolver's output for one environment)."""
    def text(value):
        if isinstance(value, dict) and not _is_expression(value):
            return {key: item for key, item in ((key, text(item)) for key, item in value.items()) if item is not NO_VALUE}
        if isinstance(value, list):
            return [shown for shown in map(text, value) if shown is not NO_VALUE]
        shown = show(value)
        return shown if shown is NO_VALUE or isinstance(shown, (str, dict, list)) else str(shown)

    resources = template.get("Resources") or {}
    found: set[Grant] = set()
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if not isinstance(props, dict):
            continue
        if kind == "AWS::IAM::Role":
            trust = f"{logical_id} (trust)"
            found.update(_document_grants(trust, trust, props.get("AssumeRolePolicyDocument"), text))
            for listed in _listed(props.get("Policies", [])):
                for policy, note in _variants(listed, text):
                    if isinstance(policy, dict):
                        name = f"{logical_id}/{text(policy.get('PolicyName', '?'))}{note}"
                        found.update(_document_grants(logical_id + note, name, policy.get("PolicyDocument"), text))
            for listed in _listed(props.get("ManagedPolicyArns", [])):
                for managed, note in _variants(listed, text):
                    found.add(Grant(logical_id + note, "Allow", NONE, MANAGED_POLICY, str(text(managed)), NONE, logical_id + note))
        elif kind in IDENTITY_POLICIES:
            # A policy attached to one role of this template alone belongs to that role: a statement
            # moving between it and the role's inline policies is no change.
            roles = _listed(props.get("Roles", []))
            attached = roles[0].get("Ref") if len(roles) == 1 and isinstance(roles[0], dict) and set(roles[0]) == {"Ref"} else None
            holder = attached if isinstance(attached, str) and attached in resources else logical_id
            found.update(_document_grants(holder, logical_id if holder == logical_id else f"{holder} ({logical_id})",
                                          props.get("PolicyDocument"), text))
        elif kind in RESOURCE_POLICIES:
            key, label = RESOURCE_POLICIES[kind]
            place = f"{logical_id} ({label})"
            found.update(_document_grants(place, place, props.get(key), text))
        elif kind == "AWS::Lambda::Permission":
            # The statement Lambda adds to the function's resource policy: SourceArn and SourceAccount
            # become its conditions (ArnLike AWS:SourceArn, as add-permission writes them):
            # https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html
            function = _strings(text(props.get("FunctionName", NONE)))[0]
            condition = {}
            if "SourceArn" in props:
                condition["ArnLike"] = {"AWS:SourceArn": text(props["SourceArn"])}
            if "SourceAccount" in props:
                condition["StringEquals"] = {"AWS:SourceAccount": text(props["SourceAccount"])}
            principal = str(text(props.get("Principal", NONE)))
            kind_of_principal = "Service" if principal.endswith(".amazonaws.com") else "AWS"
            found.add(Grant(f"{function} (function policy)", "Allow", f"{kind_of_principal}:{principal}", str(text(props.get("Action", NONE))),
                            function, json.dumps(condition, sort_keys=True) if condition else NONE, f"{function} ({logical_id})"))
        elif kind in SAM_POLICY_TYPES:
            for index, listed in enumerate(_listed(props.get("Policies", []))):
                for policy, note in _variants(listed, text):
                    holder, name = logical_id + note, f"{logical_id}/Policies[{index}]{note}"
                    if isinstance(policy, dict) and "Statement" in policy:
                        found.update(_document_grants(holder, name, policy, text))
                    elif isinstance(policy, str) or _is_expression(policy):  # a managed policy by name or ARN
                        found.add(Grant(holder, "Allow", NONE, MANAGED_POLICY, str(text(policy)), NONE, name))
                    elif isinstance(policy, dict):  # a SAM policy template such as {"SQSSendMessagePolicy": {...}}
                        for template_name, arguments in policy.items():
                            found.add(Grant(holder, "Allow", NONE, f"(SAM policy template {template_name})",
                                            json.dumps(text(arguments), sort_keys=True), NONE, name))
    return found


# --- broadening ---------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern:
    """IAM wildcards: * any characters, ? one character; everything else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _covers(wide: str, narrow: str, *, ignore_case: bool = False) -> bool:
    """Whether `wide` allows all `narrow` does. A NotAction/NotResource entry covers nothing but
    itself: what it leaves out is not compared."""
    if wide == narrow:
        return True
    if wide.startswith("NOT ") or narrow.startswith("NOT "):
        return False
    return bool(_pattern(wide, ignore_case).fullmatch(narrow))


def _condition(grant: Grant) -> dict:
    """The grant's condition with its keys lower-cased (IAM compares condition keys case-insensitively)."""
    if grant.condition == NONE:
        return {}
    return {operator: {key.lower(): value for key, value in pairs.items()} if isinstance(pairs, dict) else pairs
            for operator, pairs in json.loads(grant.condition).items()}


def _weaker_condition(old: dict, new: dict) -> str:
    """'' when `new` restricts at least as much as `old` (every old operator and key is still there
    with no more values), else why not."""
    for operator, pairs in old.items():
        if not isinstance(pairs, dict):
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
    if grant.action == MANAGED_POLICY or grant.action.startswith("(SAM policy template"):
        # What an attached policy allows is not in the template: a newly attached one is read as a broadening.
        if not any(old.holder == grant.holder and (old.action, old.resource) == (grant.action, grant.resource) for old in before):
            return "attaches a policy"
        return ""
    same_holder = [old for old in before if old.holder == grant.holder and old.effect == "Allow"]
    if grant.principal != NONE and not any(_covers(old.principal, grant.principal) or old.principal in ("*", "AWS:*")
                                           for old in same_holder):
        return "new principal"
    same_principal = [old for old in same_holder if old.principal == grant.principal or old.principal in ("*", "AWS:*")]
    by_action = [old for old in same_principal if _covers(old.action, grant.action, ignore_case=True)]
    if not by_action:
        if grant.action.startswith("NOT "):
            return "NotAction: every other action"
        wider = any(_covers(grant.action, old.action, ignore_case=True) for old in same_principal)
        return "wider action" if wider else "new action"
    by_resource = [old for old in by_action if _covers(old.resource, grant.resource)]
    if not by_resource:
        if grant.resource.startswith("NOT "):
            return "NotResource: every other resource"
        wider = any(_covers(grant.resource, old.resource) for old in by_action)
        return "wider resource" if wider else "new resource"
    reasons = [_weaker_condition(_condition(old), _condition(grant)) for old in by_resource]
    return "" if "" in reasons else ("removed condition" if "removed condition" in reasons else "changed condition")


def iam_changes(before: set[Grant], after: set[Grant]) -> list[Change]:
    """Added and removed grants, broadenings first (then by place); a removed Deny is a broadening."""
    changes = [Change("+", grant, broadening(grant, before)) for grant in sorted(after - before)]
    changes += [Change("-", grant, "removed deny" if grant.effect == "Deny" else "") for grant in sorted(before - after)]
    return sorted(changes, key=lambda change: (not change.broadening, change.grant.holder, change.sign, change.grant))


def template_changes(old: dict | None, new: dict | None) -> list[Change]:
    """The IAM changes from template `old` to `new` (None: a stack added or removed)."""
    return iam_changes(grants(old or {}), grants(new or {}))


# --- the table: one set of columns for the terminal and for Markdown ----------------------------

HEADER = ("why", "+/-", "where", "effect", "principal", "action", "resource", "condition")


def _condition_text(grant: Grant) -> str:
    if grant.condition == NONE:
        return NONE
    parts = []
    for operator, pairs in json.loads(grant.condition).items():
        if isinstance(pairs, dict):
            parts += [f"{operator} {key}={value}" for key, value in pairs.items()]
        else:
            parts.append(f"{operator}={pairs}")
    return "; ".join(parts)


def table_rows(changes: list[Change]) -> list[tuple[str, ...]]:
    """One row per change, in HEADER's columns: why it broadens ('' when it does not), + or -,
    where it is written, effect, principal, action, resource, condition."""
    return [(change.broadening, change.sign, change.grant.policy or change.grant.holder, change.grant.effect,
             change.grant.principal, change.grant.action, change.grant.resource, _condition_text(change.grant))
            for change in changes]


def _text_table(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def broadening_lines(stack: str, changes: list[Change]) -> list[str]:
    """The broadenings of a diff in a table of their own (printed before everything else)."""
    broadenings = [change for change in changes if change.broadening]
    if not broadenings:
        return []
    return [f"{stack}: IAM broadenings ({len(broadenings)}), review these first:",
            *_text_table([HEADER, *table_rows(broadenings)])]


def change_lines(stack: str, changes: list[Change]) -> list[str]:
    """Every IAM change of a diff, + added and - removed, broadenings first."""
    if not changes:
        return []
    return [f"{stack}: IAM changes ({len(changes)}):", *_text_table([HEADER, *table_rows(changes)])]


def markdown_lines(changes: list[Change]) -> list[str]:
    """The same table as `diff` prints, in Markdown (the pull request summary)."""
    def code(text: str) -> str:
        return "–" if text in (NONE, "") else "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"

    lines = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    for why, sign, where, effect, *values in table_rows(changes):
        lines.append("| " + " | ".join([f"**{why}**" if why else " ", sign, code(where), effect, *map(code, values)]) + " |")
    return lines
