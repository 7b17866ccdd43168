"""sfn_task: the SAM state machine, its ASL (states, transitions, Retry/Catch, overrides), the exact
IAM statements, the triggers, and the options' validation."""

from __future__ import annotations

import json

import pytest

from blueprints import sfn_task
from generator.aws import step_functions as asl
from generator.core.errors import UserError
from generator.core.render import capabilities
from generator.review.event_simulator import apply_input_transformer, pattern_matches
from support.expected_iam import FAMILY_ARN, PASS_ROLE, RUN_TASK, SEND_TO_DLQ, policy_statements
from support.manifests import NETWORK_PARAMETERS, manifest_text, one_resource, render_text, resources_of_type, substituted
from support.paths import REFERENCE_EVENTS

SEED = 'container_name = "stock-trader"\ncommand = ["--arg1", "100", "--arg2", "200"]'
SUBSTITUTIONS = {
    "Partition": {"Ref": "AWS::Partition"},
    "ClusterArn": {"Ref": "ClusterArn"},
    "TaskFamilyArn": FAMILY_ARN,
    "Subnets": {"Fn::Join": [",", {"Ref": "Subnets"}]},
    "SecurityGroups": {"Fn::Join": [",", {"Ref": "SecurityGroups"}]},
}
WATCH_TASKS = {
    "Sid": "WatchTasksInCluster",
    "Effect": "Allow",
    "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
    "Resource": [{"Fn::Sub": [
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${Cluster}/*",
        {"Cluster": {"Fn::Select": [1, {"Fn::Split": ["cluster/", {"Ref": "ClusterArn"}]}]}},
    ]}],
}
EVENTS_RULE = {
    "Sid": "ManageTaskEventsRule",
    "Effect": "Allow",
    "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
    "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventsForECSTaskRule"}],
}
DELIVER_LOGS = {
    "Sid": "DeliverLogs",
    "Effect": "Allow",
    "Action": ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
               "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
    "Resource": ["*"],
}
SEND_TRACES = {
    "Sid": "SendTraces",
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
    "Resource": ["*"],
}
START_THIS_MACHINE = {"Sid": "StartThisStateMachine", "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [{"Ref": "StateMachine"}]}
TRANSIENT_RETRY = {
    "ErrorEquals": ["ECS.AmazonECSException", "ECS.ServerException", "AmazonECS.Unknown"],
    "IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": "FULL",
}
CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Record failure"}]
FAILURE_PATH = {
    "Record failure": {"Type": "Pass", "Parameters": {"Error.$": "$.error.Error", "Cause.$": "$.error.Cause"}, "Next": "Job failed"},
    "Job failed": {"Type": "Fail", "Error": "EcsJobFailed", "CausePath": "States.JsonToString($)"},
}
NETWORK = {
    "Subnets.$": "States.StringSplit('${Subnets}', ',')",
    "SecurityGroups.$": "States.StringSplit('${SecurityGroups}', ',')",
    "AssignPublicIp": "DISABLED",
}


def render(tmp_path, options: str, parameters: str = NETWORK_PARAMETERS):
    return render_text(tmp_path, manifest_text("job", "sfn_task", options, parameters))["job"]


def definition_of(stack, name: str = "job") -> dict:
    return json.loads(stack.files[f"job/statemachine/{name}.asl.json"])


def machine_of(template: dict) -> dict:
    return one_resource(template, "AWS::Serverless::StateMachine")["Properties"]


def ends_of_every_path(definition: dict) -> set[str]:
    """Walk every state from StartAt: each is reachable, each transition names a state, and each
    state reaches an end (Succeed, Fail, End). Returns the terminal states reached."""
    states, edges = definition["States"], asl.transitions(definition)
    reached, pending = set(), [definition["StartAt"]]
    while pending:
        name = pending.pop()
        assert name in states, f"transition to missing state {name!r}"
        if name not in reached:
            reached.add(name)
            pending.extend(edges[name])
    assert reached == set(states), f"unreachable: {set(states) - reached}"
    terminals = {name for name in states if asl.terminal(states[name])}
    for name in states:  # from every state some path ends
        seen, pending = set(), [name]
        while pending and not (seen & terminals):
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(edges[current])
        assert seen & terminals, f"no path from {name!r} ends"
    for name in states:
        if not asl.terminal(states[name]):
            assert edges[name], f"{name!r} neither ends nor goes anywhere"
    return terminals


def test_template_is_a_sam_state_machine_with_the_asl_file_and_its_substitutions(tmp_path):
    stack = render(tmp_path, SEED)
    template = stack.template
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert machine_of(template) == {
        "Type": "STANDARD",
        "Name": {"Fn::Sub": "${AWS::StackName}"},  # one per deployed stack: dev and prod never collide
        "DefinitionUri": "statemachine/job.asl.json",
        "DefinitionSubstitutions": SUBSTITUTIONS,
        "Role": {"Fn::GetAtt": ["StateMachineRole", "Arn"]},
        "Logging": {
            "Level": "ERROR",
            "IncludeExecutionData": False,
            "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}}}],
        },
    }
    text = stack.files["job/statemachine/job.asl.json"]
    # Pretty, stable JSON: two-space indent, keys in the order built (not sorted), one final newline.
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    assert list(json.loads(text)) == ["Comment", "StartAt", "States"]
    assert asl.placeholders(json.loads(text)) == set(SUBSTITUTIONS)
    log_group = one_resource(template, "AWS::Logs::LogGroup")["Properties"]
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/vendedlogs/states/${AWS::StackName}"}
    assert log_group["RetentionInDays"] == 30
    # An explicit role without a name: CAPABILITY_IAM, and SAM generates no role of its own.
    assert capabilities(template) == ("CAPABILITY_IAM",)


def test_run_ecs_task_state_runs_the_family_on_fargate_waits_and_retries_only_transient_errors(tmp_path):
    definition = definition_of(render(tmp_path, SEED))
    assert definition["StartAt"] == "Run ECS task"
    assert definition["States"] == {
        "Run ECS task": {
            "Type": "Task",
            "Resource": "arn:${Partition}:states:::ecs:runTask.sync",
            "Parameters": {
                "LaunchType": "FARGATE",
                "PlatformVersion": "LATEST",
                "Cluster": "${ClusterArn}",
                "TaskDefinition": "${TaskFamilyArn}",  # the family ARN: the latest ACTIVE revision runs
                "NetworkConfiguration": {"AwsvpcConfiguration": NETWORK},
                "Overrides": {"ContainerOverrides": [{"Name": "stock-trader", "Command": ["--arg1", "100", "--arg2", "200"]}]},
            },
            "ResultPath": "$.task",
            "Retry": [TRANSIENT_RETRY],  # not States.TaskFailed: a task that ran and failed is not re-run by default
            "Catch": CATCH_ALL,
            "End": True,
        },
        **FAILURE_PATH,
    }
    assert ends_of_every_path(definition) == {"Run ECS task", "Job failed"}


@pytest.mark.parametrize("options", [
    SEED,
    SEED + "\nwait = false",
    SEED + '\ninput_overrides = true\nenvironment = { A = "1" }',
    'container_name = "app"\ns3 = { key_prefix = "in/" }',
])
def test_every_path_ends_and_only_the_task_path_succeeds(tmp_path, options):
    parameters = NETWORK_PARAMETERS + ('BucketName = "example-bucket"\n' if "s3" in options else "")
    definition = definition_of(render(tmp_path, options, parameters))
    terminals = ends_of_every_path(definition)
    states = definition["States"]
    failing = {name for name in terminals if states[name]["Type"] == "Fail"}
    assert failing == {"Job failed"}
    # The task's every error goes to the failure path; nothing but Fail follows it.
    assert states["Run ECS task"]["Catch"] == CATCH_ALL
    assert asl.transitions(definition)["Record failure"] == ["Job failed"]


def test_substituted_definition_is_json_and_lists_become_comma_separated_text_for_string_split(tmp_path):
    values = {"Partition": "aws", "ClusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/batch",
              "TaskFamilyArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/job",
              "Subnets": "subnet-0a1b2c3d,subnet-1a2b3c4d", "SecurityGroups": "sg-0123456789abcdef0"}
    text = substituted(render(tmp_path, SEED).files["job/statemachine/job.asl.json"], values)
    task = json.loads(text)["States"]["Run ECS task"]
    assert "${" not in text
    assert task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert task["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets.$"] == \
        "States.StringSplit('subnet-0a1b2c3d,subnet-1a2b3c4d', ',')"
    # (tests/test_deploy_sfn_task.py runs it: Step Functions' evaluation gives a JSON array.)


def test_role_is_trusted_by_states_and_allows_exactly_what_run_task_sync_needs(tmp_path):
    role = render(tmp_path, SEED).template["Resources"]["StateMachineRole"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": ["states.amazonaws.com"]},
        "Action": ["sts:AssumeRole"],
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}},
    }
    assert "RoleName" not in role["Properties"]
    assert policy_statements(role) == [RUN_TASK, WATCH_TASKS, EVENTS_RULE, PASS_ROLE, DELIVER_LOGS]


def test_without_wait_only_run_task_is_granted_and_failures_are_checked(tmp_path):
    stack = render(tmp_path, SEED + "\nwait = false")
    definition = definition_of(stack)
    task = definition["States"]["Run ECS task"]
    assert task["Resource"] == "arn:${Partition}:states:::ecs:runTask"
    assert task["Next"] == "Check task started" and "End" not in task
    # Without .sync a RunTask that answers with failures[] succeeds: the Choice turns it into a failure.
    assert definition["States"]["Check task started"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.task.Failures[0]", "IsPresent": True, "Next": "Task not started"}],
        "Default": "Task started",
    }
    assert definition["States"]["Task started"] == {"Type": "Succeed"}
    assert definition["States"]["Task not started"] == {
        "Type": "Pass",
        "Parameters": {"Error": "RunTaskFailures", "Cause.$": "States.JsonToString($.task.Failures)"},
        "Next": "Job failed",
    }
    assert policy_statements(stack.template["Resources"]["StateMachineRole"]) == [RUN_TASK, PASS_ROLE, DELIVER_LOGS]


def test_logging_tracing_timeout_and_retry_options(tmp_path):
    stack = render(tmp_path, SEED + '''
log_level = "ALL"
log_execution_data = true
log_retention_days = 90
tracing = true
timeout_seconds = 3600
ecs_retry_attempts = 5
ecs_retry_interval_seconds = 30
ecs_retry_backoff_rate = 3
task_failure_retry_attempts = 2''')
    machine = machine_of(stack.template)
    assert machine["Logging"]["Level"] == "ALL" and machine["Logging"]["IncludeExecutionData"] is True
    assert machine["Tracing"] == {"Enabled": True}
    assert "TracingConfiguration" not in machine  # troposphere's name for it; SAM rejects that
    assert one_resource(stack.template, "AWS::Logs::LogGroup")["Properties"]["RetentionInDays"] == 90
    assert policy_statements(stack.template["Resources"]["StateMachineRole"]) == \
        [RUN_TASK, WATCH_TASKS, EVENTS_RULE, PASS_ROLE, DELIVER_LOGS, SEND_TRACES]
    task = definition_of(stack)["States"]["Run ECS task"]
    assert task["TimeoutSeconds"] == 3600
    assert task["Retry"] == [
        {**TRANSIENT_RETRY, "IntervalSeconds": 30, "MaxAttempts": 5, "BackoffRate": 3},
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 2, "BackoffRate": 3, "JitterStrategy": "FULL"},
    ]
    # States.TaskFailed in a retrier matches every error but States.Timeout: the stack's README says so.
    assert "after any error but a timeout" in stack.files["job/README.md"]
    assert "ECS.AccessDeniedException" in stack.files["job/README.md"]


def test_timeout_seconds_is_per_attempt_and_execution_timeout_bounds_the_whole_execution(tmp_path):
    stack = render(tmp_path, SEED + '\ntimeout_seconds = 600\nexecution_timeout_seconds = 3600\ntask_failure_retry_attempts = 2')
    definition = definition_of(stack)
    assert list(definition) == ["Comment", "StartAt", "TimeoutSeconds", "States"]
    assert definition["TimeoutSeconds"] == 3600  # top level: the whole execution, retries included
    assert definition["States"]["Run ECS task"]["TimeoutSeconds"] == 600  # each attempt
    readme = stack.files["job/README.md"]
    assert "`timeout_seconds` (600 s) limits each attempt of the task: every retry gets it again" in readme
    assert "`execution_timeout_seconds` (3600 s) limits the whole execution, retries included (it then ends `TIMED_OUT`)" in readme
    unbounded = definition_of(render(tmp_path, SEED + '\ntimeout_seconds = 600'))
    assert "TimeoutSeconds" not in unbounded
    assert "the whole execution has no limit but Step Functions' one year" in render(tmp_path, SEED + '\ntimeout_seconds = 600').files["job/README.md"]


def test_backoff_rate_may_be_any_number_from_one(tmp_path):
    """ASL's BackoffRate is a number >= 1.0: 1.5 is a gentler backoff than any whole number allows."""
    stack = render(tmp_path, SEED + "\necs_retry_backoff_rate = 1.5\ntask_failure_retry_attempts = 1")
    assert [retrier["BackoffRate"] for retrier in definition_of(stack)["States"]["Run ECS task"]["Retry"]] == [1.5, 1.5]
    # cfn-lint (E4002) allows no fractional number in the template's Metadata, where the options are recorded.
    assert stack.template["Metadata"]["Generator"]["Options"]["ecs_retry_backoff_rate"] == "1.5"
    assert "ecs_retry_backoff_rate=1.5" in stack.template["Description"]
    # A whole number stays one (the examples' files do not change), written 2 or 2.0.
    for written in ("1", "2.0"):
        stack = render(tmp_path, SEED + f"\necs_retry_backoff_rate = {written}")
        (rate,) = {retrier["BackoffRate"] for retrier in definition_of(stack)["States"]["Run ECS task"]["Retry"]}
        recorded = stack.template["Metadata"]["Generator"]["Options"]["ecs_retry_backoff_rate"]
        assert (type(rate), rate, type(recorded), recorded) == (int, int(float(written)), int, int(float(written)))


def test_logging_off_creates_no_log_group_and_grants_no_log_delivery(tmp_path):
    stack = render(tmp_path, SEED + '\nlog_level = "OFF"')
    assert not resources_of_type(stack.template, "AWS::Logs::LogGroup")
    assert "Logging" not in machine_of(stack.template)
    assert policy_statements(stack.template["Resources"]["StateMachineRole"]) == [RUN_TASK, WATCH_TASKS, EVENTS_RULE, PASS_ROLE]


def test_input_overrides_read_command_and_listed_variables_from_the_input_with_defaults(tmp_path):
    definition = definition_of(render(tmp_path, SEED + '\ninput_overrides = true\nenvironment = { SYMBOL = "AMZN", MODE = "full" }'))
    states = definition["States"]
    assert definition["StartAt"] == "Read execution input"
    assert states["Read execution input"] == {
        "Type": "Pass",
        "Parameters": {
            "defaults": {"command": ["--arg1", "100", "--arg2", "200"], "environment": {"MODE": "full", "SYMBOL": "AMZN"}},
            "input.$": "$",
        },
        "Next": "Merge input over defaults",
    }
    # States.JsonMerge is shallow only (AWS supports no deep merge), so the environment object is
    # merged over its defaults in a second step: an input naming one variable keeps the others.
    assert states["Merge input over defaults"]["Parameters"] == {
        "run.$": "States.JsonMerge($.defaults, $.input, false)", "defaults.$": "$.defaults"}
    assert states["Merge environment over defaults"]["Parameters"] == {"run": {
        "command.$": "$.run.command",
        "environment.$": "States.JsonMerge($.defaults.environment, $.run.environment, false)",
    }}
    assert states["Merge environment over defaults"]["Next"] == "Run ECS task"
    assert states["Run ECS task"]["Parameters"]["Overrides"]["ContainerOverrides"] == [{
        "Name": "stock-trader",
        "Command.$": "$.run.command",
        "Environment": [{"Name": "MODE", "Value.$": "$.run.environment.MODE"}, {"Name": "SYMBOL", "Value.$": "$.run.environment.SYMBOL"}],
    }]


def test_input_overrides_without_environment_merge_once(tmp_path):
    states = definition_of(render(tmp_path, SEED + "\ninput_overrides = true"))["States"]
    assert states["Merge input over defaults"] == {
        "Type": "Pass", "Parameters": {"run.$": "States.JsonMerge($.defaults, $.input, false)"}, "Next": "Run ECS task"}
    assert "Merge environment over defaults" not in states


def test_name_option_names_the_file_and_scopes_the_state_machine_name_to_the_stack(tmp_path):
    stack = render(tmp_path, SEED + '\nname = "trader"')
    machine = machine_of(stack.template)
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-trader"}
    assert machine["DefinitionUri"] == "statemachine/trader.asl.json"
    assert set(stack.files) == {"job/template.yaml", "job/README.md", "job/statemachine/trader.asl.json"}


def test_utc_schedule_starts_executions_through_a_rule_allowed_only_to_start_this_state_machine(tmp_path):
    template = render(tmp_path, SEED + '\nschedule = "cron(0 3 * * ? *)"\nretry_attempts = 4').template
    rule = template["Resources"]["ScheduleRule"]["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rule["Targets"] == [{
        "Id": "StartExecution",
        "Arn": {"Ref": "StateMachine"},  # Ref of a SAM state machine is its ARN
        "RoleArn": {"Fn::GetAtt": ["StartExecutionRole", "Arn"]},
        "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 86400},
        "Input": "{}",
        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
    }]
    role = template["Resources"]["StartExecutionRole"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": ["events.amazonaws.com"]}
    assert policy_statements(role) == [START_THIS_MACHINE]
    policy = one_resource(template, "AWS::SQS::QueuePolicy")["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ScheduleRule", "Arn"]}}}


def test_time_zone_schedule_uses_eventbridge_scheduler(tmp_path):
    template = render(tmp_path, SEED + '\nschedule = "cron(0 2 * * ? *)"\ntimezone = "Asia/Tokyo"').template
    assert "ScheduleRule" not in template["Resources"]  # the only rule is the failure alert
    schedule = one_resource(template, "AWS::Scheduler::Schedule")["Properties"]
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert schedule["Target"] == {
        "Arn": {"Ref": "StateMachine"},
        "RoleArn": {"Fn::GetAtt": ["StartExecutionRole", "Arn"]},
        "Input": "{}",
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
    }
    role = template["Resources"]["StartExecutionRole"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": ["scheduler.amazonaws.com"]}
    # Scheduler delivers to the dead-letter queue with the schedule's role.
    assert policy_statements(role) == [START_THIS_MACHINE, SEND_TO_DLQ]


def test_s3_trigger_matches_the_bucket_and_key_and_passes_them_to_the_container(tmp_path):
    stack = render(tmp_path, 'container_name = "app"\nenvironment = { MODE = "full" }\ns3 = { key_prefix = "incoming/", key_suffix = ".csv" }',
                   NETWORK_PARAMETERS + 'BucketName = "example-bucket"\n')
    template = stack.template
    assert template["Parameters"]["BucketName"]["Type"] == "String"
    rule = template["Resources"]["ObjectCreatedRule"]["Properties"]
    pattern = {**rule["EventPattern"], "detail": {**rule["EventPattern"]["detail"], "bucket": {"name": ["example-bucket"]}}}
    event = json.loads((REFERENCE_EVENTS / "s3-object-created.json").read_text())
    event["detail"]["bucket"]["name"], event["detail"]["object"]["key"] = "example-bucket", "incoming/day 1.csv"
    assert pattern_matches(pattern, event)
    for bucket, key in [("other-bucket", "incoming/a.csv"), ("example-bucket", "incoming/a.txt"), ("example-bucket", "archive/a.csv")]:
        near_miss = json.loads(json.dumps(event))
        near_miss["detail"]["bucket"]["name"], near_miss["detail"]["object"]["key"] = bucket, key
        assert not pattern_matches(pattern, near_miss), (bucket, key)
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "StateMachine"}
    transformer = target["InputTransformer"]
    execution_input, notes = apply_input_transformer(transformer["InputPathsMap"], transformer["InputTemplate"], event)
    assert notes == []
    assert json.loads(execution_input) == {"environment": {"S3_BUCKET": "example-bucket", "OBJECT_KEY": "incoming/day 1.csv"}}
    assert policy_statements(template["Resources"]["StartExecutionRole"]) == [START_THIS_MACHINE]
    states = definition_of(stack)["States"]
    # The object comes from the input; MODE stays fixed (input_overrides is off).
    assert states["Read execution input"]["Parameters"]["defaults"] == {"environment": {"S3_BUCKET": "", "OBJECT_KEY": ""}}
    assert states["Run ECS task"]["Parameters"]["Overrides"]["ContainerOverrides"] == [{
        "Name": "app",
        "Environment": [
            {"Name": "MODE", "Value": "full"},
            {"Name": "S3_BUCKET", "Value.$": "$.run.environment.S3_BUCKET"},
            {"Name": "OBJECT_KEY", "Value.$": "$.run.environment.OBJECT_KEY"},
        ],
    }]
    assert "EventBridge notifications on for the existing bucket" in stack.files["job/README.md"]


@pytest.mark.parametrize("options, field, message", [
    ('task_count = 2', "task_count", "one task"),
    ('command = ["echo", "${HOME}"]', "command", "DefinitionSubstitutions placeholder"),
    ('environment = { A = "${X}" }', "environment", "DefinitionSubstitutions placeholder"),
    ('input_overrides = true', "command", "default command"),
    ('timezone = "Asia/Tokyo"', "timezone", "only with a schedule"),
    ('schedule = "rate(1 day)"\ns3 = { key_prefix = "a/" }', "s3", "either schedule or s3"),
    ('log_level = "OFF"\nlog_execution_data = true', "log_execution_data", "logging is on"),
    ('log_level = "DEBUG"', "log_level", "ALL, ERROR, FATAL, OFF"),
    ('log_retention_days = 31', "log_retention_days", "retention"),
    ('name = "has space"', "name", "letters, digits"),
    ('name = "a.b"', "name", "letters, digits"),
    ('wait = false\ntask_failure_retry_attempts = 1', "task_failure_retry_attempts", "wait = true"),
    ('timeout_seconds = 0', "timeout_seconds", "1 to 31536000"),
    ('execution_timeout_seconds = 31536001', "execution_timeout_seconds", "1 to 31536000"),
    ('timeout_seconds = 600\nexecution_timeout_seconds = 300', "execution_timeout_seconds", "shorter than timeout_seconds (600)"),
    ('ecs_retry_backoff_rate = 0', "ecs_retry_backoff_rate", "1.0 to 100"),
    ('ecs_retry_backoff_rate = 0.5', "ecs_retry_backoff_rate", "0.5 is out of range; allowed: 1.0 to 100"),
    ('ecs_retry_backoff_rate = nan', "ecs_retry_backoff_rate", "allowed: 1.0 to 100"),
    ('ecs_retry_backoff_rate = "2"', "ecs_retry_backoff_rate", "expected a number, got '2'"),
    ('ecs_retry_backoff_rate = true', "ecs_retry_backoff_rate", "expected a number"),
    ('schedule = "cron(0 2 * * *)"', "schedule", "6"),
    ('environment = { S3_BUCKET = "x" }\ns3 = { key_prefix = "a/" }', "s3", "also in environment"),
    ('s3 = { bucket_env_var = "SAME", key_env_var = "SAME" }', "s3.key_env_var", "must differ"),
])
def test_options_are_validated_with_the_field_and_what_is_allowed(tmp_path, options, field, message):
    with pytest.raises(UserError) as raised:
        render(tmp_path, 'container_name = "app"\n' + options)
    assert raised.value.field == f"options.{field}"
    assert message in raised.value.message


def test_a_placeholder_and_substitution_that_disagree_fail_the_render_naming_the_stack(tmp_path, monkeypatch):
    """The render-time check in build(): a definition placeholder without its substitution (and a
    substitution no placeholder uses) is a one-line error naming the stack and the ${...}."""
    built = asl.ecs_job_substitutions

    def disagreeing(task):
        substitutions = dict(built(task))
        del substitutions["ClusterArn"]
        return {**substitutions, "Unused": "x"}

    monkeypatch.setattr(asl, "ecs_job_substitutions", disagreeing)
    with pytest.raises(UserError) as raised:
        render(tmp_path, SEED)
    assert raised.value.stack == "job"
    assert "no DefinitionSubstitutions entry for ${ClusterArn}" in raised.value.message
    assert "entries no placeholder uses: Unused" in raised.value.message
    assert str(raised.value).startswith("stack job: definition: state machine definition: ")
    assert "\n" not in str(raised.value)


def test_a_name_too_long_for_step_functions_fails_the_render(tmp_path):
    """`${AWS::StackName}-<name>` with the stack name samconfig gives (`<stack>-<env>`) must fit in
    Step Functions' 80 characters."""
    stack_name = "s" * 60
    text = manifest_text(stack_name, "sfn_task", SEED + f'\nname = "{"n" * 20}"')
    with pytest.raises(UserError) as raised:
        render_text(tmp_path, text)
    assert raised.value.stack == stack_name and raised.value.field == "options.name"
    # the test manifest's one environment is dev: 60 + "-dev" + "-" + 20 = 85
    assert f"would be 85 characters in environment dev: '{stack_name}-dev-{'n' * 20}'" in raised.value.message
    assert "allowed: at most 15 characters for name here" in raised.value.message
    assert "\n" not in str(raised.value)
    # 15 fits dev...
    render_text(tmp_path, manifest_text(stack_name, "sfn_task", SEED + f'\nname = "{"n" * 15}"'))
    # ...and without a name the state machine is `<stack>-<env>`: at most 63 + 1 + 16 characters.
    render_text(tmp_path, manifest_text("s" * 63, "sfn_task", SEED))


def test_every_environments_state_machine_name_is_checked():
    sfn_task.check_state_machine_names("s" * 60, ["dev", "prod"], "n" * 14)  # 60+1+4+1+14 = 80
    with pytest.raises(UserError) as raised:
        sfn_task.check_state_machine_names("s" * 60, ["dev", "production"], "n" * 14)
    assert raised.value.field == "options.name"
    assert f"would be 86 characters in environment production: '{'s' * 60}-production-{'n' * 14}'" in raised.value.message
    assert "allowed: at most 8 characters for name here" in raised.value.message
    sfn_task.check_state_machine_names("s" * 63, ["a" * 16], None)  # no name: the stack name alone, at most 80
    # environments unknown (a StackContext built without them): the shortest possible name is checked
    with pytest.raises(UserError) as raised:
        sfn_task.check_state_machine_names("s" * 60, None, "n" * 20)
    assert "would be 83 characters with even a one-letter environment" in raised.value.message


def test_a_placeholder_without_substitution_or_an_unused_substitution_is_a_render_error():
    document = {"States": {"A": {"Type": "Pass", "Parameters": {"x": "${Used}", "y": "${Missing}"}, "End": True}}}
    with pytest.raises(UserError) as raised:
        asl.check_substitutions(document, {"Used": "1", "Unused": "2"})
    assert "${Missing}" in raised.value.message and "Unused" in raised.value.message
    asl.check_substitutions(document, {"Used": "1", "Missing": "2"})  # consistent: no error


@pytest.mark.parametrize("event_file", ["ecs-task-state-change-stopped-exit0.json", "ecs-task-state-change-failed-to-start.json"])
def test_task_scoped_statements_cover_the_task_arns_ecs_reports(tmp_path, event_file):
    """AWS's own policy grants StopTask/DescribeTasks on "*". Scoped to `task/<cluster>/*`, they must
    still cover the tasks of that cluster: checked against ECS's documented task ARNs (sample events
    of AWS's ECS guide), resolved for the event's account, Region and cluster."""
    import fnmatch

    from generator.review.event_simulator import Resolver

    event = json.loads((REFERENCE_EVENTS / event_file).read_text())
    detail = event["detail"]
    template = render(tmp_path, SEED).template
    statements = {s["Sid"]: s for s in policy_statements(template["Resources"]["StateMachineRole"])}

    def resolved(statement: dict, cluster_arn: str) -> list[str]:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": event["region"], "AWS::AccountId": event["account"]}
        family = detail["taskDefinitionArn"].split("task-definition/")[1].split(":")[0]
        return Resolver(template, {"ClusterArn": cluster_arn, "TaskFamily": family}, pseudo).resolve(statement["Resource"])

    (tasks_in_cluster,) = resolved(statements["WatchTasksInCluster"], detail["clusterArn"])
    assert fnmatch.fnmatchcase(detail["taskArn"], tasks_in_cluster)
    other_cluster = detail["clusterArn"].replace("cluster/", "cluster/other-")
    (tasks_elsewhere,) = resolved(statements["WatchTasksInCluster"], other_cluster)
    assert not fnmatch.fnmatchcase(detail["taskArn"], tasks_elsewhere)
    # RunTask with the family runs a revision (`report:7`): IAM checks that ARN against `<family>:*`.
    family_arn, revisions_arn = resolved(statements["RunTaskFamilyInCluster"], detail["clusterArn"])
    assert fnmatch.fnmatchcase(detail["taskDefinitionArn"], revisions_arn)
    assert not fnmatch.fnmatchcase(detail["taskDefinitionArn"], family_arn)


def test_an_s3_trigger_filter_starting_with_the_bucket_name_is_refused_per_environment(tmp_path):
    from generator.core.manifest import load_manifest

    (tmp_path / "stacks.toml").write_text(manifest_text("job", "sfn_task", SEED + '\ns3 = { key_prefix = "landing/raw/" }',
                                                        NETWORK_PARAMETERS + 'BucketName = "landing"\n'))
    options = load_manifest(tmp_path / "stacks.toml")["job"].options
    with pytest.raises(UserError) as raised:
        options.check_parameter_values({"BucketName": "landing"})
    assert raised.value.field == "s3.key_prefix" and "allowed: 'raw/'" in raised.value.message
    options.check_parameter_values({"BucketName": "other"})  # another bucket: the prefix is a key
