"""deploy_role: who may assume each role, exactly what each may do, how the execution role is
bounded (checked against CloudFormation's own handler permissions and the Service Authorization
Reference, both as cfn-lint ships them), render-time refusals, and a deploy to moto.

moto 5.2.5 does not model AWS::IAM::OIDCProvider in CloudFormation ("No Moto CloudFormation support"):
the deploy passes an existing provider's ARN (created through moto's IAM API, as a second
environment in one account does), and the create path is asserted on the template.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from generator.aws import deploy_permissions as permissions
from generator.aws.github_oidc import GITHUB_OIDC_URL
from generator.aws.iam import is_star_only_action
from generator.core.manifest import load_manifest
from generator.core.render import plan
from support.manifests import render_text
from support.moto_deploy import client, create_stack, inline_policy, physical_ids

GOLDEN = Path(__file__).parent / "golden"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"
PROVIDER = {"Fn::If": ["CreateGitHubOidcProvider", {"Ref": "GitHubOidcProvider"}, {"Ref": "GitHubOidcProviderArn"}]}
TOKYO = ["nightly-report", "api-redeploy", "batch-base", "csv-ingest"]


@pytest.fixture(scope="module")
def golden():
    specs = load_manifest(GOLDEN / "stacks.toml")
    render_plan = plan(specs, only=None, manifest_path=GOLDEN / "stacks.toml", out_dir=GOLDEN / "out",
                       samconfig_path=GOLDEN / "out" / "samconfig.toml")
    return {stack.spec.name: stack for stack in render_plan.stacks}


def resources(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(role_or_policy):
    props = role_or_policy["Properties"]
    if "PolicyDocument" in props:
        return props["PolicyDocument"]["Statement"]
    (policy,) = props["Policies"]
    return policy["PolicyDocument"]["Statement"]


def sub(text):
    return {"Fn::Sub": text}


def stack_arns(names, env="${GitHubEnvironment}"):
    return [sub(f"arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{n}-{env}/*") for n in names]


def execution_statements(template):
    policies = resources(template, "AWS::IAM::ManagedPolicy")
    assert all(p["Properties"]["Roles"] == [{"Ref": "CloudFormationExecutionRole"}] for p in policies.values())
    return [s for name in sorted(policies, key=lambda n: int(n.removeprefix("ExecutionPolicy"))) for s in statements(policies[name])]


# --- who may assume what ---------------------------------------------------------------------

def test_deploy_role_is_for_one_repository_in_the_named_environment_only(golden):
    template = golden["variant-deploy-roles"].template
    (trust,) = template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": ["sts:AssumeRoleWithWebIdentity"],
        "Condition": {"StringEquals": {AUD: "sts.amazonaws.com",
                                       SUB: sub("repo:octo-org/batch-jobs:environment:${GitHubEnvironment}")}},
    }
    assert template["Parameters"]["GitHubEnvironment"]["AllowedValues"] == ["dev", "prod"]
    assert golden["variant-deploy-roles"].spec.parameter_values("prod")["GitHubEnvironment"] == "prod"


def test_preview_role_is_for_pull_requests_and_the_immutable_repository_form_is_kept_verbatim(golden):
    (trust,) = golden["variant-deploy-roles"].template["Resources"]["PreviewRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"StringEquals": {AUD: "sts.amazonaws.com", SUB: "repo:octo-org/batch-jobs:pull_request"}}
    (trust,) = golden["variant-deploy-roles-test"].template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"][SUB] == sub("repo:octo-org@123456/batch-jobs@789012:environment:${GitHubEnvironment}")
    assert "PreviewRole" not in golden["variant-deploy-roles-us"].template["Resources"]


def test_the_oidc_provider_is_created_unless_an_existing_one_is_given(golden):
    template = golden["variant-deploy-roles"].template
    assert template["Resources"]["GitHubOidcProvider"] == {
        "Type": "AWS::IAM::OIDCProvider", "Condition": "CreateGitHubOidcProvider",
        # no ThumbprintList: optional, and IAM ignores thumbprints for GitHub (trusted root CAs)
        "Properties": {"Url": GITHUB_OIDC_URL, "ClientIdList": ["sts.amazonaws.com"]},
    }
    assert template["Conditions"]["CreateGitHubOidcProvider"] == {"Fn::Equals": [{"Ref": "GitHubOidcProviderArn"}, ""]}
    assert template["Parameters"]["GitHubOidcProviderArn"]["Default"] == ""
    assert template["Outputs"]["GitHubOidcProviderArn"]["Value"] == PROVIDER
    assert golden["variant-deploy-roles"].spec.parameter_values("prod")["GitHubOidcProviderArn"].endswith(":oidc-provider/token.actions.githubusercontent.com")


def test_execution_role_trusts_cloudformation_only(golden):
    role = golden["variant-deploy-roles"].template["Resources"]["CloudFormationExecutionRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": ["cloudformation.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]
    assert "Policies" not in role and "ManagedPolicyArns" not in role


# --- what each role may do -------------------------------------------------------------------

def test_deploy_role_may_run_sam_deploy_on_the_covered_stacks_and_pass_only_the_execution_role(golden):
    template = golden["variant-deploy-roles"].template
    artifacts = sub(["${Bucket}/*", {"Bucket": {"Fn::GetAtt": ["ArtifactsBucket", "Arn"]}}])
    assert statements(template["Resources"]["DeployRole"]) == [
        {"Sid": "DeployStacks", "Effect": "Allow", "Action": list(permissions.SAM_DEPLOY_ACTIONS), "Resource": stack_arns(TOKYO)},
        {"Sid": "UseSamTransform", "Effect": "Allow", "Action": ["cloudformation:CreateChangeSet"],
         "Resource": [sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:aws:transform/Serverless-2016-10-31")]},
        {"Sid": "UploadArtifacts", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [artifacts]},
        {"Sid": "PassExecutionRole", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": [{"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}],
         "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}},
    ]
    # what `sam deploy` calls (samcli/lib/deploy/deployer.py), every one of them allowed
    for action in ("CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks", "DescribeStackEvents", "GetTemplateSummary"):
        assert f"cloudformation:{action}" in permissions.SAM_DEPLOY_ACTIONS
    assert not any("DeleteStack" in a or "UpdateStack" in a for a in permissions.SAM_DEPLOY_ACTIONS)


def test_preview_role_never_executes_passes_or_writes(golden):
    preview = statements(golden["variant-deploy-roles"].template["Resources"]["PreviewRole"])
    actions = {a for s in preview for a in s["Action"]}
    assert actions == (set(permissions.SAM_DEPLOY_ACTIONS) - {"cloudformation:ExecuteChangeSet"}
                       | {"cloudformation:ListStackResources", "cloudformation:ListExports", "s3:GetObject"})
    assert preview[0]["Resource"] == stack_arns(TOKYO)
    assert preview[1] == {"Sid": "ReadExports", "Effect": "Allow", "Action": ["cloudformation:ListExports"], "Resource": ["*"]}
    assert not any(a.startswith("iam:") or a in ("s3:PutObject", "s3:DeleteObject") for a in actions)


def test_execution_grants_name_only_the_covered_stacks(golden):
    grants = execution_statements(golden["variant-deploy-roles"].template)
    by_sid = {s["Sid"]: s for s in grants}
    assert by_sid["ManageQueues"]["Resource"] == [
        sub(f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{name}-${{GitHubEnvironment}}-*") for name in TOKYO]
    assert by_sid["PassStackRoles"]["Condition"] == {"StringEquals": {"iam:PassedToService": list(permissions.ROLE_RECEIVERS)}}
    assert by_sid["RegisterTaskDefinitions"]["Resource"] == [
        sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/batch-base-${GitHubEnvironment}:*")]
    assert by_sid["ManageStackBuckets"]["Resource"] == [
        sub(["arn:${AWS::Partition}:s3:::${Name}", {"Name": {"Fn::FindInMap": ["StackBuckets", {"Ref": "GitHubEnvironment"}, "CsvIngest"]}}])]
    assert golden["variant-deploy-roles"].template["Mappings"]["StackBuckets"] == {
        "dev": {"CsvIngest": "sample-bucket-dev"}, "prod": {"CsvIngest": "sample-bucket-prod"}}
    assert by_sid["ActionsWithoutResourceTypes"]["Resource"] == ["*"]
    assert all(is_star_only_action(a) for a in by_sid["ActionsWithoutResourceTypes"]["Action"])
    others = {"artisan-logger", "stock-trader-task", "variant-ssm-no-dlq", "variant-deploy-roles"}
    text = json.dumps(grants)
    assert not any(f"{name}-${{GitHubEnvironment}}" in text for name in others)
    # the test stacks: a custom family, an existing bucket (no bucket statement)
    test_grants = {s["Sid"]: s for s in execution_statements(golden["variant-deploy-roles-test"].template)}
    assert test_grants["RegisterTaskDefinitions"]["Resource"] == [
        sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/heavy-job:*")]
    assert "ManageStackBuckets" not in test_grants


def test_execution_grants_cover_every_handler_permission_of_the_resource_types_or_say_why_not():
    granted = {a for g in permissions.EXECUTION_GRANTS for a in g.actions}
    granted |= set(permissions.TASK_DEFINITION_ACTIONS) | set(permissions.BUCKET_ACTIONS) | set(permissions.ARTIFACT_ACTIONS)
    granted |= {"iam:CreateServiceLinkedRole"}
    needed = set()
    for kind in permissions.RESOURCE_TYPES:
        handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema["handlers"]
        needed |= {p for h in ("create", "read", "update", "delete") for p in handlers.get(h, {}).get("permissions", [])}
    missing = {a for a in needed - granted if a not in permissions.EXCLUDED and a.split(":")[0] not in permissions.EXCLUDED_SERVICES}
    assert missing == set()
    # nothing granted that no handler calls
    assert granted - needed == set()
    assert all(reason for reason in permissions.EXCLUDED.values())


def test_every_granted_action_applies_to_the_resources_it_is_granted_on():
    """Service Authorization Reference (cfn-lint's copy): each action has a resource type matching
    its statement's ARNs, or has none and is granted on "*" only."""
    services = load_resource(AdditionalSpecs, "Policies.json")
    kinds = {"ManageStackRoles": "role", "PassStackRoles": "role", "ManageQueues": "queue", "ManageTopics": "topic",
             "ManageRules": "rule-on-default-event-bus", "ManageSchedules": ("schedule", "schedule-group"), "ManageAlarms": "alarm",
             "ManageLogGroups": "log-group", "ManageFunctions": "function", "ManageStateMachines": "statemachine",
             "ManageClusters": "cluster", "DescribeFargateCapacityProviders": "capacity-provider", "ManageKeys": "key"}
    for grant in permissions.EXECUTION_GRANTS:
        for action in grant.actions:
            service, name = action.split(":")
            types = services[service]["Actions"][name.lower()].get("Resources") or []
            if grant.resources is None:
                assert types == [], action
            else:
                wanted = kinds[grant.sid] if isinstance(kinds[grant.sid], tuple) else (kinds[grant.sid],)
                assert set(types) & set(wanted), f"{action} has no resource type {wanted}: {types}"


def test_every_resource_type_the_blueprints_create_is_covered(golden):
    from support.moto_deploy import sam_translate

    found = set()
    for name, stack in golden.items():
        if stack.spec.blueprint == "deploy_role":
            continue
        template = json.loads(json.dumps(stack.template))
        if "Transform" in template:
            for resource in template["Resources"].values():
                props = resource.get("Properties", {})
                for key in ("CodeUri", "DefinitionUri"):
                    if key in props:
                        props[key] = "s3://bucket/key"
            env = next(iter(stack.spec.environments))
            template = sam_translate(template, "us-east-1", stack.spec.parameter_values(env))
        found |= {r["Type"] for r in template["Resources"].values()}
    assert found <= set(permissions.RESOURCE_TYPES)


def test_every_managed_policy_fits_iam_and_the_deploy_role_policy_fits_inline(golden):
    for name in ("variant-deploy-roles", "variant-deploy-roles-us", "variant-deploy-roles-test"):
        template = golden[name].template
        for policy in resources(template, "AWS::IAM::ManagedPolicy").values():
            text = json.dumps(policy["Properties"]["PolicyDocument"], separators=(",", ":"))
            resolved = re.sub(r'\{"Fn::Sub":("[^"]*")\}', r"\1", text)
            for placeholder, longest in (("${AWS::Partition}", "aws-iso-b"), ("${AWS::Region}", "ap-southeast-5"),
                                         ("${AWS::AccountId}", "123456789012"), ("${GitHubEnvironment}", "x" * 16)):
                resolved = resolved.replace(placeholder, longest)
            assert len(resolved) <= permissions.MANAGED_POLICY_LIMIT
        deploy = json.dumps(template["Resources"]["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"], separators=(",", ":"))
        assert len(deploy) < permissions.ROLE_INLINE_LIMIT


# --- refusals ------------------------------------------------------------------------------

ROLE = """
[stacks.roles]
blueprint = "deploy_role"
[stacks.roles.options]
github_repository = "octo/repo"
{options}
[stacks.roles.environments.dev]
region = "eu-west-1"
[stacks.roles.environments.prod]
region = "eu-west-1"
"""
JOB = """
[stacks.{name}]
blueprint = "task_foundation"
[stacks.{name}.options]
image_repository = "app"
{environments}
"""


def _job(name, **regions):
    environments = "".join(f'[stacks.{name}.environments.{env}]\nregion = "{region}"\n'
                           f'[stacks.{name}.environments.{env}.parameters]\nImageTag = "1"\n' for env, region in regions.items())
    return JOB.format(name=name, environments=environments)


@pytest.mark.parametrize("manifest, message", [
    (ROLE.format(options="") + _job("a", dev="eu-west-1"), "options.stacks: stack 'a' has no environment 'prod'"),
    (ROLE.format(options="") + _job("a", dev="eu-west-1", prod="us-east-1"), "stack 'a' deploys prod to us-east-1, this stack to eu-west-1"),
    (ROLE.format(options='stacks = ["nope"]') + _job("a", dev="eu-west-1", prod="eu-west-1"), "'nope' is not a stack of the manifest"),
    (ROLE.format(options='stacks = ["roles"]') + _job("a", dev="eu-west-1", prod="eu-west-1"), "'roles' is a deploy_role stack"),
    (ROLE.format(options="").replace("octo/repo", "octo/repo:environment:prod"), "github_repository: 'octo/repo:environment:prod' is not OWNER/REPO"),
    (ROLE.format(options="").replace("octo/repo", "octo/*"), "is not OWNER/REPO"),
])
def test_render_refuses(tmp_path, manifest, message):
    from generator.core.errors import UserError

    with pytest.raises(UserError) as error:
        render_text(tmp_path, manifest)
    assert message in str(error.value) and "stack roles" in str(error.value)


def test_too_many_stacks_for_one_role_is_a_render_error_naming_the_way_out(tmp_path):
    from generator.core.errors import UserError

    manifest = ROLE.format(options="") + "".join(_job(f"job-with-a-rather-long-name-{i:03d}", dev="eu-west-1", prod="eu-west-1")
                                                  for i in range(60))
    with pytest.raises(UserError) as error:
        render_text(tmp_path, manifest)
    assert "options.stacks" in str(error.value) and ("managed policies" in str(error.value) or "characters" in str(error.value))


# --- deployed --------------------------------------------------------------------------------

@pytest.mark.deploy
@pytest.mark.slow
def test_deploys_on_moto_with_the_accounts_existing_provider(golden, moto_endpoint):
    region = "ap-northeast-1"
    iam = client("iam", moto_endpoint, region)
    provider = iam.create_open_id_connect_provider(Url=GITHUB_OIDC_URL, ClientIDList=["sts.amazonaws.com"])["OpenIDConnectProviderArn"]
    stack = golden["variant-deploy-roles"]
    overrides = {**stack.spec.parameter_values("prod"), "GitHubOidcProviderArn": provider}
    created = create_stack(moto_endpoint, region, "variant-deploy-roles-prod", json.dumps(stack.template), overrides, ["CAPABILITY_IAM"])
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    ids = physical_ids(moto_endpoint, region, "variant-deploy-roles-prod")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in created["Outputs"]}
    assert outputs["GitHubOidcProviderArn"] == provider

    trust = iam.get_role(RoleName=ids["DeployRole"])["Role"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": provider}
    assert statement["Condition"]["StringEquals"][SUB] == "repo:octo-org/batch-jobs:environment:prod"
    deploy = inline_policy(moto_endpoint, region, ids["DeployRole"])
    stacks = deploy["Statement"][0]["Resource"]
    assert stacks == [f"arn:aws:cloudformation:{region}:123456789012:stack/{name}-prod/*" for name in TOKYO]
    assert deploy["Statement"][3]["Resource"] == [outputs["CloudFormationExecutionRoleArn"]]

    attached = iam.list_attached_role_policies(RoleName=ids["CloudFormationExecutionRole"])["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == sorted(ids[k].rsplit("/", 1)[1] for k in ids if k.startswith("ExecutionPolicy"))
    documents = []
    for policy in attached:
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
        documents.append(document if isinstance(document, dict) else json.loads(document))
    queues = next(s for d in documents for s in d["Statement"] if s["Sid"] == "ManageQueues")
    assert queues["Resource"] == [f"arn:aws:sqs:{region}:123456789012:{name}-prod-*" for name in TOKYO]
    buckets = next(s for d in documents for s in d["Statement"] if s["Sid"] == "ManageStackBuckets")
    assert buckets["Resource"] == ["arn:aws:s3:::sample-bucket-prod"]

    # moto's CloudFormation applies a bucket's encryption (and tags) only: versioning, the public
    # access block and the lifecycle rule are asserted on the template.
    s3 = client("s3", moto_endpoint, region)
    rule = s3.get_bucket_encryption(Bucket=outputs["ArtifactsBucketName"])["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    bucket = stack.template["Resources"]["ArtifactsBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["Properties"]["PublicAccessBlockConfiguration"].values()) == {True}
    (lifecycle,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30} and "ExpirationInDays" not in lifecycle
