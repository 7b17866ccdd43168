"""The IAM-change table of `diff` (render vs disk) and `diff --live`: grants compared one action on
one resource at a time, broadenings (new action, new or wider resource, removed or changed
condition, new principal, removed Deny) called out first, `--fail-on-broadening` for CI."""

from __future__ import annotations

import copy

import pytest

from generator.commands.iam_diff import Grant, broadening, grants, iam_changes
from support.paths import snapshot


def role(statements: list[dict], trust: dict | None = None) -> dict:
    return {"Resources": {"TaskRole": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust or {
            "Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com"]}, "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}}]},
        "Policies": [{"PolicyName": "task", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]}}}}


READ = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::bucket/in/*"]}


def why(before: dict, after: dict) -> list[tuple[str, str, str]]:
    return [(c.sign, c.grant.action, c.broadening) for c in iam_changes(grants(before), grants(after))]


def test_grants_are_one_action_on_one_resource_so_regrouping_is_no_change():
    split = role([{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::a/*"]},
                  {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::a/*"]}])
    merged = role([{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::a/*"}])
    assert grants(split) == grants(merged)
    assert iam_changes(grants(split), grants(merged)) == []


@pytest.mark.parametrize("after, expected", [
    ([READ, {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::bucket/in/*"]}], [("+", "s3:PutObject", "new action")]),
    ([{**READ, "Action": ["s3:Get*"]}], [("+", "s3:Get*", "wider action"), ("-", "s3:GetObject", "")]),
    ([{**READ, "Resource": ["arn:aws:s3:::bucket/*"]}], [("+", "s3:GetObject", "wider resource"), ("-", "s3:GetObject", "")]),
    ([{**READ, "Resource": ["arn:aws:s3:::other/*"]}], [("+", "s3:GetObject", "new resource"), ("-", "s3:GetObject", "")]),
    ([{**READ, "Resource": ["arn:aws:s3:::bucket/in/today/*"]}], [("+", "s3:GetObject", ""), ("-", "s3:GetObject", "")]),  # narrower
    ([], [("-", "s3:GetObject", "")]),
])
def test_added_grants_are_classified(after, expected):
    assert why(role([READ]), role(after)) == expected


def test_conditions_removed_or_changed_broaden_and_added_ones_do_not():
    cluster = {**READ, "Condition": {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:1:cluster/a"}}}
    assert why(role([cluster]), role([READ])) == [("+", "s3:GetObject", "removed condition"), ("-", "s3:GetObject", "")]
    other = copy.deepcopy(cluster)
    other["Condition"]["ArnEquals"]["ecs:cluster"] = "arn:aws:ecs:us-east-1:1:cluster/b"
    assert why(role([cluster]), role([other]))[0] == ("+", "s3:GetObject", "changed condition")
    both = copy.deepcopy(cluster)
    both["Condition"]["StringEquals"] = {"aws:SourceAccount": "1"}
    assert why(role([cluster]), role([both])) == [("+", "s3:GetObject", ""), ("-", "s3:GetObject", "")]


def test_a_removed_deny_and_a_new_principal_broaden():
    deny = {"Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": ["*"]}
    assert why(role([READ, deny]), role([READ])) == [("-", "s3:DeleteObject", "removed deny")]
    anyone = {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}
    changes = iam_changes(grants(role([READ])), grants(role([READ], trust=anyone)))
    assert [(c.sign, c.grant.principal, c.broadening) for c in changes] == [
        ("+", "Service:lambda.amazonaws.com", "new principal"), ("-", "Service:ecs-tasks.amazonaws.com", "")]


def test_resource_policies_key_policies_and_lambda_permissions_are_read():
    template = {"Resources": {
        "Queue": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Q", "Arn"]},
             "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}}}}]}}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}, "Action": "kms:*", "Resource": "*"}]}}},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "Fn"},
                                                                         "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}}},
    }}
    assert grants(template) == {
        Grant("Queue", "Allow", "Service:events.amazonaws.com", "sqs:SendMessage", "Q.Arn", '{"ArnEquals": {"aws:SourceArn": "Rule.Arn"}}'),
        Grant("Key", "Allow", "AWS:arn:${AWS::Partition}:iam::${AWS::AccountId}:root", "kms:*", "*", "-"),
        Grant("Permission", "Allow", "events.amazonaws.com", "lambda:InvokeFunction", "${Fn}", '{"SourceArn": "Rule.Arn"}'),
    }


def test_an_unchanged_grant_is_no_broadening_even_when_its_statement_moved():
    before = grants(role([READ]))
    (grant,) = [g for g in before if g.action == "s3:GetObject"]
    assert broadening(grant, before) == ""


def test_every_example_stack_lists_its_grants():
    """Every rendered example has policies, and the render compared with itself has no IAM change."""
    from support.paths import REPO
    from generator.core.manifest import load_manifest
    from generator.core.render import render_stack

    for spec in load_manifest(REPO / "stacks.toml").values():
        template = render_stack(spec, manifest_name="stacks.toml").template
        assert grants(template), spec.name
        assert iam_changes(grants(template), grants(copy.deepcopy(template))) == []


# --- the `diff` command ----------------------------------------------------------------------------------


@pytest.fixture
def rendered(project, run_cli):
    assert run_cli("render", cwd=project).code == 0
    return project


def test_diff_lists_iam_broadenings_first_and_fail_on_broadening_exits_1(rendered, run_cli):
    manifest = rendered / "stacks.toml"
    manifest.write_text(manifest.read_text().replace('{ actions = ["s3:GetObject"], resources = ["arn:{partition}:s3:::sample-bucket-*/test/aaa/*"] }',
                                                     '{ actions = ["s3:GetObject", "s3:PutObject"], resources = ["arn:{partition}:s3:::sample-bucket-*/test/aaa/*"] }'))
    before = snapshot(rendered)
    result = run_cli("diff", cwd=rendered)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "batch-base: IAM broadenings (1), review these first:"
    assert lines[2].split() == ["new", "action", "TaskRole/task", "Allow", "-", "s3:PutObject", "arn:${AWS::Partition}:s3:::sample-bucket-*/test/aaa/*", "-"]
    assert "batch-base: resources changed TaskRole" in lines
    table = lines.index("batch-base: IAM changes (1):")
    assert lines[table + 2].split() == ["+", "TaskRole/task", "Allow", "-", "s3:PutObject", "arn:${AWS::Partition}:s3:::sample-bucket-*/test/aaa/*", "-"]
    assert table < next(i for i, line in enumerate(lines) if line.startswith("--- "))  # before the unified diff
    failing = run_cli("diff", "--fail-on-broadening", cwd=rendered)
    assert failing.code == 1 and failing.err == "failed: IAM broadening in batch-base (--fail-on-broadening)\n"
    assert snapshot(rendered) == before


def test_diff_fail_on_broadening_passes_a_narrowing(rendered, run_cli):
    manifest = rendered / "stacks.toml"
    manifest.write_text(manifest.read_text().replace("sample-bucket-*/test/aaa/*", "sample-bucket-*/test/aaa/in/*"))
    result = run_cli("diff", "--fail-on-broadening", cwd=rendered)
    assert result.code == 0, result.err
    assert "IAM broadenings" not in result.out
    assert "batch-base: IAM changes (2):" in result.out


def test_diff_without_live_refuses_aws_options(rendered, run_cli):
    result = run_cli("diff", "--env", "dev", cwd=rendered)
    assert (result.code, result.err) == (2, "error: --live: --env, --endpoint-url and --profile compare with deployed stacks: add --live\n")
