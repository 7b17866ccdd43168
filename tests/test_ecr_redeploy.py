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
from generator.review.event_simulator import apply_input_transformer, pattern_matches
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
        "FunctionDestinationFailuresAlarm": alarm("Lambda could not send a failed run to its on-failure destination", "AWS/Lambda",
                                                  "DestinationDeliveryFailures", "Sum", "FunctionName", {"Ref": "RedeployFunction"}, topic),
        "FunctionEventsDroppedAlarm": alarm("Lambda dropped an event without running the function successfully", "AWS/Lambda",
                                            "AsyncEventsDropped", "Sum", "FunctionName", {"Ref": "RedeployFunction"}, topic),
        "DeploymentFailedAlertRuleFailedInvocationsAlarm": alarm(
            "EventBridge could not deliver an alert of DeploymentFailedAlertRule", "AWS/Events", "FailedInvocations", "Sum",
            "RuleName", {"Ref": "DeploymentFailedAlertRule"}, topic),
    }
    if dead_letter_queue:
        alarms["DeadLetterQueueAlarm"] = alarm(
            "an event the rule could not deliver, a run that still failed after its retries, or an undelivered alert, is in the "
            "dead-letter queue",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "QueueName", {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}, topic)
    return alarms


def alarms_of(template: dict) -> dict:
    return {name: resource["Properties"] for name, resource in resources_of_type(template, "AWS::CloudWatch::Alarm").items()}


def service_arn(cluster: str, service: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:service/{cluster}/{service}"}


def update_service(*arns) -> dict:
    return {"Sid": "RedeployMappedServices", "Effect": "Allow", "Action": ["ecs:UpdateService"], "Resource": list(arns)}


def rendered(tmp_path, options: str = "", services: str = TESTREPO, parameters: str = ""):
    if "trigger =" not in options:  # a trigger must be chosen; most tests take the replication event
        options = f'trigger = "replication"\n{options}'
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
    pattern = template["Resources"]["RedeployRule"]["Properties"]["EventPattern"]
    return EventPattern.load(json.dumps(pattern)).matches_event(as_eventbridge_sees_it(event(name)))


def test_replication_matches_successful_replications_of_mapped_repositories(tmp_path):
    template = render(tmp_path)
    rule = template["Resources"]["RedeployRule"]["Properties"]
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
    assert template["Resources"]["RedeployRule"]["Properties"]["EventPattern"] == {
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
    assert template["Resources"]["RedeployRule"]["Properties"]["EventPattern"] == {
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
    (target,) = template["Resources"]["RedeployRule"]["Properties"]["Targets"]
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
    assert [s["Condition"] for s in policy] == [{"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["RedeployRule", "Arn"]}}},
                                                {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DeploymentFailedAlertRule", "Arn"]}}}]
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
    (target,) = template["Resources"]["RedeployRule"]["Properties"]["Targets"]
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
    # no ECS task starts here, so no task-stopped rule: the trigger, and the rule on failed rollouts
    assert list(resources_of_type(template, "AWS::Events::Rule")) == ["RedeployRule", "DeploymentFailedAlertRule"]
    assert resources["AlertTopic"]["Properties"] == {"KmsMasterKeyId": {"Ref": "AlertTopicKey"}}
    (_, events, alarms) = resources["AlertTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert (events["Sid"], events["Principal"], "aws:SourceAccount" in json.dumps(events)) == (
        "AlertRulesEncrypt", {"Service": ["events.amazonaws.com"]}, False)
    assert (alarms["Sid"], alarms["Condition"]["StringEquals"]) == ("AlarmsEncrypt", {"aws:SourceAccount": ACCOUNT_ID})
    assert resources["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DeploymentFailedAlertRule", "Arn"]}}}
    assert resources["AlertEmailSubscription"] == {"Type": "AWS::SNS::Subscription", "Condition": "HasAlertEmail", "Properties": {
        "TopicArn": topic, "Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}}}
    assert list(template["Parameters"]) == ["AlertEmail"] and template["Parameters"]["AlertEmail"]["Default"] == ""


def test_failed_rollouts_of_the_mapped_services_are_alerted(tmp_path):
    template = render(tmp_path, services='[stacks.r.options.services]\n'
                                         'testrepo = [{ cluster = "main", service = "api" }, { cluster = "blue", service = "api" }]')
    rule = template["Resources"]["DeploymentFailedAlertRule"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.ecs"], "detail-type": ["ECS Deployment State Change"],
        "resources": [service_arn("blue", "api"), service_arn("main", "api")],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }
    (target,) = rule["Targets"]
    assert (target["Arn"], target["DeadLetterConfig"]) == ({"Ref": "AlertTopic"}, {"Arn": QUEUE_ARN})
    # AWS's documented sample event, moved to this stack's service
    sample = event("ecs-deployment-state-change-failed.json")
    sample["resources"] = ["arn:aws:ecs:us-west-2:111122223333:service/main/api"]
    pattern = json.loads(json.dumps(rule["EventPattern"]).replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "us-west-2")
                         .replace("${AWS::AccountId}", "111122223333"))
    pattern["resources"] = [arn["Fn::Sub"] for arn in pattern["resources"]]
    assert pattern_matches(pattern, sample)
    for field, value in (("resources", ["arn:aws:ecs:us-west-2:111122223333:service/main/web"]),
                         ("detail", {**sample["detail"], "eventName": "SERVICE_DEPLOYMENT_COMPLETED"})):
        assert not pattern_matches(pattern, {**sample, field: value}), field
    transformer = target["InputTransformer"]
    text, notes = apply_input_transformer(transformer["InputPathsMap"], transformer["InputTemplate"], sample)
    assert notes == [] and json.loads(text) == {
        "alert": "r: an ECS service deployment failed (the deployment circuit breaker stopped it)",
        "services": ["arn:aws:ecs:us-west-2:111122223333:service/main/api"], "deploymentId": "ecs-svc/123",
        "reason": "ECS deployment circuit breaker: task failed to start.", "time": "2020-05-23T12:31:14Z"}


def test_alerts_to_an_existing_topic_from_a_parameter(tmp_path):
    template = render(tmp_path, 'alerts = "parameter"', parameters=f'AlertTopicArn = "{ALERT_TOPIC_ARN}"')
    assert alarms_of(template) == expected_alarms({"Ref": "AlertTopicArn"})
    for kind in ("AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::KMS::Key"):
        assert not resources_of_type(template, kind), kind
    (parameter,) = template["Parameters"].values()
    assert list(template["Parameters"]) == ["AlertTopicArn"]
    assert "must let events.amazonaws.com and cloudwatch.amazonaws.com publish)" in parameter["Description"]


def test_alerts_off_adds_nothing(tmp_path):
    template = render(tmp_path, 'alerts = "off"')
    assert not alarms_of(template)
    for kind in ("AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::KMS::Key"):
        assert not resources_of_type(template, kind), kind
    assert "Parameters" not in template and "Conditions" not in template


def test_without_dead_letter_queue_the_function_and_rule_are_still_watched(tmp_path):
    template = render(tmp_path, "dead_letter_queue = false")
    assert alarms_of(template) == expected_alarms({"Ref": "AlertTopic"}, dead_letter_queue=False)


def test_without_alerts_a_dead_letter_queue_is_required(tmp_path):
    with pytest.raises(UserError) as error:
        render(tmp_path, 'alerts = "off"\ndead_letter_queue = false')
    assert error.value.field == "options.dead_letter_queue" and "nothing would record an event" in error.value.message


@pytest.mark.parametrize("options, note", [
    ("", "Failures are never silent: events the rule cannot deliver, and runs that still fail after Lambda's retries, land in the "
         "SQS queue `DeadLetterQueueUrl`, and CloudWatch alarms on the function's `Errors`, `DestinationDeliveryFailures` and "
         "`AsyncEventsDropped`, the rules' `FailedInvocations` and the queue's depth publish to the `AlertTopic` SNS topic "
         "(e-mailed to `AlertEmail` if set). A failed rollout of a mapped service (`ECS Deployment State Change` "
         "`SERVICE_DEPLOYMENT_FAILED`) is alerted only if the service's deployment circuit breaker is on"),
    ('alerts = "parameter"', "and the queue's depth publish to the SNS topic `AlertTopicArn`."),
    ("dead_letter_queue = false", "No dead-letter queue: an event that still fails after its retries is dropped, but CloudWatch alarms "
                                  "on the function's `Errors`, `DestinationDeliveryFailures` and `AsyncEventsDropped` and the rules' "
                                  "`FailedInvocations` publish to the `AlertTopic` SNS topic"),
    ('alerts = "off"', "No alerts (`alerts = \"off\"`): events the rule cannot deliver, and runs that still fail after Lambda's retries, "
                       "land in the SQS queue `DeadLetterQueueUrl`, which nothing watches; a failed rollout is not watched either."),
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
    ('trigger = "pull"', TESTREPO, "options.trigger", "allowed: replication (ECR's replication event, sent in the Region an image "
                                                      "is replicated INTO (never fires without replication"),
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


# --- image_update = "digest": a new task definition revision naming the pushed image ------------

DIGEST_SERVICES = ('[stacks.r.options.services]\n'
                   'testrepo = [{ cluster = "main", service = "api", family = "api", roles = ["ecsTaskExecutionRole", "service-role/api-task"] },'
                   ' { cluster = "blue", service = "api", family = "api", roles = ["ecsTaskExecutionRole"] }]')


def test_digest_update_may_read_register_the_mapped_families_and_pass_only_the_listed_roles(tmp_path):
    template = render(tmp_path, 'image_update = "digest"', DIGEST_SERVICES)
    assert policy_statements(template["Resources"]["RedeployFunctionRole"]) == [
        LOGS,
        {"Sid": "RedeployMappedServices", "Effect": "Allow", "Action": ["ecs:UpdateService", "ecs:DescribeServices"],
         "Resource": [service_arn("blue", "api"), service_arn("main", "api")]},
        # DescribeTaskDefinition has no resource type in the Service Authorization Reference
        {"Sid": "ReadTaskDefinitions", "Effect": "Allow", "Action": ["ecs:DescribeTaskDefinition"], "Resource": ["*"]},
        {"Sid": "RegisterMappedFamilies", "Effect": "Allow", "Action": ["ecs:RegisterTaskDefinition"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/api:*"}]},
        {"Sid": "PassTaskRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/ecsTaskExecutionRole"},
                      {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/service-role/api-task"}],
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
        SEND_TO_QUEUE,
    ]
    variables = one_resource(template, "AWS::Serverless::Function")["Properties"]["Environment"]["Variables"]
    assert variables["IMAGE_UPDATE"] == "digest"
    assert json.loads(variables["SERVICES"]) == {"testrepo": [{"cluster": "main", "service": "api", "family": "api"},
                                                             {"cluster": "blue", "service": "api", "family": "api"}]}
    # (the template lints clean: golden variant variant-redeploy-digest)


def test_force_update_says_it_needs_a_mutable_tag_and_digest_says_what_it_registers(tmp_path):
    forced = rendered(tmp_path).files["r/README.md"]
    assert "the new image runs only if that task definition names a mutable tag" in forced
    digest = rendered(tmp_path, 'image_update = "digest"', DIGEST_SERVICES).files["r/README.md"]
    assert "registers a new revision of the service's task definition naming the pushed image by digest" in digest
    assert "mutable tag" not in digest


def test_replication_trigger_says_it_needs_replication(tmp_path):
    assert "without ECR replication configured towards this Region nothing ever triggers a redeploy" in rendered(tmp_path).files["r/README.md"]
    assert "without ECR replication" not in rendered(tmp_path, 'trigger = "push"').files["r/README.md"]


@pytest.mark.parametrize("options, services, field, message", [
    ('image_update = "digest"', TESTREPO, "options.services.testrepo", "each service needs family"),
    ('trigger = "cloudtrail"\nimage_update = "digest"', DIGEST_SERVICES, "options.image_update", "names no image digest"),
    ('image_update = "latest"', TESTREPO, "options.image_update", "allowed: force"),
    ("", DIGEST_SERVICES, "options.services.testrepo", "family and roles apply only with image_update"),
    ('image_update = "digest"', '[stacks.r.options.services]\ntestrepo = [{ cluster = "main", service = "api", family = "api", '
                                'roles = ["arn:aws:iam::123456789012:role/x"] }]', "options.services.testrepo[0].roles", "not an ARN"),
])
def test_bad_image_update_options_name_the_field(tmp_path, options, services, field, message):
    with pytest.raises(UserError) as error:
        render(tmp_path, options, services)
    assert error.value.field == field and message in error.value.message


def test_trigger_must_be_chosen_and_the_error_says_what_each_needs(tmp_path):
    text = manifest_text("r", "ecr_redeploy", TESTREPO)
    with pytest.raises(UserError) as error:
        render_text(tmp_path, text)
    assert error.value.field == "options.trigger"
    assert error.value.message.startswith("required option is missing (string); allowed: replication (")
    assert "push (a completed push" in error.value.message
