"""ecr_redeploy: what the rendered SAM template means (rule patterns, function, IAM, failure paths).

Rule patterns are evaluated against the reference events and near misses with moto's
EventBridge pattern engine (moto.events.models.EventPattern), not with code of ours.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto.events.models import EventPattern

from generator.core.errors import UserError
from generator.core.render import capabilities
from support.expected_iam import policy_statements
from support.manifests import manifest_text, one_resource, render_text, resources_of_type
from support.paths import REFERENCE_EVENTS, REPO

EVENTS = Path(__file__).parent / "events"
HANDLER = REPO / "generator" / "aws" / "functions" / "redeploy" / "app.py"
TESTREPO = '[stacks.r.options.services]\ntestrepo = [{ cluster = "main", service = "api" }]'
QUEUE_ARN = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
LOGS = {
    "Sid": "WriteOwnLogs",
    "Effect": "Allow",
    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": [{"Fn::GetAtt": ["RedeployLogGroup", "Arn"]}],
}
SEND_TO_QUEUE = {"Sid": "SendToDeadLetterQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [QUEUE_ARN]}
ACCOUNT_ID = {"Fn::Sub": "${AWS::AccountId}"}
ALERT_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:batch-alerts"
# every alarm: any occurrence within five minutes, no data (nothing ran) is not a failure
ANY_IN_FIVE_MINUTES = {"Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
                       "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching"}


def alarm(description: str, namespace: str, metric: str, statistic: str, dimension: str, value, topic) -> dict:
    return {"AlarmDescription": f"r: {description}", "Namespace": namespace, "MetricName": metric,
            "Dimensions": [{"Name": dimension, "Value": value}], "Statistic": statistic,
            **ANY_IN_FIVE_MINUTES, "AlarmActions": [topic]}


def expected_alarms(topic, *, dead_letter_queue: bool = True) -> dict:
    alarms = {
        "FailedInvocationsAlarm": alarm("EventBridge could not invoke the function", "AWS/Events", "FailedInvocations", "Sum",
                                        "RuleName", {"Ref": "RedeployRule"}, topic),
        "FunctionErrorsAlarm": alarm("the function failed (an exception or a timeout)", "AWS/Lambda", "Errors", "Sum",
                                     "FunctionName", {"Ref": "RedeployFunction"}, topic),
    }
    if dead_letter_queue:
        alarms["DeadLetterQueueAlarm"] = alarm(
            "an event the rule could not deliver, or a run that still failed after its retries, is in the dead-letter queue",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "QueueName", {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}, topic)
    return alarms


def alarms_of(template: dict) -> dict:
    return {name: resource["Properties"] for name, resource in resources_of_type(template, "AWS::CloudWatch::Alarm").items()}


def service_arn(cluster: str, service: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:service/{cluster}/{service}"}


def update_service(*arns) -> dict:
    return {"Sid": "RedeployMappedServices", "Effect": "Allow", "Action": ["ecs:UpdateService"], "Resource": list(arns)}


def rendered(tmp_path, options: str = "", services: str = TESTREPO, parameters: str = ""):
    return render_text(tmp_path, manifest_text("r", "ecr_redeploy", f"{options}\n{services}", parameters=parameters))["r"]


def render(tmp_path, options: str = "", services: str = TESTREPO, parameters: str = "") -> dict:
    return rendered(tmp_path, options, services, parameters).template


def event(name: str) -> dict:
    folder = REFERENCE_EVENTS if (REFERENCE_EVENTS / name).exists() else EVENTS
    return json.loads((folder / name).read_text())


def as_eventbridge_sees_it(node):
    """EventBridge matches a pattern field inside an array of objects against each element
    (`detail.resources[].ARN` in CloudTrail events): https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
    moto 5.2.5's engine flattens only objects and never finds such a field, so an array of objects
    is handed to it as an object of arrays (which it matches element by element)."""
    if isinstance(node, dict):
        return {key: as_eventbridge_sees_it(value) for key, value in node.items()}
    if isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        keys = {key for item in node for key in item}
        return {key: [as_eventbridge_sees_it(item[key]) for item in node if key in item] for key in sorted(keys)}
    return node


def matches(template: dict, name: str) -> bool:
    pattern = one_resource(template, "AWS::Events::Rule")["Properties"]["EventPattern"]
    return EventPattern.load(json.dumps(pattern)).matches_event(as_eventbridge_sees_it(event(name)))


def test_replication_is_the_default_and_matches_successful_replications_of_mapped_repositories(tmp_path):
    template = render(tmp_path)
    rule = one_resource(template, "AWS::Events::Rule")["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Replication Action"],
        "detail": {"result": ["SUCCESS"], "repository-name": ["testrepo"]},
    }
    assert rule["State"] == "ENABLED"
    assert matches(template, "ecr-replication-action.json")
    assert matches(template, "ecr-replication-action-untagged.json")
    for near_miss in ("ecr-replication-action-failure.json", "ecr-replication-action-other-repository.json",
                      "ecr-image-action-push-testrepo.json", "ecr-replicateimage-cloudtrail.json", "s3-object-created.json"):
        assert not matches(template, near_miss), near_miss


def test_cloudtrail_trigger_matches_replicate_image_on_the_repository_arn(tmp_path):
    template = render(tmp_path, 'trigger = "cloudtrail"', '[stacks.r.options.services]\ntestrepo = [{ cluster = "main", service = "api" }]\n'
                                                          '"team/web" = [{ cluster = "main", service = "web" }]')
    assert one_resource(template, "AWS::Events::Rule")["Properties"]["EventPattern"] == {
        "source": ["aws.ecr"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["ecr.amazonaws.com"],
            "eventName": ["ReplicateImage"],
            "errorCode": [{"exists": False}],
            "resources": {"ARN": [{"suffix": ":repository/team/web"}, {"suffix": ":repository/testrepo"}]},
        },
    }
    assert matches(template, "ecr-replicateimage-cloudtrail.json")
    assert matches(template, "ecr-replicateimage-cloudtrail-namespaced.json")
    for near_miss in ("ecr-putimage-cloudtrail.json", "ecr-replicateimage-cloudtrail-other-source.json",
                      "ecr-replicateimage-cloudtrail-error.json", "ecr-replicateimage-cloudtrail-nested-name.json",
                      "ecr-replication-action.json"):
        assert not matches(template, near_miss), near_miss


def test_push_trigger_with_tag_filter_matches_exact_tags_and_prefixes(tmp_path):
    template = render(tmp_path, 'trigger = "push"\ntag_filter = ["latest", "release-*"]')
    assert one_resource(template, "AWS::Events::Rule")["Properties"]["EventPattern"] == {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Action"],
        "detail": {"result": ["SUCCESS"], "repository-name": ["testrepo"], "action-type": ["PUSH"],
                   "image-tag": ["latest", {"prefix": "release-"}]},
    }
    assert matches(template, "ecr-image-action-push-testrepo.json")  # release-2025.01.21
    for near_miss in ("ecr-image-action-push.json",                  # another repository
                      "ecr-image-action-push-testrepo-failure.json", "ecr-image-action-delete-testrepo.json",
                      "ecr-replication-action.json"):
        assert not matches(template, near_miss), near_miss
    environment = one_resource(template, "AWS::Serverless::Function")["Properties"]["Environment"]["Variables"]
    assert json.loads(environment["TAG_FILTER"]) == ["latest", "release-*"]  # the handler applies the same filter


def test_replication_tag_filter_leaves_out_other_and_missing_tags(tmp_path):
    template = render(tmp_path, 'tag_filter = ["stable"]')
    for near_miss in ("ecr-replication-action.json", "ecr-replication-action-untagged.json"):
        assert not matches(template, near_miss), near_miss


def test_function_is_a_sam_function_with_our_role_log_group_and_failure_destination(tmp_path):
    stack = rendered(tmp_path)
    template = stack.template
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    function = one_resource(template, "AWS::Serverless::Function")["Properties"]
    assert function["CodeUri"] == "functions/redeploy/"
    assert function["Handler"] == "app.handler" and function["Runtime"] == "python3.13"
    assert function["Role"] == {"Fn::GetAtt": ["RedeployFunctionRole", "Arn"]}  # so SAM makes no role
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "RedeployLogGroup"}}
    assert function["EventInvokeConfig"] == {
        "MaximumRetryAttempts": 2,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": QUEUE_ARN}},
    }
    variables = function["Environment"]["Variables"]
    assert json.loads(variables["SERVICES"]) == {"testrepo": [{"cluster": "main", "service": "api"}]}
    assert json.loads(variables["TAG_FILTER"]) == [] and variables["DRY_RUN"] == "false"
    # The handler is copied beside the template, byte for byte, where CodeUri points.
    assert stack.files["r/functions/redeploy/app.py"] == HANDLER.read_text()
    assert one_resource(template, "AWS::Logs::LogGroup")["Properties"] == {"RetentionInDays": 30}
    assert capabilities(template) == ("CAPABILITY_IAM",)


def test_rule_target_invokes_the_function_with_retries_and_a_dead_letter_queue(tmp_path):
    template = render(tmp_path, "retry_attempts = 10\nmax_event_age_seconds = 3600")
    (target,) = one_resource(template, "AWS::Events::Rule")["Properties"]["Targets"]
    assert target == {
        "Id": "RedeployFunction",
        "Arn": {"Fn::GetAtt": ["RedeployFunction", "Arn"]},
        "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
        "DeadLetterConfig": {"Arn": QUEUE_ARN},
    }
    assert one_resource(template, "AWS::Lambda::Permission")["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": ["RedeployFunction", "Arn"]},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": ["RedeployRule", "Arn"]},
    }
    policy = one_resource(template, "AWS::SQS::QueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Condition"] for s in policy] == [{"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["RedeployRule", "Arn"]}}}]
    assert one_resource(template, "AWS::SQS::Queue")["Properties"]["SqsManagedSseEnabled"] is True


def test_role_may_only_write_its_logs_update_the_mapped_services_and_send_failures(tmp_path):
    template = render(tmp_path, services='[stacks.r.options.services]\n'
                                         'testrepo = [{ cluster = "main", service = "api" }, { cluster = "blue", service = "api" }]\n'
                                         'web = [{ cluster = "main", service = "web" }, { cluster = "main", service = "api" }]')
    # The whole role: Lambda may assume it only for this account (confused-deputy guard); no role
    # name, no managed policy, no permissions boundary, no path; one inline policy.
    # Each service once, sorted; no DescribeServices: the handler does not call it.
    assert template["Resources"]["RedeployFunctionRole"] == {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
        }]},
        "Policies": [{"PolicyName": "redeploy", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            LOGS,
            update_service(service_arn("blue", "api"), service_arn("main", "api"), service_arn("main", "web")),
            SEND_TO_QUEUE,
        ]}}],
    }}
    assert len(resources_of_type(template, "AWS::IAM::Role")) == 1


def test_without_dead_letter_queue_nothing_refers_to_one(tmp_path):
    template = render(tmp_path, "dead_letter_queue = false\nfunction_retry_attempts = 0\nlog_retention_days = 7\ndry_run = true")
    assert not resources_of_type(template, "AWS::SQS::Queue") and not resources_of_type(template, "AWS::SQS::QueuePolicy")
    function = one_resource(template, "AWS::Serverless::Function")["Properties"]
    assert function["EventInvokeConfig"] == {"MaximumRetryAttempts": 0}
    assert function["Environment"]["Variables"]["DRY_RUN"] == "true"
    (target,) = one_resource(template, "AWS::Events::Rule")["Properties"]["Targets"]
    assert "DeadLetterConfig" not in target
    assert policy_statements(template["Resources"]["RedeployFunctionRole"]) == [LOGS, update_service(service_arn("main", "api"))]
    assert set(template["Resources"]["RedeployFunctionRole"]["Properties"]) == {"AssumeRolePolicyDocument", "Policies"}
    assert one_resource(template, "AWS::Logs::LogGroup")["Properties"] == {"RetentionInDays": 7}
    assert "DeadLetterQueueUrl" not in template["Outputs"]


def test_alerts_default_to_a_topic_that_alarms_on_every_failure_path(tmp_path):
    template = render(tmp_path)
    topic = {"Ref": "AlertTopic"}
    assert alarms_of(template) == expected_alarms(topic)
    resources = template["Resources"]
    # no ECS task starts here, so no task-stopped rule: the only rule is the trigger
    assert list(resources_of_type(template, "AWS::Events::Rule")) == ["RedeployRule"]
    assert resources["AlertTopic"]["Properties"] == {"KmsMasterKeyId": {"Ref": "AlertTopicKey"}}
    # only CloudWatch publishes (no alert rule), so only CloudWatch may use the key and publish
    (_, publishers) = resources["AlertTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert publishers == {
        "Sid": "AlertPublishersEncrypt", "Effect": "Allow", "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": ["*"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
    }
    assert resources["AlertTopicPolicy"]["Properties"] == {"Topics": [topic], "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
        "Sid": "AlarmsPublish", "Effect": "Allow", "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
        "Action": ["sns:Publish"], "Resource": [topic],
        "Condition": {"ArnLike": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"}},
                      "StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
    }]}}
    assert resources["AlertEmailSubscription"] == {"Type": "AWS::SNS::Subscription", "Condition": "HasAlertEmail", "Properties": {
        "TopicArn": topic, "Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}}}
    assert list(template["Parameters"]) == ["AlertEmail"] and template["Parameters"]["AlertEmail"]["Default"] == ""


def test_alerts_to_an_existing_topic_from_a_parameter(tmp_path):
    template = render(tmp_path, 'alerts = "parameter"', parameters=f'AlertTopicArn = "{ALERT_TOPIC_ARN}"')
    assert alarms_of(template) == expected_alarms({"Ref": "AlertTopicArn"})
    for kind in ("AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::KMS::Key"):
        assert not resources_of_type(template, kind), kind
    (parameter,) = template["Parameters"].values()
    assert list(template["Parameters"]) == ["AlertTopicArn"]
    assert "must let cloudwatch.amazonaws.com publish)" in parameter["Description"]


def test_alerts_off_adds_nothing(tmp_path):
    template = render(tmp_path, 'alerts = "off"')
    assert not alarms_of(template)
    for kind in ("AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::KMS::Key"):
        assert not resources_of_type(template, kind), kind
    assert "Parameters" not in template and "Conditions" not in template


def test_without_dead_letter_queue_the_function_and_rule_are_still_watched(tmp_path):
    template = render(tmp_path, "dead_letter_queue = false")
    assert alarms_of(template) == expected_alarms({"Ref": "AlertTopic"}, dead_letter_queue=False)


@pytest.mark.parametrize("options, note", [
    ("", "Failures are never silent: events the rule cannot deliver, and runs that still fail after Lambda's retries, land in the "
         "SQS queue `DeadLetterQueueUrl`, and CloudWatch alarms on the function's `Errors`, the rule's `FailedInvocations` and the "
         "queue's depth publish to the `AlertTopic` SNS topic (e-mailed to `AlertEmail` if set)."),
    ('alerts = "parameter"', "and the queue's depth publish to the SNS topic `AlertTopicArn`."),
    ("dead_letter_queue = false", "No dead-letter queue: an event that still fails after its retries is dropped, but CloudWatch alarms "
                                  "on the function's `Errors` and the rule's `FailedInvocations` publish to the `AlertTopic` SNS topic"),
    ('alerts = "off"', "No alerts (`alerts = \"off\"`): events the rule cannot deliver, and runs that still fail after Lambda's retries, "
                       "land in the SQS queue `DeadLetterQueueUrl`, which nothing watches."),
    ('alerts = "off"\ndead_letter_queue = false', "No dead-letter queue and no alerts: a failed redeploy shows only in the function's logs"),
])
def test_readme_says_how_failures_are_heard(tmp_path, options, note):
    parameters = f'AlertTopicArn = "{ALERT_TOPIC_ARN}"' if "parameter" in options else ""
    readme = rendered(tmp_path, options, parameters=parameters).files["r/README.md"]
    assert note in readme
    assert ("never silent" in readme) is (options in ("", 'alerts = "parameter"'))


def test_readme_says_what_the_cloudtrail_route_depends_on(tmp_path):
    readme = rendered(tmp_path, 'trigger = "cloudtrail"').files["r/README.md"]
    assert "Needs CloudTrail" in readme and "management events" in readme
    assert "Needs CloudTrail" not in rendered(tmp_path).files["r/README.md"]


@pytest.mark.parametrize("options, services, field, message", [
    ('trigger = "pull"', TESTREPO, "options.trigger", "allowed: replication, cloudtrail, push"),
    ("", "[stacks.r.options.services]", "options.services", "at least one repository"),
    ("", '[stacks.r.options.services]\ntestrepo = []', "options.services.testrepo", "at least one"),
    ("", '[stacks.r.options.services]\nTestRepo = [{ cluster = "main", service = "api" }]', "options.services", "'TestRepo' is not an ECR repository name"),
    ("", '[stacks.r.options.services]\ntestrepo = [{ cluster = "main cluster", service = "api" }]', "options.services.testrepo[0].cluster", "not an ECS cluster name"),
    ("", '[stacks.r.options.services]\ntestrepo = [{ cluster = "main" }]', "options.services.testrepo[0].service", "required option is missing"),
    ("", '[stacks.r.options.services]\ntestrepo = [{ cluster = "a", service = "b" }, { cluster = "a", service = "b" }]', "options.services.testrepo", "listed twice"),
    ('trigger = "cloudtrail"\ntag_filter = ["latest"]', TESTREPO, "options.tag_filter", "carries no image tag"),
    ('tag_filter = ["*"]', TESTREPO, "options.tag_filter", "'*' is not an image tag"),
    ("log_retention_days = 10", TESTREPO, "options.log_retention_days", "allowed: 1, 3, 5"),
    ("function_retry_attempts = 3", TESTREPO, "options.function_retry_attempts", "allowed: 0 to 2"),
    ("retry_attempts = 186", TESTREPO, "options.retry_attempts", "allowed: 0 to 185"),
    ('alerts = "email"', TESTREPO, "options.alerts", "allowed: topic, parameter, off"),
])
def test_bad_options_name_the_field_and_what_is_allowed(tmp_path, options, services, field, message):
    with pytest.raises(UserError) as raised:
        rendered(tmp_path, options, services)
    assert raised.value.stack == "r" and raised.value.field == field
    assert message in raised.value.message


def test_too_many_repositories_for_one_pattern_is_refused(tmp_path):
    services = "[stacks.r.options.services]\n" + "\n".join(f'repository-number-{i:03} = [{{ cluster = "c", service = "s" }}]' for i in range(100))
    with pytest.raises(UserError) as raised:
        rendered(tmp_path, "", services)
    assert "2048-character quota" in raised.value.message
