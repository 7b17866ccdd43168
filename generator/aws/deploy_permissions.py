"""What deploying this project's stacks needs in IAM: the pipeline role that runs `sam deploy`, the
read-only role that previews a pull request, and the CloudFormation execution role that creates
the stacks' resources. Each function returns awacs statements a test can assert exactly.

Pipeline role (what `sam deploy` calls, samcli/lib/deploy/deployer.py and s3_uploader.py in
aws-sam-cli 1.170): DescribeStacks, GetTemplateSummary, CreateChangeSet, DescribeChangeSet,
ExecuteChangeSet, DescribeStackEvents on the stacks; CreateChangeSet on the SAM transform (a
change set of a template with `Transform: AWS::Serverless-2016-10-31` is authorised against
`arn:<partition>:cloudformation:<region>:aws:transform/Serverless-2016-10-31`,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-template.html); HeadObject
(s3:GetObject) and PutObject on the artifacts bucket; and iam:PassRole for the execution role, to
CloudFormation only (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).
GetTemplate, ListChangeSets and DeleteChangeSet are added for the project's own `deploy` / `diff
--live` (comparing with the live template, removing their previews); nothing can delete a stack.

Execution role: the actions CloudFormation's resource handlers call for the resource types the
blueprints create (their `handlers.*.permissions` in the CloudFormation registry schemas, as cfn-lint
ships them; tests/test_deploy_role.py checks every one of them is granted or excluded below with
its reason), each on the ARNs of this manifest's stacks only, where AWS and CloudFormation allow:
names CloudFormation generates start with the stack name (`<stack>-<env>-<LogicalId>-<random>`:
roles, queues, topics, rules, alarms, functions, clusters, log groups) and the blueprints name the
rest after it (`/ecs/<stack>`, the state machine, the schedule group). Not scoped by name: KMS
keys (a key has no name; any key of the account and Region), kms:CreateKey, the account's CloudWatch
Logs resource policies and the few other actions AWS defines without a resource type (Resource "*").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from awacs.aws import Action, Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import Ref, Sub
from troposphere import iam as cfn_iam

from generator.aws.arns import arn
from generator.aws.iam import POLICY_VERSION
from generator.core.errors import UserError

SAM_TRANSFORM = "Serverless-2016-10-31"
SAM_DEPLOY_ACTIONS = ("cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
                      "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:GetTemplateSummary",
                      "cloudformation:GetTemplate", "cloudformation:ListChangeSets", "cloudformation:DeleteChangeSet")
# A preview creates a change set and deletes it; it never executes one. `diff --live` also lists the
# stack's resources (README: What each command calls on AWS).
PREVIEW_ACTIONS = tuple(a for a in SAM_DEPLOY_ACTIONS if a != "cloudformation:ExecuteChangeSet") + ("cloudformation:ListStackResources",)
# The services the blueprints' templates hand a role of their own to (a rule or schedule target,
# a state machine, a function, a task definition's execution and task roles).
ROLE_RECEIVERS = ("ecs-tasks.amazonaws.com", "events.amazonaws.com", "scheduler.amazonaws.com",
                  "states.amazonaws.com", "lambda.amazonaws.com")


def _actions(names) -> list[Action]:
    return [Action(*name.split(":", 1)) for name in names]


def stack_arns(stack_names: list[str]) -> list[Sub]:
    return [arn("cloudformation", f"stack/{name}/*") for name in stack_names]


def transform_arn() -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:aws:transform/{SAM_TRANSFORM}")


def pipeline_statements(stack_names: list[str], *, artifacts_bucket_arn, execution_role_arn) -> list[Statement]:
    """What the GitHub workflow's role needs to `sam deploy` these stacks with the execution role."""
    return [
        Statement(Sid="DeployStacks", Effect=Allow, Action=_actions(SAM_DEPLOY_ACTIONS), Resource=stack_arns(stack_names)),
        Statement(Sid="UseSamTransform", Effect=Allow, Action=_actions(["cloudformation:CreateChangeSet"]), Resource=[transform_arn()]),
        Statement(Sid="UploadArtifacts", Effect=Allow, Action=_actions(["s3:PutObject", "s3:GetObject"]),
                  Resource=[Sub("${Bucket}/*", Bucket=artifacts_bucket_arn)]),
        Statement(Sid="PassExecutionRole", Effect=Allow, Action=_actions(["iam:PassRole"]), Resource=[execution_role_arn],
                  Condition=Condition(StringEquals("iam:PassedToService", "cloudformation.amazonaws.com"))),
    ]


def preview_statements(stack_names: list[str], *, artifacts_bucket_arn) -> list[Statement]:
    """What a pull request's `diff --live` needs: read the stacks, create and delete change sets
    (CloudFormation uses the stack's own execution role for them, "even if the users don't have
    permission to pass it": https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html),
    read the uploaded artifacts to compare them, and the Region's exports (importing stacks'
    values). Never ExecuteChangeSet, never a write to S3: `diff --live` stages a changed function
    folder in the artifacts bucket, which a pull request may not (it could overwrite or delete what
    deployments use), so that preview fails with a one-line error."""
    return [
        Statement(Sid="PreviewStacks", Effect=Allow, Action=_actions(PREVIEW_ACTIONS), Resource=stack_arns(stack_names)),
        # ListExports has no resource type: "*" is the only Resource IAM accepts for it.
        Statement(Sid="ReadExports", Effect=Allow, Action=_actions(["cloudformation:ListExports"]), Resource=["*"]),
        Statement(Sid="UseSamTransform", Effect=Allow, Action=_actions(["cloudformation:CreateChangeSet"]), Resource=[transform_arn()]),
        Statement(Sid="ReadArtifacts", Effect=Allow, Action=_actions(["s3:GetObject"]),
                  Resource=[Sub("${Bucket}/*", Bucket=artifacts_bucket_arn)]),
    ]


# --- the execution role ----------------------------------------------------------------------

@dataclass(frozen=True)
class Grant:
    """Actions on the ARNs of one kind of resource; `resources(prefix)` gives the ARNs for one stack
    (prefix: `<stack>-${Environment}`), None for actions AWS defines on "*" only."""

    sid: str
    actions: tuple[str, ...]
    resources: object  # callable(prefix) -> list, or None for "*"
    condition: dict | None = None


def _role(prefix):
    return [arn("iam", f"role/{prefix}-*", region=False)]


EXECUTION_GRANTS = (
    Grant("ManageStackRoles", ("iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
                               "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:PutRolePolicy", "iam:GetRolePolicy",
                               "iam:DeleteRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"), _role),
    Grant("PassStackRoles", ("iam:PassRole",), _role, {"iam:PassedToService": list(ROLE_RECEIVERS)}),
    Grant("ManageQueues", ("sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags",
                           "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue"),
          lambda p: [arn("sqs", f"{p}-*")]),
    Grant("ManageTopics", ("sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
                           "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource", "sns:TagResource", "sns:UntagResource",
                           "sns:GetDataProtectionPolicy", "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes",
                           "sns:SetSubscriptionAttributes"),
          lambda p: [arn("sns", f"{p}-*")]),
    Grant("ManageRules", ("events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:PutTargets", "events:RemoveTargets",
                          "events:ListTargetsByRule", "events:TagResource", "events:UntagResource", "events:ListTagsForResource"),
          lambda p: [arn("events", f"rule/{p}-*")]),
    Grant("ManageSchedules", ("scheduler:CreateScheduleGroup", "scheduler:DeleteScheduleGroup", "scheduler:GetScheduleGroup",
                              "scheduler:TagResource", "scheduler:UntagResource", "scheduler:ListTagsForResource",
                              "scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule"),
          lambda p: [arn("scheduler", f"schedule-group/{p}"), arn("scheduler", f"schedule/{p}/*")]),
    Grant("ManageAlarms", ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                           "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"),
          lambda p: [arn("cloudwatch", f"alarm:{p}-*")]),
    Grant("ManageLogGroups", ("logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
                              "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource", "logs:AssociateKmsKey",
                              "logs:DisassociateKmsKey", "logs:GetDataProtectionPolicy", "logs:DeleteDataProtectionPolicy",
                              "logs:PutLogGroupDeletionProtection", "logs:PutMetricFilter", "logs:DeleteMetricFilter",
                              "logs:DescribeMetricFilters"),
          # `<name>*` covers the log group's two ARN forms, `log-group:<name>` and `log-group:<name>:*`.
          lambda p: [arn("logs", f"log-group:{p}-*"), arn("logs", f"log-group:/ecs/{p}*"),
                     arn("logs", f"log-group:/aws/vendedlogs/states/{p}*")]),
    Grant("ManageFunctions", ("lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:UpdateFunctionCode",
                              "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion", "lambda:TagResource", "lambda:UntagResource",
                              "lambda:GetFunctionCodeSigningConfig", "lambda:GetFunctionRecursionConfig", "lambda:PutFunctionRecursionConfig",
                              "lambda:GetRuntimeManagementConfig", "lambda:PutRuntimeManagementConfig", "lambda:GetFunctionScalingConfig",
                              "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
                              "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy",
                              "lambda:PutFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig",
                              "lambda:GetFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig"),
          lambda p: [arn("lambda", f"function:{p}-*")]),
    Grant("ManageStateMachines", ("states:CreateStateMachine", "states:UpdateStateMachine", "states:DeleteStateMachine",
                                  "states:DescribeStateMachine", "states:TagResource", "states:UntagResource", "states:ListTagsForResource"),
          lambda p: [arn("states", f"stateMachine:{p}*")]),
    Grant("ManageClusters", ("ecs:CreateCluster", "ecs:DeleteCluster", "ecs:DescribeClusters", "ecs:UpdateCluster",
                             "ecs:UpdateClusterSettings", "ecs:PutClusterCapacityProviders", "ecs:TagResource", "ecs:UntagResource",
                             "ecs:ListTagsForResource"),
          lambda p: [arn("ecs", f"cluster/{p}-*")]),
    # AWS::ECS::ClusterCapacityProviderAssociations (task_foundation's capacity_providers) looks up
    # the providers it associates: only Fargate's two, which every account has under these names.
    # (That the handler's call is authorised against these ARNs is not confirmed here.)
    Grant("DescribeFargateCapacityProviders", ("ecs:DescribeCapacityProviders",),
          lambda p: [arn("ecs", "capacity-provider/FARGATE"), arn("ecs", "capacity-provider/FARGATE_SPOT")]),
    Grant("ManageKeys", ("kms:DescribeKey", "kms:EnableKey", "kms:DisableKey", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
                         "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags",
                         "kms:TagResource", "kms:UntagResource", "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion"),
          lambda p: [arn("kms", "key/*")]),
    # AWS defines these without a resource type: "*" is the only Resource IAM accepts for them. The
    # CloudWatch Logs resource policies (AWS::Logs::ResourcePolicy: EventBridge may write the
    # successful-runs log group) are account-wide, up to 10 per Region: this role can replace or
    # delete any of them.
    Grant("ActionsWithoutResourceTypes", ("kms:CreateKey", "logs:DescribeLogGroups", "logs:DescribeIndexPolicies",
                                          "logs:PutResourcePolicy", "logs:DeleteResourcePolicy", "logs:DescribeResourcePolicies",
                                          "ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition"), None),
)
# Task definitions and buckets are named otherwise (a family option, a BucketName parameter): their
# statements are built from the names the manifest gives (task_definition_statement, bucket_statement).
TASK_DEFINITION_ACTIONS = ("ecs:RegisterTaskDefinition", "ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource")
BUCKET_ACTIONS = ("s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketLogging",
                  "s3:GetBucketNotification", "s3:PutBucketNotification", "s3:GetBucketObjectLockConfiguration",
                  "s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
                  "s3:DeleteBucketPolicy", "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketTagging",
                  "s3:PutBucketTagging", "s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:GetBucketWebsite",
                  "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:GetLifecycleConfiguration",
                  "s3:PutLifecycleConfiguration", "s3:GetAccelerateConfiguration", "s3:GetAnalyticsConfiguration",
                  "s3:GetIntelligentTieringConfiguration", "s3:GetInventoryConfiguration", "s3:GetMetricsConfiguration",
                  "s3:GetReplicationConfiguration", "s3:GetBucketAbac", "s3:GetBucketMetadataTableConfiguration",
                  "s3:ListTagsForResource", "s3:TagResource", "s3:UntagResource")
# The artifacts `sam deploy` uploaded: CloudFormation's Lambda and Step Functions handlers read the
# function code and the state machine definition from them with this role.
ARTIFACT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")

# Handler permissions not granted, with the reason; tests/test_deploy_role.py requires every handler
# permission of every resource type in RESOURCE_TYPES to be granted above or listed here.
EXCLUDED = {
    "iam:AttachRolePolicy": "no blueprint attaches a managed policy; attaching one could grant anything",
    "iam:DetachRolePolicy": "no blueprint attaches a managed policy",
    "iam:PutRolePermissionsBoundary": "no role has a permissions boundary",
    "iam:DeleteRolePermissionsBoundary": "no role has a permissions boundary",
    "ecs:PutAccountSetting": "changes account-wide ECS settings, which no stack sets",
    "ecs:PutAccountSettingDefault": "changes account-wide ECS defaults, which no stack sets",
    "kms:CreateGrant": "no function or state machine is encrypted with a customer managed key",
    "kms:Decrypt": "no function or state machine is encrypted with a customer managed key",
    "kms:Encrypt": "no function or state machine is encrypted with a customer managed key",
    "kms:GenerateDataKey": "no function or state machine is encrypted with a customer managed key",
    "ec2:DescribeNetworkInterfaces": "no function runs in a VPC",
    "ec2:DescribeSecurityGroups": "no function runs in a VPC",
    "ec2:DescribeSubnets": "no function runs in a VPC",
    "ec2:DescribeVpcs": "no function runs in a VPC",
    "elasticfilesystem:DescribeMountTargets": "no function mounts EFS",
    "s3files:ListMountTargets": "no function mounts a file system",
    "lambda:GetLayerVersion": "no function uses layers",
    "lambda:GetCodeSigningConfig": "no function uses code signing",
    "lambda:PutFunctionCodeSigningConfig": "no function uses code signing",
    "lambda:DeleteFunctionCodeSigningConfig": "no function uses code signing",
    "lambda:PassCapacityProvider": "no function uses a capacity provider",
    "lambda:AssociateRuntimeAlias": "no function uses a runtime alias",
    "lambda:PutFunctionScalingConfig": "no function sets a scaling configuration",
    "logs:CreateLogDelivery": "log groups deliver nowhere; Resource \"*\" only",
    "logs:PutIndexPolicy": "no log group has a field index policy; Resource \"*\" only",
    "logs:DeleteIndexPolicy": "no log group has a field index policy; Resource \"*\" only",
    "logs:PutDataProtectionPolicy": "no log group has a data protection policy",
    "logs:PutBearerTokenAuthentication": "no log group takes bearer-token ingestion",
    "firehose:TagDeliveryStream": "no log group delivers to Firehose",
    "s3:REST.PUT.OBJECT": "not an IAM action",
    "sns:PutDataProtectionPolicy": "no topic has a data protection policy",
    "s3:DeleteObject": "a bucket is never emptied by a deploy (they are kept when a stack is deleted)",
    "s3:PutObjectAcl": "buckets enforce bucket-owner ownership: ACLs are off",
    "s3:PutBucketAcl": "buckets enforce bucket-owner ownership: ACLs are off",
    "s3:PutBucketCORS": "no bucket has CORS",
    "s3:PutBucketWebsite": "no bucket is a website",
    "s3:DeleteBucketWebsite": "no bucket is a website",
    "s3:PutBucketLogging": "no bucket has access logging",
    "s3:PutAccelerateConfiguration": "no bucket uses transfer acceleration",
    "s3:PutAnalyticsConfiguration": "no bucket has analytics",
    "s3:PutIntelligentTieringConfiguration": "no bucket has Intelligent-Tiering configuration",
    "s3:PutInventoryConfiguration": "no bucket has inventory",
    "s3:PutMetricsConfiguration": "no bucket has request metrics",
    "s3:PutReplicationConfiguration": "no bucket replicates",
    "s3:PutBucketReplication": "no bucket replicates; not an IAM action with a resource type",
    "s3:PutBucketObjectLockConfiguration": "no bucket uses Object Lock",
    "s3:PutObjectLockConfiguration": "no bucket uses Object Lock",
    "s3:PutBucketAbac": "no bucket uses attribute-based access control",
    "s3:CreateBucketMetadataTableConfiguration": "no bucket has S3 Metadata tables",
    "s3:DeleteBucketMetadataTableConfiguration": "no bucket has S3 Metadata tables",
    "s3:UpdateBucketMetadataAnnotationTableConfiguration": "no bucket has S3 Metadata tables",
    "s3:UpdateBucketMetadataInventoryTableConfiguration": "no bucket has S3 Metadata tables",
    "s3:UpdateBucketMetadataJournalTableConfiguration": "no bucket has S3 Metadata tables",
    "s3:DeleteBucketAnalyticsConfiguration": "no bucket has analytics; S3 authorises this call with s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketCors": "no bucket has CORS; S3 authorises this call with s3:PutBucketCORS",
    "s3:DeleteBucketEncryption": "buckets keep their encryption; S3 authorises this call with s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "S3 authorises this call with s3:PutLifecycleConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "no bucket has request metrics; S3 authorises this call with s3:PutMetricsConfiguration",
    "s3:DeleteBucketReplication": "no bucket replicates; S3 authorises this call with s3:PutReplicationConfiguration",
}
# Tables, sub-services and the like in handler lists that no blueprint touches.
EXCLUDED_SERVICES = {"s3tables": "no stack creates S3 table buckets"}

# The resource types the blueprints' templates create, after the SAM transform.
RESOURCE_TYPES = (
    "AWS::CloudWatch::Alarm", "AWS::ECS::Cluster", "AWS::ECS::ClusterCapacityProviderAssociations", "AWS::ECS::TaskDefinition", "AWS::Events::Rule", "AWS::IAM::Role",
    "AWS::KMS::Key", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Function", "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup", "AWS::Logs::MetricFilter", "AWS::Logs::ResourcePolicy", "AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::SNS::Subscription", "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::Scheduler::Schedule",
    "AWS::Scheduler::ScheduleGroup", "AWS::StepFunctions::StateMachine",
)


def execution_statements(prefixes: list[str], *, task_families: list, bucket_arns, artifacts_bucket_arn) -> list[Statement]:
    """The execution role's statements for stacks named `prefixes` (`<stack>-${Environment}`):
    `task_families` the families their task definitions register (names, or Subs),
    `bucket_arns` a template value listing the ARNs of the buckets they create (None: none)."""
    statements = []
    for grant in EXECUTION_GRANTS:
        if grant.resources is None:
            resources = ["*"]
        else:
            resources = []
            for prefix in prefixes:
                resources += [r for r in grant.resources(prefix) if not any(r.to_dict() == seen.to_dict() for seen in resources)]
        extra = {"Condition": Condition(StringEquals(grant.condition))} if grant.condition else {}
        statements.append(Statement(Sid=grant.sid, Effect=Allow, Action=_actions(grant.actions), Resource=resources, **extra))
    if task_families:
        statements.append(Statement(Sid="RegisterTaskDefinitions", Effect=Allow, Action=_actions(TASK_DEFINITION_ACTIONS),
                                    Resource=[arn("ecs", f"task-definition/{family}:*") for family in task_families]))
    statements.append(Statement(Sid="CreateEcsServiceLinkedRole", Effect=Allow, Action=_actions(["iam:CreateServiceLinkedRole"]),
                                Resource=[arn("iam", "role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS*", region=False)],
                                Condition=Condition(StringEquals("iam:AWSServiceName", "ecs.amazonaws.com"))))
    if bucket_arns is not None:
        statements.append(Statement(Sid="ManageStackBuckets", Effect=Allow, Action=_actions(BUCKET_ACTIONS), Resource=bucket_arns))
    statements.append(Statement(Sid="ReadArtifacts", Effect=Allow, Action=_actions(ARTIFACT_ACTIONS),
                                Resource=[Sub("${Bucket}/*", Bucket=artifacts_bucket_arn)]))
    return statements


# --- policy size ----------------------------------------------------------------------------
# IAM counts a policy's characters without whitespace: at most 10,240 for all inline policies of a
# role, 6,144 for one managed policy, and 10 managed policies per role by default
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
ROLE_INLINE_LIMIT, MANAGED_POLICY_LIMIT, MANAGED_POLICIES_PER_ROLE = 10240, 6144, 10


def policy_size(statements: list[Statement], longest: dict[str, str]) -> int:
    """The policy's length as IAM counts it, each `${placeholder}` at its longest value (`longest`)."""
    from generator.emit.encode import encode

    text = json.dumps({"Version": POLICY_VERSION, "Statement": encode(statements)}, separators=(",", ":"))
    text = re.sub(r'\{"Fn::Sub":("[^"]*")\}', r"\1", text)  # the value is the substituted string
    for placeholder, value in longest.items():
        text = text.replace(placeholder, value)
    return len(text)


def managed_policies(template, logical_id: str, role, statements: list[Statement], *, longest: dict[str, str],
                     field: str) -> list:
    """The statements in as few managed policies attached to `role` as IAM's size limit allows
    (`<logical_id>1`, `2`…, in statement order; a statement too large alone is split by Resource)."""
    pieces = []
    for statement in statements:
        pieces += _split(statement, longest)
    groups: list[list[Statement]] = [[]]
    for piece in pieces:
        if groups[-1] and policy_size(groups[-1] + [piece], longest) > MANAGED_POLICY_LIMIT:
            groups.append([])
        groups[-1].append(piece)
    if len(groups) > MANAGED_POLICIES_PER_ROLE:
        raise UserError(f"the execution role would need {len(groups)} managed policies, over IAM's default quota of "
                        f"{MANAGED_POLICIES_PER_ROLE} per role; allowed: fewer stacks per deploy_role stack (options.stacks)",
                        field=field)
    return [template.add_resource(cfn_iam.ManagedPolicy(
        f"{logical_id}{index}", Roles=[Ref(role)],
        PolicyDocument=PolicyDocument(Version=POLICY_VERSION, Statement=group)))
        for index, group in enumerate(groups, start=1)]


def _split(statement: Statement, longest: dict[str, str]) -> list[Statement]:
    if policy_size([statement], longest) <= MANAGED_POLICY_LIMIT or len(statement.Resource) < 2:
        return [statement]
    half = len(statement.Resource) // 2
    parts = []
    for index, resources in enumerate((statement.Resource[:half], statement.Resource[half:]), start=1):
        props = {k: v for k, v in statement.properties.items() if k not in ("Resource", "Sid")}
        parts += _split(Statement(Sid=f"{statement.Sid}{index}", Resource=resources, **props), longest)
    return parts
