"""IAM pieces shared by every blueprint: service roles and least-privilege statements (awacs).

Each function returns statements a test can assert exactly; none grants `Resource: "*"` where AWS
supports a narrower resource.
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
