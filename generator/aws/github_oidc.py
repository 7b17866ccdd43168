"""GitHub Actions' OpenID Connect provider in IAM, and trust policies that let exactly one
repository's workflows assume a role: in one GitHub environment, or for pull requests.

GitHub mints a token per job whose `sub` claim names the repository and what the job runs for:
`repo:OWNER/REPO:environment:NAME` when the job names a GitHub environment, `repo:OWNER/REPO:pull_request`
for a pull_request event without one (https://docs.github.com/en/actions/reference/security/oidc).
IAM checks it with the condition keys `token.actions.githubusercontent.com:sub` and `:aud`; `aud` is
`sts.amazonaws.com` when aws-actions/configure-aws-credentials asks for the token
(https://docs.github.com/en/actions/how-tos/secure-your-work/security-harden-deployments/oidc-in-aws).
StringEquals, not StringLike or ForAllValues: a wildcard or a missing claim must not match.

Repositories created after mid-2026, or opted in, get *immutable* subject claims that carry the
owner's and repository's numeric ids (GitHub changelog 2026-04-23, "Immutable subject claims for
GitHub Actions OIDC tokens"); GitHub's and AWS's texts differ on the exact separator, so the
repository is taken exactly as the repository's own OIDC settings show its subject prefix.
"""

from __future__ import annotations

import re

from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
import awacs.sts
from troposphere import Equals, If, Ref, Sub
from troposphere.iam import OIDCProvider

from generator.aws.iam import POLICY_VERSION

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
# The audience aws-actions/configure-aws-credentials requests (its `audience` input's default).
STS_AUDIENCE = "sts.amazonaws.com"
# OWNER/REPO as the `sub` claim has it: GitHub names, optionally with the immutable id suffixes
# (`@123456` or `-123456`, which the name characters already allow). No `:` (it separates the
# claim's parts) and no IAM wildcard.
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:@\d+)?/[A-Za-z0-9._-]{1,100}(?:@\d+)?$")
PROVIDER_ARN_PATTERN = rf"^(arn:aws[a-z-]*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)})?$"

OIDC_PROVIDER = "GitHubOidcProvider"
EXISTING_PROVIDER = "GitHubOidcProviderArn"
CREATE_PROVIDER = "CreateGitHubOidcProvider"


def environment_subject(repository: str, environment) -> Sub:
    """The `sub` of a job that runs in GitHub environment `environment` (a Ref or a name)."""
    name = "${%s}" % environment.data["Ref"] if isinstance(environment, Ref) else environment
    return Sub(f"repo:{repository}:environment:{name}")


def pull_request_subject(repository: str) -> str:
    return f"repo:{repository}:pull_request"


def add_provider(template) -> object:
    """The OIDC provider, created unless the GitHubOidcProviderArn parameter names one: IAM allows one
    provider per URL in an account (CreateOpenIDConnectProvider fails for a second), so the second
    environment deployed to an account passes the first one's ARN. No thumbprint: IAM verifies
    GitHub's certificate against its own trusted CAs and ignores thumbprints for GitHub, and the list
    is optional (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html,
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateOpenIDConnectProviderThumbprint.html).
    Returns the provider's ARN as a template value."""
    from troposphere import Parameter

    existing = template.add_parameter(Parameter(
        EXISTING_PROVIDER, Type="String", Default="",
        Description="ARN of the account's existing GitHub OIDC provider; empty: this stack creates it",
        AllowedPattern=PROVIDER_ARN_PATTERN,
        ConstraintDescription=f"empty, or arn:<partition>:iam::<account>:oidc-provider/{GITHUB_OIDC_HOST}"))
    template.add_condition(CREATE_PROVIDER, Equals(Ref(existing), ""))
    provider = template.add_resource(OIDCProvider(
        OIDC_PROVIDER, Condition=CREATE_PROVIDER, Url=GITHUB_OIDC_URL, ClientIdList=[STS_AUDIENCE]))
    return If(CREATE_PROVIDER, Ref(provider), Ref(existing))


def trust_policy(provider_arn, subject) -> PolicyDocument:
    """Only a token from this provider, for STS, with exactly this subject."""
    return PolicyDocument(Version=POLICY_VERSION, Statement=[Statement(
        Effect=Allow,
        Principal=Principal("Federated", provider_arn),
        Action=[awacs.sts.AssumeRoleWithWebIdentity],
        # One StringEquals with both keys (awacs keeps only the last of two StringEquals elements).
        Condition=Condition(StringEquals({f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": subject})),
    )])
