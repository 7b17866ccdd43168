"""ARNs: built always through ${AWS::Partition}/${AWS::Region}/${AWS::AccountId}, never `arn:aws:`;
and read back from a template (as_text), to tell an ARN as wide as "*" (is_wildcard_resource), which
both a blueprint (refusing it at render) and the policy rule E9003 (flagging it at lint) ask."""

from __future__ import annotations

import re
from typing import Any

from troposphere import AWSHelperFn, Ref, Sub


def sub(text: str, **values) -> Sub:
    """Fn::Sub of `text`; a value that is a plain Ref is written inline as ${Name} (readable), any
    other expression (ImportValue, Select…) goes into the variables map."""
    variables = {}
    for name, value in values.items():
        if isinstance(value, Ref) and isinstance(value.data["Ref"], str):
            text = text.replace(f"${{{name}}}", f"${{{value.data['Ref']}}}")
        elif isinstance(value, (AWSHelperFn, str)):
            variables[name] = value
        else:
            raise TypeError(f"cannot substitute {value!r}")
    return Sub(text, variables) if variables else Sub(text)


def arn(service: str, resource: str, *, region: bool = True, account: bool = True, **values) -> Sub:
    """An ARN in this stack's partition; `resource` may use ${Name} placeholders filled from values."""
    region_part = "${AWS::Region}" if region else ""
    account_part = "${AWS::AccountId}" if account else ""
    return sub(f"arn:${{AWS::Partition}}:{service}:{region_part}:{account_part}:{resource}", **values)


# --- reading strings built by intrinsic functions ---------------------------------------

# ${Name} in an Fn::Sub string; ${!Name} is a literal "${Name}", left alone.
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]*)\}")
# Anything written ${...} in the text as_text returns: a parameter, a pseudo parameter, an
# attribute, or an IAM policy variable (${aws:username}); never a wildcard.
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_UNKNOWN = "${?}"  # a value that cannot be read here


def as_text(value: Any) -> str | None:
    """A string value as text, intrinsic functions written as Fn::Sub would write them.

    ``"x"`` -> ``"x"``; ``{"Ref": "P"}`` -> ``"${P}"``; ``{"Fn::GetAtt": ["R", "A"]}`` -> ``"${R.A}"``;
    ``Fn::Sub`` -> its string (variables given in its map put in); ``Fn::Join`` -> the joined parts.
    None for anything else (``Fn::ImportValue``, ``Fn::If``...), which cannot be read here.
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (function, args), = value.items()
    if function == "Ref" and isinstance(args, str):
        return f"${{{args}}}"
    if function == "Fn::GetAtt":
        if isinstance(args, list) and len(args) == 2 and all(isinstance(arg, str) for arg in args):
            return f"${{{args[0]}.{args[1]}}}"
        return f"${{{args}}}" if isinstance(args, str) else None
    if function == "Fn::Sub":
        if isinstance(args, str):
            return args
        if isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], dict):
            variables = args[1]

            def put_in(found: re.Match[str]) -> str:
                if found.group(1) not in variables:
                    return found.group(0)
                text = as_text(variables[found.group(1)])
                return _UNKNOWN if text is None else text

            return _SUB_VARIABLE.sub(put_in, args[0])
        return None
    if function == "Fn::Join":
        if isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], list):
            parts = [as_text(part) for part in args[1]]
            return None if any(part is None for part in parts) else args[0].join(parts)  # type: ignore[arg-type]
        return None
    return None


# --- resources: when is an ARN as wide as "*" --------------------------------------------
#
# A Resource value counts as "*" when it is "*" itself, or an ARN
# (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, RESOURCE being everything after the 5th colon) that
#   1. has a RESOURCE made of wildcards only: "*", "*/*", "*:*"
#      (arn:aws:s3:::*, arn:${AWS::Partition}:sqs:*:*:*, arn:...:sqs:${AWS::Region}:${AWS::AccountId}:*), or
#   2. has REGION and ACCOUNT each "*" or empty (a global service has no region; not both empty) and a
#      RESOURCE whose parts after its resource type are all wildcards: every resource of that type in
#      every account (arn:${AWS::Partition}:kms:*:*:key/*, arn:aws:iam::*:role/*).
# A part is a wildcard when it is made of "*" only. A ${...} placeholder (parameter, pseudo parameter,
# attribute, IAM policy variable) is never a wildcard, and a value that cannot be read (a Ref to a
# parameter, Fn::ImportValue) is not judged. So these stay scoped: task-definition/family:*,
# task/${Cluster}/*, log-group:/ecs/x:*, arn:...:s3:::bucket/*, arn:...:s3:::sample-bucket-*/prefix/*.


def _is_wildcard(part: str) -> bool:
    return bool(part) and set(part) == {"*"}


def is_wildcard_resource(value: Any) -> bool:
    """The Resource entry covers every resource of a service: "*" or an ARN that wide (rules above)."""
    text = as_text(value)
    if text is None:
        return False
    masked = _PLACEHOLDER.sub("\0", text)  # one character that has no colon and is not "*"
    if _is_wildcard(masked):
        return True
    fields = masked.split(":", 5)
    if len(fields) != 6 or fields[0] != "arn":
        return False
    region, account, resource = fields[3], fields[4], fields[5]
    parts = re.split(r"[/:]", resource)
    if all(_is_wildcard(part) for part in parts):
        return True
    any_account = all(field == "" or _is_wildcard(field) for field in (region, account)) and bool(region or account)
    return any_account and len(parts) > 1 and all(_is_wildcard(part) for part in parts[1:])
