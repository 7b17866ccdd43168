"""ARN construction: always through ${AWS::Partition}/${AWS::Region}/${AWS::AccountId}, never `arn:aws:`."""

from __future__ import annotations

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
