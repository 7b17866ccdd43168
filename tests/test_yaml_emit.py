"""Tests for generator.emit.yaml_emitter.dump_yaml.

The main oracle is cfn-lint's CloudFormation YAML loader: whatever we emit
must load back (short tags converted to long form) to exactly the input.
"""

from __future__ import annotations

import math
import random

import pytest
from cfnlint.decode.cfn_yaml import loads
from troposphere import (
    Equals,
    GetAtt,
    If,
    Output,
    Parameter,
    Ref,
    Sub,
    Template,
)
from troposphere import events, iam, sqs

from generator.emit.yaml_emitter import dump_yaml


def canon(value):
    """Plain, type-tagged copy of loaded/input data.

    cfn-lint returns dict_node/list_node/str_node subclasses; converting them
    to plain types and tagging scalars with their type makes the comparison
    strict (1 vs True vs 1.0 vs "1" all differ).
    """
    if isinstance(value, dict):
        return {canon(k): canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canon(v) for v in value]
    if isinstance(value, str):
        return ("str", str(value))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", value)
    if value is None:
        return ("null", None)
    raise TypeError(type(value))


def roundtrip(data: dict):
    text = dump_yaml(data)
    return text, loads(text)


def assert_roundtrip(data: dict) -> str:
    text, loaded = roundtrip(data)
    assert canon(loaded) == canon(data), text
    assert text.endswith("\n") and not text.endswith("\n\n"), text
    return text


# --------------------------------------------------------------------------
# Corpus of tricky scalars
# --------------------------------------------------------------------------

TRICKY_STRINGS = [
    # YAML 1.1 / 1.2 implicit types
    "true", "false", "True", "FALSE", "yes", "no", "Yes", "NO", "on", "off",
    "On", "OFF", "y", "n", "Y", "N", "null", "Null", "NULL", "~", "",
    "1", "-1", "+1", "0", "007", "0128", "012345678912", "1_000", "0x1F",
    "0o17", "0b101", "1e3", "1E-3", "1.5", ".5", "5.", "-.inf", ".inf",
    ".NaN", "1:20", "190:20:30.15", "2024-01-01", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5", "<<", "=",
    # whitespace
    " ", "  ", " lead", "trail ", " both ", "\t", "a\tb", "tab\t",
    # indicators at the start
    "-", "- x", "-x", "--", "---", "...", "... x", "?", "? x", "?x", ":", ": x",
    ":x", ",x", "[x]", "]", "{x}", "}", "#x", "&anchor", "*alias", "!tag",
    "|x", ">x", "'quoted'", '"dq"', "%x", "@x", "`x",
    # inside
    "a: b", "a:b", "a:", "a #b", "a#b", "a,b", "a[0]", "key: value # c",
    "it's", "say \"hi\"", "back\\slash", "C:\\path\\to", "'", '"', "\\",
    "arn:aws:iam::123456789012:role/x", "${AWS::StackName}-x",
    "cron(0 3 * * ? *)", "rate(5 minutes)", "*", "a*b", "a!b", "a&b",
    # control / special characters
    "\x00", "nul\x00x", "bell\x07", "\x1b[31m", "del\x7f", "\x85nel", "a\x85b",
    "\u2028", "a\u2029b", "\ufeffbom", "\r", "cr\rlf", "a\r\nb", "\x9f",
    "\ufffe", "\uffff",
    # non-ASCII
    "日本語のテキスト", "ジョブ: 毎日", "emoji 😀 🚀", "\u00a0nbsp\u00a0",
    "Ünïcödé", "\U0001f600",
    # multi-line
    "a\nb", "a\nb\n", "a\nb\n\n", "a\n\n\n", "\n", "\n\n", "\nx", "\n\nx\n",
    " lead\nline", "  two\n    four\n", "trail \nx", "x\ntrail ", "x\n \ny",
    "x\n\ty", "#!/bin/bash\nset -euo pipefail\necho \"${A}\"\n",
    "line: with colon\n- dash\n# hash\n", "x\r\ny\n", "a\n\x00",
    # long
    "x" * 1024, "word " * 300 + "end", '{"k": "' + "v" * 2000 + '"}',
]

ECS_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Transform": "AWS::Serverless-2016-10-31",
    "Description": "バッチジョブ: nightly export",
    "Parameters": {
        "Env": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"},
        "Count": {"Type": "Number", "Default": 1, "MinValue": 0},
    },
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "NotProd"}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]},
    },
    "Mappings": {"Region": {"us-east-1": {"Ami": "ami-0123"}, "ap-northeast-1": {"Ami": "ami-0456"}}},
    "Resources": {
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "cron(0 3 * * ? *)",
                "State": {"Fn::If": ["IsProd", "ENABLED", "DISABLED"]},
                "Targets": [
                    {
                        "Id": "job",
                        "Arn": {"Fn::GetAtt": ["Cluster", "Arn"]},
                        "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                        "Input": '{"containerOverrides":[{"name":"app","command":["a","b"]}]}',
                        "EcsParameters": {
                            "TaskDefinitionArn": {"Ref": "Task"},
                            "TaskCount": 1,
                            "NetworkConfiguration": {
                                "AwsVpcConfiguration": {
                                    "Subnets": {"Fn::Split": [",", {"Fn::ImportValue": "subnets"}]},
                                    "AssignPublicIp": "DISABLED",
                                }
                            },
                        },
                    }
                ],
            },
        },
        "Task": {
            "Type": "AWS::ECS::TaskDefinition",
            "Condition": "IsProd",
            "Properties": {
                "Cpu": "256",
                "Memory": "512",
                "ContainerDefinitions": [
                    {
                        "Name": "app",
                        "Image": {"Fn::Sub": ["${Repo}:latest", {"Repo": {"Fn::ImportValue": {"Fn::Sub": "${Env}-repo"}}}]},
                        "Command": ["python", "-m", "job", "--since", "2024-01-01"],
                        "Environment": [
                            {"Name": "TZ", "Value": "Asia/Tokyo"},
                            {"Name": "DEBUG", "Value": "false"},
                            {"Name": "JSON", "Value": '{"a": [1, 2], "b": "c: d # e"}'},
                        ],
                        "EntryPoint": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
                        "Essential": True,
                    }
                ],
                "UserDataLike": {"Fn::Base64": {"Fn::Sub": "#!/bin/bash\necho ${AWS::Region}\n"}},
                "Ami": {"Fn::FindInMap": ["Region", {"Ref": "AWS::Region"}, "Ami"]},
                "Cidrs": {"Fn::Cidr": [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}, 6, 5]},
                "Joined": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b/*"]]},
                "NestedGetAtt": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
                "GetAttRef": {"Fn::GetAtt": ["Res", {"Ref": "AttrName"}]},
                "NoValue": {"Ref": "AWS::NoValue"},
            },
        },
    },
    "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Task", "Arn"]}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-arn"}}}},
}


def test_roundtrip_tricky_strings_as_values_keys_and_list_items():
    data = {
        "Values": {f"k{i}": s for i, s in enumerate(TRICKY_STRINGS)},
        "Items": list(TRICKY_STRINGS),
        "Nested": [[{"deep": [s]}] for s in TRICKY_STRINGS],
        "Subs": [{"Fn::Sub": s} for s in TRICKY_STRINGS],
        "Refs": [{"Ref": s} for s in TRICKY_STRINGS],
    }
    assert_roundtrip(data)
    # Keys go through the same quoting rules (multi-line keys get double quotes).
    assert_roundtrip({s: i for i, s in enumerate(TRICKY_STRINGS)})


@pytest.mark.parametrize("s", TRICKY_STRINGS, ids=lambda s: repr(s)[:40])
def test_roundtrip_each_tricky_string(s):
    # One document per value so a failure names the culprit.
    assert_roundtrip({"Key": s, "List": [s, {"Inner": s}], s: "as key"})


@pytest.mark.parametrize(
    "value",
    [0, 1, -1, 10**20, 1.5, -0.25, 1e16, 1e-05, 2.0, float("inf"), float("-inf"), True, False, None],
    ids=repr,
)
def test_roundtrip_non_string_scalars(value):
    text = assert_roundtrip({"V": value, "L": [value]})
    assert text.startswith("V: ")


def test_nan_is_emitted_as_yaml_nan():
    loaded = loads(dump_yaml({"V": float("nan")}))
    assert math.isnan(loaded["V"])


def test_roundtrip_ecs_style_template():
    text = assert_roundtrip(ECS_TEMPLATE)
    # JSON strings stay on one line, single-quoted, untouched.
    assert "Input: '{\"containerOverrides\":[{\"name\":\"app\",\"command\":[\"a\",\"b\"]}]}'\n" in text
    assert "Description: 'バッチジョブ: nightly export'\n" in text
    assert "NestedGetAtt: !GetAtt Db.Endpoint.Address\n" in text
    assert "AWSTemplateFormatVersion: '2010-09-09'\n" in text


def test_roundtrip_long_single_line_string_is_not_folded():
    long = "x" * 1024
    text = assert_roundtrip({"Long": long, "Json": '{"a":"' + "b " * 600 + '"}'})
    assert f"Long: {long}\n" in text
    assert text.count("\n") == 2


def test_roundtrip_empty_collections_and_edge_shapes():
    data = {
        "EmptyDict": {},
        "EmptyList": [],
        "ListOfEmpty": [[], {}, [[]], [{}]],
        "ListOfLists": [[1, [2, [3]]], ["a"]],
        "NotIntrinsic": {"Ref": "X", "Other": 1},
        "FnKeyInMap": {"Fn::Sub": "x", "Fn::Join": ["", []]},
        "EmptyArgs": {"Fn::And": []},
        "EmptyMapArg": {"Fn::Transform": {}},
        "Transform": {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "s3://b/k"}}},
        "IntArg": {"Fn::Base64": 1},
        "BoolRef": {"Ref": True},
        "StringGetAtt": {"Fn::GetAtt": "Res.Arn"},
        "DottedResource": {"Fn::GetAtt": ["Res.X", "Arn"]},
        "UnknownFn": {"Fn::ForEach::Topics": ["T", ["a"], {"Q${T}": {"Type": "AWS::SNS::Topic"}}]},
        "MultilineSub": {"Fn::Sub": "line1 ${A}\n  line2\n"},
        "MultilineIfBranch": {"Fn::If": ["C", "a\nb", {"Ref": "AWS::NoValue"}]},
        "x" * 1100: "very long key",
        "Last": "ends with blank lines\n\n",
    }
    assert_roundtrip(data)


def test_randomized_roundtrip():
    rng = random.Random(20240601)
    alphabet = (
        [chr(c) for c in range(0x20, 0x7F)] * 3
        + list("\n\n\n    ")
        + list("\t\r\x00\x07\x1b\x7f\x85\xa0\u2028\u2029\ufeff")
        + list("日本語テキストé😀—")
        + ["- ", ": ", " #", "'", '"', "\\", "${", "}", "\n\n", "  "]
    )
    samples = []
    for _ in range(3000):
        n = rng.choice([0, 1, 2, 3, 5, 8, 20, 60])
        samples.append("".join(rng.choice(alphabet) for _ in range(n)))
    # Several containers so literal blocks are tested at various depths and
    # both after "Key:" and after "-".
    data = {
        "Values": {f"v{i}": s for i, s in enumerate(samples)},
        "Keys": {s: i for i, s in enumerate(samples)},
        "Items": samples,
        "Deep": [{"a": [[{"b": s}]]} for s in samples[:500]],
        "Tagged": [{"Fn::Sub": s} for s in samples[:500]],
    }
    text, loaded = roundtrip(data)
    loaded = canon(loaded)
    expected = canon(data)
    for section in expected:
        if loaded[section] != expected[section]:
            # Narrow down to the first bad sample for a readable failure.
            for s in samples:
                assert canon(loads(dump_yaml({"k": s, "l": [s]}))) == canon({"k": s, "l": [s]}), repr(s)
        assert loaded[section] == expected[section], section


# --------------------------------------------------------------------------
# Compatibility with troposphere / cfn-flip output
# --------------------------------------------------------------------------


def _troposphere_template() -> Template:
    t = Template()
    t.set_description("Event-driven batch: queue + rule + role")
    env = t.add_parameter(Parameter("Env", Type="String", AllowedValues=["dev", "prod"]))
    t.add_condition("IsProd", Equals(Ref(env), "prod"))
    queue = t.add_resource(
        sqs.Queue(
            "Queue",
            QueueName=Sub("${AWS::StackName}-queue"),
            MessageRetentionPeriod=If("IsProd", 1209600, 345600),
            RedrivePolicy=sqs.RedrivePolicy(deadLetterTargetArn=GetAtt("Dlq", "Arn"), maxReceiveCount=5),
        )
    )
    t.add_resource(sqs.Queue("Dlq"))
    role = t.add_resource(
        iam.Role(
            "Role",
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            Policies=[
                iam.Policy(
                    PolicyName="send",
                    PolicyDocument={
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": GetAtt(queue, "Arn")}
                        ],
                    },
                )
            ],
        )
    )
    t.add_resource(
        events.Rule(
            "Rule",
            ScheduleExpression="cron(0 3 * * ? *)",
            State=If("IsProd", "ENABLED", "DISABLED"),
            Targets=[
                events.Target(
                    Id="queue",
                    Arn=GetAtt(queue, "Arn"),
                    RoleArn=GetAtt(role, "Arn"),
                    Input='{"containerOverrides":[{"name":"app","command":["a","b"]}]}',
                )
            ],
        )
    )
    t.add_output(Output("QueueUrl", Value=Ref(queue), Description="日本語の説明"))
    return t


def test_matches_troposphere_cfn_flip_output():
    t = _troposphere_template()
    data = t.to_dict()
    ours = dump_yaml(data)
    theirs = t.to_yaml()  # cfn_flip.to_yaml under the hood
    assert canon(loads(ours)) == canon(loads(theirs))
    assert canon(loads(ours)) == canon(data)
    # Same short forms as cfn-flip (which additionally quotes every tagged
    # scalar: "!Ref 'Env'"); ours are quoted only when needed.
    assert "!GetAtt 'Queue.Arn'\n" in theirs
    for fragment in ("Arn: !GetAtt Queue.Arn\n", "- !Ref Env\n", "State: !If\n"):
        assert fragment in ours
    assert "QueueName: !Sub ${AWS::StackName}-queue\n" in ours
    assert "Arn: !GetAtt Queue.Arn\n" in ours
    assert "State: !If\n" in ours


def test_matches_cfn_flip_for_ecs_template():
    import copy
    import json

    import cfn_flip

    data = copy.deepcopy(ECS_TEMPLATE)
    # cfn-flip crashes on a GetAtt whose attribute is itself an intrinsic
    # (it joins the list with "."); we emit the sequence form instead.
    del data["Resources"]["Task"]["Properties"]["GetAttRef"]
    theirs = cfn_flip.to_yaml(json.dumps(data))
    assert canon(loads(dump_yaml(data))) == canon(loads(theirs))


# --------------------------------------------------------------------------
# Determinism, header, exact shape
# --------------------------------------------------------------------------


def test_deterministic_and_preserves_key_order():
    first = dump_yaml(ECS_TEMPLATE)
    assert dump_yaml(ECS_TEMPLATE) == first
    top_keys = [line.split(":")[0] for line in first.splitlines() if line and not line[0].isspace()]
    assert top_keys == list(ECS_TEMPLATE)


def test_header_comes_first():
    text = dump_yaml({"A": 1}, header="# generated by ecs-batch-templates\n# do not edit")
    assert text == "# generated by ecs-batch-templates\n# do not edit\nA: 1\n"
    assert dump_yaml({"A": 1}, header="# one\n") == "# one\nA: 1\n"
    assert loads(text) == {"A": 1}


def test_header_must_be_comments():
    with pytest.raises(ValueError):
        dump_yaml({"A": 1}, header="not a comment")


def test_unsupported_type_raises():
    with pytest.raises(TypeError):
        dump_yaml({"A": object()})
    with pytest.raises(TypeError):
        dump_yaml(["not", "a", "dict"])  # type: ignore[arg-type]


def test_exact_basic_shape():
    assert dump_yaml({"A": {"Ref": "B"}, "L": [1, "x"]}) == "A: !Ref B\nL:\n  - 1\n  - x\n"


def test_exact_empty():
    assert dump_yaml({}) == "{}\n"
    assert dump_yaml({"D": {}, "L": []}) == "D: {}\nL: []\n"


def test_exact_nested_intrinsics_and_compact_lists():
    data = {
        "Key": {"Fn::Join": ["", ["a", "b"]]},
        "Items": [{"Name": "nm", "Value": "v"}, ["x", "y"], {"Fn::If": ["C", {"Ref": "A"}, "z"]}],
        "Att": {"Fn::GetAtt": ["Res", {"Ref": "Name"}]},
        "B64": {"Fn::Base64": {"Fn::Sub": "x"}},
        "Cond": {"Fn::Not": [{"Condition": "C"}]},
    }
    assert dump_yaml(data) == (
        "Key: !Join\n"
        "  - ''\n"
        "  - - a\n"
        "    - b\n"
        "Items:\n"
        "  - Name: nm\n"
        "    Value: v\n"
        "  - - x\n"
        "    - 'y'\n"
        "  - !If\n"
        "    - C\n"
        "    - !Ref A\n"
        "    - z\n"
        "Att: !GetAtt\n"
        "  - Res\n"
        "  - !Ref Name\n"
        "B64: !Base64\n"
        "  Fn::Sub: x\n"
        "Cond: !Not\n"
        "  - !Condition C\n"
    )


def test_exact_scalar_styles():
    data = {
        "Plain": "arn:aws:s3:::bucket/*",
        "Version": "2012-10-17",
        "Bool": "true",
        "Num": "1e3",
        "Quote": "it's: here",
        "Ctrl": "a\tb\x00",
        "Int": 3,
        "Float": 1e16,
        "Flag": False,
        "Nothing": None,
        "Jp": "日本語",
    }
    assert dump_yaml(data) == (
        "Plain: arn:aws:s3:::bucket/*\n"
        "Version: '2012-10-17'\n"
        "Bool: 'true'\n"
        "Num: '1e3'\n"
        "Quote: 'it''s: here'\n"
        'Ctrl: "a\\tb\\0"\n'
        "Int: 3\n"
        "Float: 1.0e+16\n"
        "Flag: false\n"
        "Nothing: null\n"
        "Jp: 日本語\n"
    )


def test_exact_literal_blocks():
    data = {
        "Clip": "a\nb\n",
        "Strip": "a\nb",
        "Keep": "a\n\n",
        "Indented": "  a\nb",
        "InList": ["x\ny"],
        "Script": {"Fn::Sub": "#!/bin/sh\necho ${X}\n"},
        "End": 1,
    }
    assert dump_yaml(data) == (
        "Clip: |\n  a\n  b\n"
        "Strip: |-\n  a\n  b\n"
        "Keep: |+\n  a\n\n"
        "Indented: |2-\n    a\n  b\n"
        "InList:\n  - |-\n    x\n    y\n"
        "Script: !Sub |\n  #!/bin/sh\n  echo ${X}\n"
        "End: 1\n"
    )


def test_trailing_keep_block_at_document_end_still_single_newline():
    text = dump_yaml({"Last": "a\n\n"})
    assert text == 'Last: "a\\n\\n"\n'
    assert loads(text) == {"Last": "a\n\n"}


def test_string_with_trailing_spaces_on_lines_is_double_quoted():
    assert dump_yaml({"S": "a \nb"}) == 'S: "a \\nb"\n'
