"""The one IAM-change table of `diff` (render vs disk), `diff --live` and `summary`: grants compared
one action on one resource at a time within the role or resource policy that holds them,
broadenings (new action, new or wider resource, removed or changed condition, new principal,
removed Deny, an attached policy) called out first, `--fail-on-broadening` for CI."""

from __future__ import annotations

import copy

import pytest

from generator.review.event_simulator import Resolver
from generator.review.iam_changes import Grant, broadening, grants, iam_changes, markdown_lines, template_changes
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
        Grant("Queue (queue policy)", "Allow", "Service:events.amazonaws.com", "sqs:SendMessage", "Q.Arn", '{"ArnEquals": {"aws:SourceArn": "Rule.Arn"}}'),
        Grant("Key (key policy)", "Allow", "AWS:arn:${AWS::Partition}:iam::${AWS::AccountId}:root", "kms:*", "*", "-"),
        # as the statement Lambda writes into the function's policy
        Grant("${Fn} (function policy)", "Allow", "Service:events.amazonaws.com", "lambda:InvokeFunction", "${Fn}",
              '{"ArnLike": {"AWS:SourceArn": "Rule.Arn"}}'),
    }
    (permission,) = [g for g in grants(template) if g.action == "lambda:InvokeFunction"]
    assert permission.policy == "${Fn} (Permission)"


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


def test_a_statement_moving_between_the_policies_of_one_role_or_renamed_is_no_change():
    """Where a grant is written inside one role (which inline policy, a managed policy attached to
    that role alone, a Sid) is not a change; moving it to another role is."""
    def template(inline, attached, *, policy_name="task"):
        base = role(inline)
        base["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyName"] = policy_name
        base["Resources"]["Extra"] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Roles": [{"Ref": "TaskRole"}], "PolicyDocument": {"Statement": attached}}}
        return base

    assert template_changes(template([READ], []), template([], [READ])) == []
    assert template_changes(template([READ], []), template([dict(READ, Sid="Renamed")], [], policy_name="other")) == []
    (added,) = [c for c in template_changes(template([], []), template([], [READ])) if c.added]
    assert (added.broadening, added.grant.holder, added.grant.policy) == ("new action", "TaskRole", "TaskRole (Extra)")
    other_role = copy.deepcopy(role([]))
    other_role["Resources"]["OtherRole"] = role([READ])["Resources"]["TaskRole"]
    assert [(c.sign, c.grant.holder, c.broadening) for c in template_changes(role([READ]), other_role)] == [
        ("+", "OtherRole", "new action"), ("+", "OtherRole (trust)", "new principal"), ("-", "TaskRole", "")]


def test_condition_keys_compare_case_insensitively_and_values_do_not():
    lower = {**READ, "Condition": {"StringEquals": {"aws:sourceaccount": "1"}}}
    upper = {**READ, "Condition": {"StringEquals": {"AWS:SourceAccount": "1"}}}
    assert [c.broadening for c in template_changes(role([lower]), role([upper])) if c.added] == [""]
    other_value = {**READ, "Condition": {"StringEquals": {"aws:SourceAccount": "2"}}}
    assert [c.broadening for c in template_changes(role([upper]), role([other_value])) if c.added] == ["changed condition"]


def test_a_new_managed_policy_or_a_not_action_broadens():
    attached = role([READ])
    attached["Resources"]["TaskRole"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert [(c.grant.action, c.broadening) for c in template_changes(role([READ]), attached)] == [
        ("(managed policy)", "attaches a policy")]
    assert template_changes(attached, copy.deepcopy(attached)) == []
    everything_else = {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}
    assert [(c.grant.action, c.broadening) for c in template_changes(role([READ]), role([READ, everything_else]))] == [
        ("NOT iam:*", "NotAction: every other action")]


def test_a_statement_under_fn_if_is_read_in_both_branches_offline_and_in_the_picked_one_live():
    conditional = {"Fn::If": ["HasKey", {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Ref": "KeyArn"}},
                              {"Ref": "AWS::NoValue"}]}
    template = role([READ, conditional])
    template["Conditions"] = {"HasKey": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KeyArn"}, ""]}]}}
    template["Parameters"] = {"KeyArn": {"Type": "String", "Default": ""}}
    offline = {g for g in grants(template) if g.action == "kms:Decrypt"}
    assert [(g.holder, g.resource) for g in offline] == [("TaskRole when HasKey", "${KeyArn}")]
    (change,) = template_changes(role([READ]), template)
    assert (change.sign, change.grant.action, change.broadening) == ("+", "kms:Decrypt", "new action")
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
    key = "arn:aws:kms:eu-west-1:123456789012:key/1"
    with_key = Resolver(template, {"KeyArn": key}, pseudo).resolve
    without_key = Resolver(template, {"KeyArn": ""}, pseudo).resolve
    assert {(g.holder, g.resource) for g in grants(template, with_key) if g.action == "kms:Decrypt"} == {("TaskRole", key)}
    assert not [g for g in grants(template, without_key) if g.action == "kms:Decrypt"]


def test_the_markdown_table_has_the_diff_columns_and_rows():
    changes = template_changes(role([READ]), role([READ, {**READ, "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::a|b"}]))
    assert markdown_lines(changes) == [
        "| why | +/- | where | effect | principal | action | resource | condition |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        "| **new action** | + | `TaskRole/task` | Allow | – | `s3:PutObject` | `arn:aws:s3:::a\\|b` | – |",
    ]


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
    assert lines[1].split() == ["why", "+/-", "where", "effect", "principal", "action", "resource", "condition"]
    assert lines[2].split() == ["new", "action", "+", "TaskRole/task", "Allow", "-", "s3:PutObject", "arn:${AWS::Partition}:s3:::sample-bucket-*/test/aaa/*", "-"]
    assert "batch-base: resources changed TaskRole" in lines
    table = lines.index("batch-base: IAM changes (1):")
    assert lines[table + 2].split() == ["new", "action", "+", "TaskRole/task", "Allow", "-", "s3:PutObject", "arn:${AWS::Partition}:s3:::sample-bucket-*/test/aaa/*", "-"]
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
