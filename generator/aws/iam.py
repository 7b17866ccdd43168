"""IAM pieces shared by every blueprint: service roles and least-privilege statements (awacs).

Each function returns statements a test can assert exactly; none grants `Resource: "*"` where AWS
supports a narrower resource. RESOURCE_STAR_ONLY_ACTIONS lists the actions that may have it: the
policy rule E9003 and a blueprint refusing a too-wide statement at render read the same list.
"""

from __future__ import annotations

from awacs.aws import Allow, ArnEquals, Condition, PolicyDocument, Principal, Statement, StringEquals
import awacs.ecs
import awacs.iam
import awacs.sqs
import awacs.sts
from troposphere import Sub
from troposphere.iam import Policy, Role

POLICY_VERSION = "2012-10-17"

_SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference"
_SFN_LOGS = (
    "Step Functions logging to CloudWatch Logs (vended log delivery) has no resource-level permissions: "
    "https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html ; "
    f"{_SAR}/list_amazoncloudwatchlogs.html"
)
_XRAY = (
    "X-Ray tracing actions have no resource-level permissions: "
    "https://docs.aws.amazon.com/step-functions/latest/dg/xray-iam.html ; "
    f"{_SAR}/list_awsx-ray.html"
)

# The ONE list of actions that may be granted on Resource "*": AWS defines no resource type for
# them, so "*" is the only value IAM accepts. Anything else with Resource "*" is an error.
# (tests/test_lint.py checks each entry against cfn-lint's copy of the Service Authorization Reference.)
RESOURCE_STAR_ONLY_ACTIONS: dict[str, str] = {
    "logs:CreateLogDelivery": _SFN_LOGS,
    "logs:GetLogDelivery": _SFN_LOGS,
    "logs:UpdateLogDelivery": _SFN_LOGS,
    "logs:DeleteLogDelivery": _SFN_LOGS,
    "logs:ListLogDeliveries": _SFN_LOGS,
    "logs:PutResourcePolicy": _SFN_LOGS,
    "logs:DescribeResourcePolicies": _SFN_LOGS,
    "logs:DescribeLogGroups": _SFN_LOGS,
    "xray:PutTraceSegments": _XRAY,
    "xray:PutTelemetryRecords": _XRAY,
    "xray:GetSamplingRules": _XRAY,
    "xray:GetSamplingTargets": _XRAY,
    "ecs:DescribeTaskDefinition": (
        "ECS defines no resource type for DescribeTaskDefinition, so the redeploy function (image_update = digest) reads "
        "the service's task definition on \"*\", and the AWS::ECS::TaskDefinition handler reads the revision it registered: "
        f"{_SAR}/list_amazonelasticcontainerservice.html"
    ),
    "ecr:GetAuthorizationToken": (
        "an ECR registry token is account-wide, so the ECS task execution role gets it on \"*\": "
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html ; "
        f"{_SAR}/list_amazonelasticcontainerregistry.html"
    ),
    # The deploy_role's CloudFormation execution role: CloudFormation's resource handlers call these.
    "kms:CreateKey": (
        "a key has no ARN before CreateKey makes it (the AWS::KMS::Key handler calls it): "
        f"{_SAR}/list_awskeymanagementservice.html"
    ),
    "logs:DescribeIndexPolicies": (
        "the AWS::Logs::LogGroup handler reads index policies; the action has no resource type: "
        f"{_SAR}/list_amazoncloudwatchlogs.html"
    ),
    "logs:DeleteResourcePolicy": (
        "CloudWatch Logs resource policies are account-wide (the AWS::Logs::ResourcePolicy handler deletes one); the action has no "
        f"resource type: {_SAR}/list_amazoncloudwatchlogs.html"
    ),
    "cloudformation:ListExports": (
        "exports are listed per Region, not per stack (diff --live reads importing stacks' values); the action has no "
        f"resource type: {_SAR}/list_awscloudformation.html"
    ),
    "ecs:DeregisterTaskDefinition": (
        "the AWS::ECS::TaskDefinition handler deregisters replaced revisions; the action has no resource type: "
        f"{_SAR}/list_amazonelasticcontainerservice.html"
    ),
}
_EXCEPTED = {action.lower() for action in RESOURCE_STAR_ONLY_ACTIONS}  # IAM action names are case-insensitive


def is_star_only_action(action: object) -> bool:
    return isinstance(action, str) and action.lower() in _EXCEPTED


def trust_policy(service: str) -> PolicyDocument:
    """Trust `service`, but only when it acts for this account (confused-deputy guard).

    https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    """
    return PolicyDocument(
        Version=POLICY_VERSION,
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", [service]),
                Action=[awacs.sts.AssumeRole],
                Condition=Condition(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
            )
        ],
    )


def service_role(logical_id: str, *, service: str, policy_name: str, statements: list[Statement], **extra) -> Role:
    """A role for one AWS service with one inline policy (no role name: CAPABILITY_IAM suffices)."""
    return Role(
        logical_id,
        AssumeRolePolicyDocument=trust_policy(service),
        Policies=[Policy(PolicyName=policy_name, PolicyDocument=PolicyDocument(Version=POLICY_VERSION, Statement=statements))],
        **extra,
    )


def run_task_statement(*, family_arn, family_revisions_arn, cluster_arn) -> Statement:
    """ecs:RunTask on one task family, any revision, in one cluster only.

    RunTask with an unversioned family runs the latest ACTIVE revision and IAM checks the request
    against that revision's ARN, so `<family>:*` is needed beside the bare family ARN.
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
    """
    return Statement(
        Sid="RunTaskFamilyInCluster",
        Effect=Allow,
        Action=[awacs.ecs.RunTask],
        Resource=[family_arn, family_revisions_arn],
        Condition=Condition(ArnEquals("ecs:cluster", cluster_arn)),
    )


def tag_on_run_task_statement(task_arns) -> Statement:
    """ecs:TagResource on the tasks RunTask creates, and only while RunTask creates them: a request
    that tags the task (tags, propagated or ECS managed tags) is also authorized as TagResource with
    `ecs:CreateAction` = RunTask; the condition keeps the role from tagging any existing resource.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
    """
    return Statement(
        Sid="TagTasksOnRunTask",
        Effect=Allow,
        Action=[awacs.ecs.TagResource],
        Resource=[task_arns],
        Condition=Condition(StringEquals("ecs:CreateAction", "RunTask")),
    )


def pass_role_statement(role_arns: list, *, to_service: str = "ecs-tasks.amazonaws.com") -> Statement:
    """iam:PassRole on exactly these roles, and only to `to_service`."""
    return Statement(
        Sid="PassTaskRoles",
        Effect=Allow,
        Action=[awacs.iam.PassRole],
        Resource=list(role_arns),
        Condition=Condition(StringEquals("iam:PassedToService", to_service)),
    )


def send_message_statement(queue_arn) -> Statement:
    return Statement(Sid="SendToDeadLetterQueue", Effect=Allow, Action=[awacs.sqs.SendMessage], Resource=[queue_arn])
