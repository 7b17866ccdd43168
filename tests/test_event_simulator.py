"""`test-event`: verdicts and exit status on the example stacks, the simulated target requests (ECS,
Lambda, Step Functions), EventBridge's InputTransformer rules, expression resolution, bad input."""

from __future__ import annotations

import json
import sys

import pytest

from generator.core.errors import UserError
from generator.aws.event_rules import s3_encode
from generator.review.event_simulator import Resolver, apply_input_transformer, evaluate, first_mismatch
from support.paths import REFERENCE_EVENTS

PSEUDO = {"AWS::Region": "eu-west-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::StackName": "s-dev", "AWS::URLSuffix": "amazonaws.com"}


def s3_event(tmp_path, name="event.json", *, bucket="sample-bucket-dev", key="test/aaa/complete.txt", sample="s3-object-created.json"):
    event = json.loads((REFERENCE_EVENTS / sample).read_text())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    path = tmp_path / name
    path.write_text(json.dumps(event, ensure_ascii=False))
    return path


def test_matching_event_prints_the_run_task_request_with_the_transformed_overrides(project, run_cli):
    decoded = 'test/aaa/complete.txt "quoted" \\ 日本'
    key = s3_encode(decoded)  # as S3 sends it: test/aaa/complete.txt+%22quoted%22+%5C+%E6%97%A5%E6%9C%AC
    result = run_cli("test-event", "csv-ingest", str(s3_event(project, key=key)), cwd=project)
    assert result.code == 0, result.err
    header, label, *body, note = result.out.splitlines()
    assert note == f"note: the object key is URL-encoded, as S3 sends it; the target receives it so, and it decodes to {decoded!r}"
    assert header == "csv-ingest (dev): rule ObjectCreatedRule matches"
    assert label == "target RunTask (ECS RunTask request):"
    request = json.loads("\n".join(body))
    assert request == {
        "cluster": "<ImportValue batch-base-dev-ClusterArn>",
        "taskDefinition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/<ImportValue batch-base-dev-TaskFamily>",
        "count": 1,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d", "subnet-1a2b3c4d"], "securityGroups": ["sg-0123456789abcdef0"], "assignPublicIp": "DISABLED"}},
        "overrides": {"containerOverrides": [{"name": "app", "command": ["python", "ingest.py"], "environment": [
            {"name": "S3_BUCKET", "value": "sample-bucket-dev"}, {"name": "OBJECT_KEY", "value": key}]}]},
    }


def test_json_output_is_one_object_with_the_documented_keys(project, run_cli):
    result = run_cli("test-event", "csv-ingest", str(s3_event(project, bucket="sample-bucket-prod")), "--env", "prod", "--json", cwd=project)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert (report["matched"], report["rule"], report["mismatch"], report["environment"]) == (True, "ObjectCreatedRule", None, "prod")
    assert report["target"]["cluster"] == "<ImportValue batch-base-prod-ClusterArn>"
    assert report["target"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-0f1e2d3c", "subnet-4b5a6978"]


@pytest.mark.parametrize("kwargs, field, shown", [
    ({"bucket": "sample-bucket-prod"}, "detail.bucket.name", 'pattern wants ["sample-bucket-dev"], event has "sample-bucket-prod"'),
    ({"key": "test/aab/complete.txt"}, "detail.object.key", 'pattern wants [{"prefix": "test/aaa/complete.txt"}], event has "test/aab/complete.txt"'),
    ({"sample": "s3-object-deleted.json"}, "detail-type", 'pattern wants ["Object Created"], event has "Object Deleted"'),
])
def test_a_near_miss_exits_1_naming_the_field(project, run_cli, kwargs, field, shown):
    result = run_cli("test-event", "csv-ingest", str(s3_event(project, **kwargs)), cwd=project)
    assert result.code == 1
    assert result.out == f"csv-ingest (dev): rule ObjectCreatedRule does not match: field {field}: {shown}\n"
    report = json.loads(run_cli("test-event", "csv-ingest", str(s3_event(project, **kwargs)), "--json", cwd=project).out)
    assert (report["matched"], report["mismatch"], report["target"]) == (False, field, None)


def test_a_field_missing_from_the_event_is_named(project, run_cli):
    path = project / "bare.json"
    path.write_text(json.dumps({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "sample-bucket-dev"}}}))
    result = run_cli("test-event", "csv-ingest", str(path), cwd=project)
    assert result.code == 1 and "field detail.object.key: " in result.out and "event has no such field" in result.out


@pytest.mark.parametrize("args, message", [
    (["no-such-stack", "EVENT"], "unknown stack 'no-such-stack'"),
    (["csv-ingest", "missing.json"], "cannot read event file missing.json"),
    (["csv-ingest", "not-json.json"], "not-json.json is not JSON"),
    (["csv-ingest", "array.json"], "an EventBridge event is a JSON object, got list"),
    (["csv-ingest", "EVENT", "--env", "staging"], "unknown environment 'staging'"),
    (["batch-base", "EVENT"], "stack batch-base: has no EventBridge rule with an event pattern"),
])
def test_bad_input_exits_2_with_one_line(project, run_cli, args, message):
    (project / "not-json.json").write_text("{nope")
    (project / "array.json").write_text("[]")
    event = str(s3_event(project))
    result = run_cli("test-event", *[event if a == "EVENT" else a for a in args], cwd=project)
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1 and message in result.err


def test_without_moto_the_command_says_how_to_install_it(project, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "moto.events.models", None)  # import now raises ImportError
    result = run_cli("test-event", "csv-ingest", str(s3_event(project)), cwd=project)
    assert result.code == 2 and "pip install 'ecs-batch-templates[events]'" in result.err


def test_help_mentions_the_optional_extra(capsys):
    from generator.commands.cli import main

    with pytest.raises(SystemExit):
        main(["test-event", "--help"])
    assert "pip install 'ecs-batch-templates[events]'" in " ".join(capsys.readouterr().out.split())


# --- EventBridge's documented InputTransformer examples (eb-transform-target-input.html) ---------

EC2_EVENT = {"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "EC2 Instance State-change Notification",
             "source": "aws.ec2", "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
             "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
             "detail": {"instance-id": "i-0123456789", "state": "RUNNING"}}
EC2_PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state", "resource": "$.resources[0]"}


@pytest.mark.parametrize("template, output", [
    ('"instance <instance> is in <state>"', "instance i-0123456789 is in RUNNING"),
    ('{"instance" : <instance>, "state": <state>}', {"instance": "i-0123456789", "state": "RUNNING"}),
    ('{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}',
     {"instance": "i-0123456789", "state": "RUNNING", "instanceStatus": 'instance "i-0123456789" is in RUNNING'}),
    ('{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
     {"instance": "i-0123456789", "state": [9, "RUNNING", True], "Transformed": "Yes"}),
    ('{"first": <resource>, "at": <timestamp>}', {"first": "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111", "at": "2015-11-11T21:29:54Z"}),
])
def test_documented_examples_transform_as_documented(template, output):
    text, notes = apply_input_transformer(EC2_PATHS, template, EC2_EVENT)
    assert json.loads(text) == output and notes == []


def test_a_path_missing_from_the_event_leaves_the_variable_out():
    text, notes = apply_input_transformer({"missing": "$.detail.nope"}, '{"value": "<missing>"}', EC2_EVENT)
    assert json.loads(text) == {"value": ""}
    assert notes == ["<missing>: $.detail.nope is not in the event, so EventBridge leaves the variable out"]


def test_predefined_variables_are_reserved_names():
    text, _ = apply_input_transformer({}, '{"rule": <aws.events.rule-name>, "event": <aws.events.event.json>}', EC2_EVENT,
                                      predefined={"aws.events.rule-name": "r", "aws.events.event.json": EC2_EVENT})
    assert json.loads(text) == {"rule": "r", "event": EC2_EVENT}


# --- expressions and target kinds on hand-written templates ---------------------------------------

def test_resolver_follows_parameters_conditions_and_leaves_placeholders():
    template = {
        "Parameters": {}, "Conditions": {"HasTaskRole": {"Fn::Not": [{"Fn::Equals": [{"Ref": "TaskRoleArn"}, ""]}]}},
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Ref": "BucketName"}}}},
    }
    resolver = Resolver(template, {"BucketName": "b", "TaskRoleArn": "", "Subnets": ["s1", "s2"]}, PSEUDO)
    assert resolver.resolve({"Ref": "Bucket"}) == "b"
    assert resolver.resolve(["x", {"Fn::If": ["HasTaskRole", "role", {"Ref": "AWS::NoValue"}]}]) == ["x"]
    assert resolver.resolve({"Fn::Sub": ["arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${F}",
                                          {"F": {"Fn::ImportValue": {"Fn::Sub": "${AWS::StackName}-TaskFamily"}}}]}) \
        == "arn:aws:ecs:eu-west-1:123456789012:task-definition/<ImportValue s-dev-TaskFamily>"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": ["cluster/", "arn:aws:ecs:eu-west-1:1:cluster/main"]}]}) == "main"
    assert resolver.resolve({"Fn::Join": [",", {"Ref": "Subnets"}]}) == "s1,s2"
    assert resolver.resolve({"Fn::GetAtt": ["Function", "Arn"]}) == "<GetAtt Function.Arn>"
    assert resolver.resolve({"Fn::Sub": "${!Literal}-${Unknown}"}) == "${Literal}-<Ref Unknown>"


def test_condition_that_holds_picks_its_branch():
    template = {"Conditions": {"HasTaskRole": {"Fn::Not": [{"Fn::Equals": [{"Ref": "TaskRoleArn"}, ""]}]}}}
    assert Resolver(template, {"TaskRoleArn": "arn:r"}, PSEUDO).resolve({"Fn::If": ["HasTaskRole", "yes", "no"]}) == "yes"
    assert Resolver(template, {"TaskRoleArn": ""}, PSEUDO).resolve({"Fn::If": ["HasTaskRole", "yes", "no"]}) == "no"


ECR_EVENT = json.loads((REFERENCE_EVENTS / "ecr-replication-action.json").read_text())
ECR_PATTERN = {"source": ["aws.ecr"], "detail-type": ["ECR Replication Action"], "detail": {"result": ["SUCCESS"]}}


def test_lambda_target_gets_the_event_as_its_asynchronous_invoke_payload():
    template = {"Resources": {
        "Handler": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": ECR_PATTERN, "Targets": [
            {"Id": "Redeploy", "Arn": {"Fn::GetAtt": ["Handler", "Arn"]}}]}},
    }}
    (result,) = evaluate(template, ECR_EVENT, Resolver(template, {}, PSEUDO), rule_name_prefix="s-dev")
    assert result.matched
    assert result.targets == [{"id": "Redeploy", "type": "lambda", "function": "Handler",
                               "request": {"FunctionName": "<GetAtt Handler.Arn>", "InvocationType": "Event", "Payload": ECR_EVENT}}]


def test_sam_function_event_source_is_evaluated_like_the_rule_sam_generates():
    template = {"Resources": {"Handler": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
        "Replicated": {"Type": "EventBridgeRule", "Properties": {"Pattern": ECR_PATTERN, "InputPath": "$.detail"}}}}}}}
    (result,) = evaluate(template, ECR_EVENT, Resolver(template, {}, PSEUDO), rule_name_prefix="s-dev")
    assert result.rule == "HandlerReplicated"
    assert result.targets[0]["type"] == "lambda" and result.targets[0]["request"]["Payload"] == ECR_EVENT["detail"]
    miss = {**ECR_EVENT, "detail": {**ECR_EVENT["detail"], "result": "FAILURE"}}
    (result,) = evaluate(template, miss, Resolver(template, {}, PSEUDO), rule_name_prefix="s-dev")
    assert (result.matched, result.mismatch) == (False, "detail.result")


def test_state_machine_target_gets_the_transformed_input():
    template = {"Resources": {
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": ECR_PATTERN, "Targets": [
            {"Id": "Start", "Arn": {"Ref": "Machine"},
             "InputTransformer": {"InputPathsMap": {"repo": "$.detail.repository-name"}, "InputTemplate": '{"repository": <repo>, "rule": <aws.events.rule-name>}'}}]}},
    }}
    (result,) = evaluate(template, ECR_EVENT, Resolver(template, {}, PSEUDO), rule_name_prefix="s-dev")
    (target,) = result.targets
    assert target["type"] == "stepfunctions" and target["request"]["stateMachineArn"] == "<Ref Machine>"
    assert target["request"]["input"] == {"repository": ECR_EVENT["detail"]["repository-name"], "rule": "<name CloudFormation gives s-dev-Rule>"}


def test_first_mismatch_follows_pattern_order_and_handles_or():
    pattern = {"source": ["aws.s3"], "detail": {"$or": [{"a": ["1"]}, {"b": ["2"]}], "c": ["3"]}}
    assert first_mismatch(pattern, {"source": "aws.s3", "detail": {"b": "2", "c": "3"}}) is None
    assert first_mismatch(pattern, {"source": "aws.s3", "detail": {"b": "9", "c": "3"}})[0] == "detail.$or"
    assert first_mismatch(pattern, {"source": "aws.ec2", "detail": {"a": "1", "c": "4"}})[0] == "source"


def test_unsupported_json_path_is_bad_input():
    with pytest.raises(UserError, match="wildcards"):
        apply_input_transformer({"x": "$.detail.*"}, "<x>", EC2_EVENT)


# --- a disabled rule: the pattern matches, but EventBridge delivers nothing ----------------------

DISABLED_NOTE = "rule ObjectCreatedRule is DISABLED: EventBridge would not deliver this event"


def test_a_disabled_rule_still_matches_but_says_it_would_not_deliver(project, run_cli):
    manifest = project / "stacks.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace("[stacks.csv-ingest.options]\n", "[stacks.csv-ingest.options]\nenabled = false\n", 1))
    result = run_cli("test-event", "csv-ingest", str(s3_event(project)), cwd=project)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "csv-ingest (dev): rule ObjectCreatedRule matches"
    assert result.out.splitlines()[-1] == f"note: {DISABLED_NOTE}"
    report = json.loads(run_cli("test-event", "csv-ingest", str(s3_event(project)), "--json", cwd=project).out)
    assert report["matched"] is True and report["notes"] == [DISABLED_NOTE]


def test_an_enabled_rule_has_no_such_note(project, run_cli):
    report = json.loads(run_cli("test-event", "csv-ingest", str(s3_event(project)), "--json", cwd=project).out)
    assert report["matched"] is True and report["notes"] == []


@pytest.mark.parametrize("state, noted", [
    ({"State": "DISABLED"}, True),
    ({"State": "ENABLED"}, False),
    ({}, False),
    ({"State": {"Fn::If": ["Off", "DISABLED", "ENABLED"]}}, True),  # resolved against the environment
])
def test_rule_state_is_read_from_the_rule(state, noted):
    template = {"Conditions": {"Off": {"Fn::Equals": [{"Ref": "Mode"}, "off"]}}, "Resources": {
        "Handler": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": ECR_PATTERN, **state, "Targets": [
            {"Id": "Redeploy", "Arn": {"Fn::GetAtt": ["Handler", "Arn"]}}]}},
    }}
    (result,) = evaluate(template, ECR_EVENT, Resolver(template, {"Mode": "off"}, PSEUDO), rule_name_prefix="s-dev")
    assert result.matched
    assert (result.notes == ["rule Rule is DISABLED: EventBridge would not deliver this event"]) is noted


@pytest.mark.parametrize("properties, noted", [({"Enabled": False}, True), ({"State": "DISABLED"}, True), ({"Enabled": True}, False)])
def test_sam_event_source_state_follows_what_sam_generates(properties, noted):
    template = {"Resources": {"Handler": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
        "Replicated": {"Type": "EventBridgeRule", "Properties": {"Pattern": ECR_PATTERN, **properties}}}}}}}
    (result,) = evaluate(template, ECR_EVENT, Resolver(template, {}, PSEUDO), rule_name_prefix="s-dev")
    assert result.matched
    assert ("rule HandlerReplicated is DISABLED: EventBridge would not deliver this event" in result.notes) is noted


# --- S3 keys arrive URL-encoded: filters are compared, and the container gets, the encoded form -----

ENCODED_SAMPLE = REFERENCE_EVENTS.parent / "s3-object-created-encoded-key.json"


def with_prefix(project, prefix: str) -> None:
    manifest = project / "stacks.toml"
    manifest.write_text(manifest.read_text().replace('key_prefix = "test/aaa/complete.txt"', f'key_prefix = "{prefix}"', 1))


def test_an_encoded_key_matches_the_filter_written_as_the_key_is_in_s3(project, run_cli):
    with_prefix(project, "raw/date=2025-01-01/")
    event = json.loads(ENCODED_SAMPLE.read_text())
    assert event["detail"]["object"]["key"] == "raw/date%3D2025-01-01/my+file.csv"  # a space and "=", as S3 encodes them
    event["detail"]["bucket"]["name"] = "sample-bucket-dev"
    (project / "event.json").write_text(json.dumps(event))
    report = json.loads(run_cli("test-event", "csv-ingest", "event.json", "--json", cwd=project).out)
    assert (report["matched"], report["rule"]) == (True, "ObjectCreatedRule")
    environment = report["target"]["overrides"]["containerOverrides"][0]["environment"]
    assert {"name": "OBJECT_KEY", "value": "raw/date%3D2025-01-01/my+file.csv"} in environment  # passed on encoded
    assert report["notes"] == ["the object key is URL-encoded, as S3 sends it; the target receives it so, and it decodes to "
                               "'raw/date=2025-01-01/my file.csv'"]


def test_a_hand_written_decoded_key_does_not_match_and_says_why(project, run_cli):
    with_prefix(project, "raw/date=2025-01-01/")
    result = run_cli("test-event", "csv-ingest", str(s3_event(project, key="raw/date=2025-01-01/my file.csv")), cwd=project)
    assert result.code == 1
    assert 'pattern wants [{"prefix": "raw/date%3D2025-01-01/"}]' in result.out
    assert ("note: the object key 'raw/date=2025-01-01/my file.csv' is not URL-encoded as S3 sends keys (S3 would send "
            "'raw/date%3D2025-01-01/my+file.csv'); the rule's key filter is compared with the encoded form") in result.out


def test_a_filter_starting_with_the_bucket_name_fails_the_render(project, run_cli):
    with_prefix(project, "sample-bucket-dev/incoming/")
    result = run_cli("render", cwd=project)
    assert result.code == 2 and result.out == ""
    assert result.err == ("error: stack csv-ingest: options.key_prefix: 'sample-bucket-dev/incoming/' starts with the bucket's name "
                          "'sample-bucket-dev': a key is the part after the bucket name (s3://sample-bucket-dev/incoming/x.csv has key "
                          "incoming/x.csv); allowed: 'incoming/' (in environment dev)\n")
    assert not (project / "templates_out").exists()


def test_a_failed_rollout_of_the_redeployed_service_is_alerted(project, run_cli):
    # AWS's documented SERVICE_DEPLOYMENT_FAILED sample, moved to api-redeploy's dev service main/api
    event = json.loads((REFERENCE_EVENTS.parent / "ecs-deployment-state-change-failed.json").read_text())
    event.update(account="123456789012", region="ap-northeast-1",
                 resources=["arn:aws:ecs:ap-northeast-1:123456789012:service/main/api"])
    (project / "event.json").write_text(json.dumps(event))
    report = json.loads(run_cli("test-event", "api-redeploy", "event.json", "--json", cwd=project).out)
    assert (report["matched"], report["rule"]) == (True, "DeploymentFailedAlertRule")
    assert report["target"]["Input"]["reason"] == "ECS deployment circuit breaker: task failed to start."
    # another service's failed rollout, and a completed one, are not
    for change in ({"resources": ["arn:aws:ecs:ap-northeast-1:123456789012:service/main/web"]},
                   {"detail": {**event["detail"], "eventName": "SERVICE_DEPLOYMENT_COMPLETED"}}):
        (project / "event.json").write_text(json.dumps({**event, **change}))
        result = run_cli("test-event", "api-redeploy", "event.json", cwd=project)
        assert result.code == 1, change
