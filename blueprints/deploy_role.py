"""Deploy role bootstrap: what a GitHub workflow of one repository needs to deploy this manifest's
stacks, per environment, and nothing more. Deployed once per account and environment, by an
administrator, never by the pipeline (a role that could update its own stack could widen itself).

- The GitHub OIDC provider (or the account's existing one, GitHubOidcProviderArn).
- DeployRole: assumable only by a job of `github_repository` running in the GitHub environment of
  the same name; may run `sam deploy` on the covered stacks (`<stack>-<env>`), upload to the
  artifacts bucket, and pass the execution role to CloudFormation only.
- CloudFormationExecutionRole: what CloudFormation uses to create the stacks' resources (see
  generator/aws/deploy_permissions.py for how it is bounded).
- PreviewRole (pull_request_preview): assumable by the repository's pull_request jobs; may create
  and delete change sets on the covered stacks, never execute one.
- ArtifactsBucket: where `sam deploy --s3-bucket` uploads templates, function code and state
  machine definitions (encrypted, private, TLS only, versioned, kept when the stack is deleted).
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs.aws import Allow, PolicyDocument, Principal, Statement
import awacs.sts
from troposphere import FindInMap, GetAtt, Output, Parameter, Ref, Sub, Template
from troposphere import iam as cfn_iam, s3

from generator.aws import checkov_skips as skip_reasons
from generator.aws import deploy_permissions as permissions
from generator.aws import github_oidc
from generator.aws.buckets import private_bucket_properties, tls_only_statement
from generator.aws.checkov_skips import checkov_skips
from generator.aws.iam import POLICY_VERSION
from generator.core.contract import PIPELINE_DEPLOY_ROLES, BlueprintOptions, Rendered, StackContext
from generator.core.errors import UserError
from generator.core.options import ascii_fullmatch, option

DESCRIPTION = "GitHub OIDC deploy role per environment: sam deploy of this manifest's stacks, a bounded CloudFormation execution role, an artifacts bucket"
PROVIDES = frozenset({PIPELINE_DEPLOY_ROLES})  # the pipeline never deploys these stacks; their roles deploy the others

ENVIRONMENT = "GitHubEnvironment"
DEPLOY_ROLE, PREVIEW_ROLE, EXECUTION_ROLE = "DeployRole", "PreviewRole", "CloudFormationExecutionRole"
ARTIFACTS_BUCKET, ARTIFACTS_BUCKET_POLICY = "ArtifactsBucket", "ArtifactsBucketPolicy"
STACK_BUCKETS = "StackBuckets"  # Mapping: environment → stack → the bucket it creates
EXECUTION_POLICY = "ExecutionPolicy"  # ExecutionPolicy1, 2…: the execution role's managed policies
# The longest value each placeholder can take, to count a policy's size before CloudFormation substitutes it.
_LONGEST = {"${AWS::Partition}": "aws-iso-b", "${AWS::Region}": "ap-southeast-5", "${AWS::AccountId}": "123456789012",
            "${%s}" % ENVIRONMENT: "x" * 16}
NONCURRENT_ARTIFACT_DAYS = 30
# The pipeline's repository variables are named after this stack's CloudFormation stack name,
# upper-cased with _ (generator/core/pipeline.py, github_variable): e.g. DEPLOY_ROLES_DEV_DEPLOY_ROLE_ARN.
VARIABLE = "<STACK_NAME>"


@dataclass(frozen=True, kw_only=True)
class Options(BlueprintOptions):
    github_repository: str = option(doc="OWNER/REPO exactly as the repository's OIDC `sub` claim has it (for a repository with "
                                        "immutable subject claims, with its ids as its OIDC settings show them)",
                                    example="octo-org/batch-jobs")
    stacks: tuple[str, ...] = option((), doc="the stacks the roles may deploy; each must have every environment of this stack, "
                                             "in the same Region",
                                     by_default="every stack of the manifest that is not a deploy_role")
    pull_request_preview: bool = option(True, doc="a PreviewRole for the pull request's `diff --live` (change sets created and "
                                                  "deleted, never executed)", by_default="true")

    def __post_init__(self):
        super().__post_init__()
        if not ascii_fullmatch(github_oidc.REPOSITORY, self.github_repository):
            raise UserError(f"{self.github_repository!r} is not OWNER/REPO (GitHub names; with immutable subject claims "
                            "the ids as the repository's OIDC settings show them)", field="github_repository")
        for name in self.stacks:
            if not ascii_fullmatch(r"[a-z][a-z0-9-]{0,62}", name):  # a manifest stack name
                raise UserError(f"{name!r} is not a stack name", field="stacks")

    def implied_parameters(self, environment: str) -> dict[str, str]:
        return {**super().implied_parameters(environment), ENVIRONMENT: environment}


def covered_stacks(options: Options, stack: StackContext) -> list:
    """The manifest stacks the roles deploy, checked: each has every environment of this stack, in
    its Region (one artifacts bucket per environment: Lambda reads function code from a bucket in
    its own Region, https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-functioncode.html)."""
    manifest = {s.name: s for s in stack.manifest}
    if options.stacks:
        unknown = [name for name in options.stacks if name not in manifest]
        if unknown:
            raise UserError(f"{unknown[0]!r} is not a stack of the manifest; stacks: {', '.join(manifest)}", field="options.stacks")
        chosen = [manifest[name] for name in options.stacks]
    else:
        chosen = [s for s in stack.manifest if PIPELINE_DEPLOY_ROLES not in s.provides]
    own = manifest.get(stack.name)
    for other in chosen:
        if PIPELINE_DEPLOY_ROLES in other.provides:
            raise UserError(f"{other.name!r} is a deploy_role stack; a deploy role never deploys deploy roles", field="options.stacks")
        for env in stack.environments:
            if env not in other.regions:
                raise UserError(f"stack {other.name!r} has no environment {env!r}; allowed: stacks with every environment of "
                                f"this stack ({', '.join(stack.environments)}); list the others in options.stacks of another deploy_role stack",
                                field="options.stacks")
            region, own_region = other.regions[env], own.regions.get(env) if own else None
            if region and own_region and region != own_region:
                raise UserError(f"stack {other.name!r} deploys {env} to {region}, this stack to {own_region}; allowed: one Region "
                                "per environment (its artifacts bucket); cover the others with a deploy_role stack in that Region",
                                field="options.stacks")
    if not chosen:
        raise UserError("no stack to deploy: the manifest has only deploy_role stacks", field="options.stacks")
    return chosen


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def build(options: Options, stack: StackContext) -> Rendered:
    covered = covered_stacks(options, stack)
    template = Template()
    environment = template.add_parameter(Parameter(
        ENVIRONMENT, Type="String", AllowedValues=list(stack.environments),
        Description="The environment this stack is for: the GitHub environment the deploy job runs in, and the stacks' suffix"))
    provider_arn = github_oidc.add_provider(template)

    bucket = template.add_resource(s3.Bucket(
        ARTIFACTS_BUCKET,
        # A stack's rollback redeploys the previous artifacts: keep them when this stack goes.
        DeletionPolicy="Retain", UpdateReplacePolicy="Retain",
        Metadata=checkov_skips(skip_reasons.BUCKET_ACCESS_LOGS),
        BucketEncryption=s3.BucketEncryption(ServerSideEncryptionConfiguration=[
            s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256"))]),
        VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
        # sam names uploads by content hash, so a key is rarely overwritten; old versions of one go after 30 days.
        LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[s3.LifecycleRule(
            Id="ExpireOldVersions", Status="Enabled",
            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_ARTIFACT_DAYS),
            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=1))]),
        **private_bucket_properties(),
    ))
    template.add_resource(s3.BucketPolicy(ARTIFACTS_BUCKET_POLICY, Bucket=Ref(bucket), PolicyDocument=PolicyDocument(
        Version=POLICY_VERSION, Statement=[tls_only_statement(bucket)])))
    bucket_arn = GetAtt(bucket, "Arn")

    prefixes = [f"{s.name}-${{{ENVIRONMENT}}}" for s in covered]
    families = []
    for s in covered:
        if hasattr(s.options, "family"):  # a stack that registers a task definition family
            families.append(s.options.family or f"{s.name}-${{{ENVIRONMENT}}}")
    bucket_arns = _stack_bucket_arns(template, covered, stack.environments, environment)
    execution_statements = permissions.execution_statements(prefixes, task_families=families, bucket_arns=bucket_arns,
                                                             artifacts_bucket_arn=bucket_arn)
    # Trusts the service only: CloudFormation's service role documentation names no source condition for it.
    execution_role = template.add_resource(cfn_iam.Role(
        EXECUTION_ROLE,
        Description=Sub(f"CloudFormation creates the resources of this manifest's ${{{ENVIRONMENT}}} stacks with this role"),
        AssumeRolePolicyDocument=PolicyDocument(Version=POLICY_VERSION, Statement=[Statement(
            Effect=Allow, Principal=Principal("Service", ["cloudformation.amazonaws.com"]), Action=[awacs.sts.AssumeRole])]),
    ))
    # Managed policies: a role's inline policies share 10,240 characters, which a few stacks exceed.
    permissions.managed_policies(template, EXECUTION_POLICY, execution_role, execution_statements, longest=_LONGEST,
                                 field="options.stacks")
    deploy_statements = permissions.pipeline_statements(prefixes, artifacts_bucket_arn=bucket_arn,
                                                        execution_role_arn=GetAtt(execution_role, "Arn"))
    deploy_role = template.add_resource(cfn_iam.Role(
        DEPLOY_ROLE,
        Description=Sub(f"GitHub Actions in {options.github_repository}, environment ${{{ENVIRONMENT}}}: sam deploy of its stacks"),
        AssumeRolePolicyDocument=github_oidc.trust_policy(provider_arn, github_oidc.environment_subject(options.github_repository, Ref(environment))),
        Policies=[cfn_iam.Policy(PolicyName="sam-deploy", PolicyDocument=PolicyDocument(Version=POLICY_VERSION, Statement=deploy_statements))],
    ))
    checked = {DEPLOY_ROLE: deploy_statements}
    outputs = {
        "DeployRoleArn": (f"The deploy job's role-to-assume: GitHub variable {VARIABLE}_DEPLOY_ROLE_ARN", GetAtt(deploy_role, "Arn")),
        "CloudFormationExecutionRoleArn": (f"sam deploy --role-arn: GitHub variable {VARIABLE}_EXECUTION_ROLE_ARN", GetAtt(execution_role, "Arn")),
        "ArtifactsBucketName": (f"sam deploy --s3-bucket: GitHub variable {VARIABLE}_ARTIFACTS_BUCKET", Ref(bucket)),
        "GitHubOidcProviderArn": ("The GitHub OIDC provider the roles trust", provider_arn),
    }
    if options.pull_request_preview:
        preview_statements = permissions.preview_statements(prefixes, artifacts_bucket_arn=bucket_arn)
        preview_role = template.add_resource(cfn_iam.Role(
            PREVIEW_ROLE,
            Description=Sub(f"GitHub Actions pull requests of {options.github_repository}: change-set previews of the ${{{ENVIRONMENT}}} stacks"),
            AssumeRolePolicyDocument=github_oidc.trust_policy(provider_arn, github_oidc.pull_request_subject(options.github_repository)),
            Policies=[cfn_iam.Policy(PolicyName="preview", PolicyDocument=PolicyDocument(Version=POLICY_VERSION, Statement=preview_statements))],
        ))
        checked[PREVIEW_ROLE] = preview_statements
        outputs["PreviewRoleArn"] = (f"The pull request's diff --live role-to-assume: GitHub variable {VARIABLE}_PREVIEW_ROLE_ARN",
                                     GetAtt(preview_role, "Arn"))
    for role, statements in checked.items():
        size = permissions.policy_size(statements, _LONGEST)
        if size > permissions.ROLE_INLINE_LIMIT:
            raise UserError(f"{role}'s policy would be about {size} characters for {len(covered)} stacks, over IAM's "
                            f"{permissions.ROLE_INLINE_LIMIT} per role; allowed: fewer stacks per deploy_role stack (split them with "
                            "options.stacks)", field="options.stacks")
    for name, (text, value) in outputs.items():
        template.add_output(Output(name, Description=text, Value=value))

    names = ", ".join(f"`{s.name}`" for s in covered)
    summary = (f"Lets GitHub Actions workflows of `{options.github_repository}` deploy {names} (as `<stack>-<environment>`): in GitHub "
               "environment `<environment>` they may assume `DeployRole`, which runs `sam deploy` with `CloudFormationExecutionRole`"
               + (", and pull requests may assume `PreviewRole` to preview change sets" if options.pull_request_preview else "") + ".")
    notes = [
        "Deploy this stack once per account and environment with administrator credentials (never from the pipeline: the deploy "
        "role cannot update it). The second environment in the same account sets GitHubOidcProviderArn to the first one's output.",
        "Copy its outputs into GitHub variables (README: Pull requests and deployment). Adding a stack to the manifest changes this "
        "template: deploy it again before the new stack's first deployment.",
    ]
    return Rendered(template, summary=summary, notes=notes)


def _stack_bucket_arns(template: Template, covered: list, environments: tuple[str, ...], environment) -> list | None:
    """ARNs of the buckets the covered stacks create, from their BucketName parameter per
    environment (a Mapping keyed by environment, so one template serves every environment)."""
    creators = [s for s in covered if getattr(s.options, "creates_bucket", False)]
    if not creators:
        return None
    mapping: dict[str, dict[str, str]] = {env: {} for env in environments}
    for s in creators:
        for env in environments:
            name = s.parameters.get(env, {}).get("BucketName")
            if not name:
                raise UserError(f"stack {s.name!r} creates a bucket but environment {env!r} names none (BucketName)", field="options.stacks")
            mapping[env][_camel(s.name)] = name
    template.add_mapping(STACK_BUCKETS, mapping)
    return [Sub("arn:${AWS::Partition}:s3:::${Name}", Name=FindInMap(STACK_BUCKETS, Ref(environment), _camel(s.name))) for s in creators]
