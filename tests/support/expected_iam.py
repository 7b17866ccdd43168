"""The IAM statements a blueprint that starts an ECS task must grant, exactly: with the task's values as
parameters (ClusterArn, TaskFamily, ExecutionRoleArn, TaskRoleArn), and with them imported from a
task foundation's exports (`import_from`)."""

from __future__ import annotations

FAMILY_ARN = {"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${TaskFamily}"}
FAMILY_REVISIONS_ARN = {"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${TaskFamily}:*"}
RUN_TASK = {
    "Sid": "RunTaskFamilyInCluster",
    "Effect": "Allow",
    "Action": ["ecs:RunTask"],
    "Resource": [FAMILY_ARN, FAMILY_REVISIONS_ARN],
    "Condition": {"ArnEquals": {"ecs:cluster": {"Ref": "ClusterArn"}}},
}
PASS_ROLE = {
    "Sid": "PassTaskRoles",
    "Effect": "Allow",
    "Action": ["iam:PassRole"],
    "Resource": [{"Ref": "ExecutionRoleArn"}, {"Fn::If": ["HasTaskRole", {"Ref": "TaskRoleArn"}, {"Ref": "AWS::NoValue"}]}],
    "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
}
SEND_TO_DLQ = {
    "Sid": "SendToDeadLetterQueue",
    "Effect": "Allow",
    "Action": ["sqs:SendMessage"],
    "Resource": [{"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}],
}


def imported(name: str) -> dict:
    """A foundation export, as the importing template reads it."""
    return {"Fn::ImportValue": {"Fn::Sub": f"${{FoundationStack}}-{name}"}}


def imported_family_arn(suffix: str = "") -> dict:
    return {"Fn::Sub": [f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:task-definition/${{Family}}{suffix}",
                        {"Family": imported("TaskFamily")}]}


IMPORTED_RUN_TASK = {
    "Sid": "RunTaskFamilyInCluster",
    "Effect": "Allow",
    "Action": ["ecs:RunTask"],
    "Resource": [imported_family_arn(), imported_family_arn(":*")],
    "Condition": {"ArnEquals": {"ecs:cluster": imported("ClusterArn")}},
}
IMPORTED_PASS_ROLE = {
    "Sid": "PassTaskRoles",
    "Effect": "Allow",
    "Action": ["iam:PassRole"],
    "Resource": [imported("ExecutionRoleArn"), imported("TaskRoleArn")],
    "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
}
IMPORTED_WATCH_TASKS = {
    "Sid": "WatchTasksInCluster",
    "Effect": "Allow",
    "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
    "Resource": [{"Fn::Sub": [
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${Cluster}/*",
        {"Cluster": {"Fn::Select": [1, {"Fn::Split": ["cluster/", imported("ClusterArn")]}]}},
    ]}],
}


def policy_statements(role: dict) -> list[dict]:
    """The statements of a role's one inline policy."""
    (policy,) = role["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def statements_by_sid(role: dict) -> dict[str, dict]:
    return {statement.get("Sid"): statement for statement in policy_statements(role)}
