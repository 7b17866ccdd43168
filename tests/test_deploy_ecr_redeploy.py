"""The example ecr_redeploy stack deploys on a local CloudFormation endpoint (moto server) the way
`sam deploy` would: the function's folder is zipped and uploaded to S3, the SAM template is
translated to CloudFormation with aws-sam-translator (what the AWS::Serverless-2016-10-31 transform
does; moto's CloudFormation does not apply it), and the stack is created with the samconfig.toml
overrides and capabilities. Then the created function, rule, target, permission, role and alert topic are read back.
"""

from __future__ import annotations

import json

import pytest

from support.moto_deploy import (client, create_stack, inline_policy, physical_ids, sam_translate, samconfig_overrides,
                                 upload_code, yaml_load)

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_redeploy_stack_deploys_and_wires_rule_function_and_role(rendered_examples, moto_endpoint, environment):
    section, overrides = samconfig_overrides(rendered_examples / "samconfig.toml", f"api-redeploy-{environment}")
    region, stack_name = section["region"], section["stack_name"]
    template_path = rendered_examples / section["template_file"]
    template = yaml_load(template_path.read_text())
    function = template["Resources"]["RedeployFunction"]["Properties"]
    code_dir = template_path.parent / function["CodeUri"]  # CodeUri is relative to the template, as SAM reads it
    assert sorted(p.name for p in code_dir.iterdir()) == ["app.py"]
    function["CodeUri"] = upload_code(moto_endpoint, region, code_dir, f"{stack_name}/redeploy.zip")
    translated = sam_translate(template, region, overrides)
    assert "Transform" not in translated
    assert not [r for r in translated["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]
    # moto 5.2.5's CloudFormation does not model AWS::Lambda::EventInvokeConfig (it creates nothing
    # for it), so the retries and on-failure destination are checked in the translated template.
    (invoke_config,) = [r["Properties"] for r in translated["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert invoke_config == {
        "FunctionName": {"Ref": "RedeployFunction"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 2,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}},
    }

    assert section["capabilities"] == "CAPABILITY_IAM"
    stack = create_stack(moto_endpoint, region, stack_name, json.dumps(translated), overrides, section["capabilities"].split())
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    ids = physical_ids(moto_endpoint, region, stack_name)

    lambda_client = client("lambda", moto_endpoint, region)
    configuration = lambda_client.get_function_configuration(FunctionName=ids["RedeployFunction"])
    assert configuration["Runtime"] == "python3.13" and configuration["Handler"] == "app.handler"
    assert json.loads(configuration["Environment"]["Variables"]["SERVICES"]) == {"testrepo": [{"cluster": "main", "service": "api"}]}
    assert configuration["Environment"]["Variables"]["DRY_RUN"] == "false"
    # moto 5.2.5 does not return LoggingConfig; the log group wiring is asserted in test_ecr_redeploy.py.
    role_name = configuration["Role"].rsplit("/", 1)[-1]
    assert role_name == ids["RedeployFunctionRole"]  # our role, not one made by the transform

    account = configuration["FunctionArn"].split(":")[4]
    logs = client("logs", moto_endpoint, region)
    (group,) = logs.describe_log_groups(logGroupNamePrefix=ids["RedeployLogGroup"])["logGroups"]
    queue_arn = f"arn:aws:sqs:{region}:{account}:{ids['DeadLetterQueue'].rsplit('/', 1)[-1]}"
    # CloudFormation's LogGroup Arn ends in `:*` (the group's streams, what CreateLogStream and
    # PutLogEvents are checked against), as describe_log_groups' does; moto 5.2.5's GetAtt leaves it off.
    log_group_arn = group["arn"].removesuffix(":*")
    assert inline_policy(moto_endpoint, region, role_name) == {"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [log_group_arn]},
        {"Sid": "RedeployMappedServices", "Effect": "Allow", "Action": ["ecs:UpdateService"],
         "Resource": [f"arn:aws:ecs:{region}:{account}:service/main/api"]},
        {"Sid": "SendToDeadLetterQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [queue_arn]},
    ]}
    iam = client("iam", moto_endpoint, region)
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []  # the inline policy is all it may do
    created_role = iam.get_role(RoleName=role_name)["Role"]
    assert "PermissionsBoundary" not in created_role
    assert created_role["AssumeRolePolicyDocument"] == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"],
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }]}

    events = client("events", moto_endpoint, region)
    rule_name = ids["RedeployRule"].split("/")[-1].split("|")[0]
    rule = events.describe_rule(Name=rule_name)
    assert json.loads(rule["EventPattern"]) == template["Resources"]["RedeployRule"]["Properties"]["EventPattern"]
    (target,) = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Arn"] == configuration["FunctionArn"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"]["Arn"].endswith(":" + ids["DeadLetterQueue"].rsplit("/", 1)[-1])

    (permission,) = json.loads(lambda_client.get_policy(FunctionName=ids["RedeployFunction"])["Policy"])["Statement"]
    assert permission["Principal"] == {"Service": "events.amazonaws.com"}
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Condition"] == {"ArnLike": {"AWS:SourceArn": rule["Arn"]}}

    assert group["retentionInDays"] == 30

    # Failure alerts: the topic is created with its key; moto 5.2.5's CloudFormation does not model
    # AWS::CloudWatch::Alarm or AWS::SNS::TopicPolicy (it creates nothing for them), so the alarms are
    # checked in the translated template, where the transform must have left their references intact.
    topic = client("sns", moto_endpoint, region).get_topic_attributes(TopicArn=ids["AlertTopic"])["Attributes"]
    assert topic["KmsMasterKeyId"] == ids["AlertTopicKey"]
    alarms = {name: (r["Properties"]["Namespace"], r["Properties"]["MetricName"], r["Properties"]["Dimensions"], r["Properties"]["AlarmActions"])
              for name, r in translated["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == {
        "DeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                 [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}], [{"Ref": "AlertTopic"}]),
        "FailedInvocationsAlarm": ("AWS/Events", "FailedInvocations", [{"Name": "RuleName", "Value": {"Ref": "RedeployRule"}}], [{"Ref": "AlertTopic"}]),
        "FunctionErrorsAlarm": ("AWS/Lambda", "Errors", [{"Name": "FunctionName", "Value": {"Ref": "RedeployFunction"}}], [{"Ref": "AlertTopic"}]),
        "FunctionDestinationFailuresAlarm": ("AWS/Lambda", "DestinationDeliveryFailures",
                                             [{"Name": "FunctionName", "Value": {"Ref": "RedeployFunction"}}], [{"Ref": "AlertTopic"}]),
        "FunctionEventsDroppedAlarm": ("AWS/Lambda", "AsyncEventsDropped",
                                       [{"Name": "FunctionName", "Value": {"Ref": "RedeployFunction"}}], [{"Ref": "AlertTopic"}]),
        "DeploymentFailedAlertRuleFailedInvocationsAlarm": ("AWS/Events", "FailedInvocations",
                                                            [{"Name": "RuleName", "Value": {"Ref": "DeploymentFailedAlertRule"}}],
                                                            [{"Ref": "AlertTopic"}]),
    }
    # the rule on failed rollouts of the mapped service, as created, publishing to the stack's topic
    deployment_rule = events.describe_rule(Name=ids["DeploymentFailedAlertRule"].split("/")[-1].split("|")[0])
    assert json.loads(deployment_rule["EventPattern"])["resources"] == [f"arn:aws:ecs:{region}:{account}:service/main/api"]
    (alert,) = events.list_targets_by_rule(Rule=deployment_rule["Name"])["Targets"]
    assert alert["Arn"] == ids["AlertTopic"]
    assert translated["Resources"]["RedeployFunction"]["Type"] == "AWS::Lambda::Function"  # what FunctionErrorsAlarm's Ref names
