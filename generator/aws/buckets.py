"""Pieces of a private S3 bucket shared by the blueprints that create one."""

from __future__ import annotations

from awacs.aws import Action, Bool, Condition, Deny, Principal, Statement
from troposphere import GetAtt
from troposphere import s3

from generator.aws.arns import sub


def tls_only_statement(bucket) -> Statement:
    """Deny every request to the bucket and its objects that does not use TLS."""
    bucket_arn = GetAtt(bucket, "Arn")
    return Statement(
        Sid="DenyInsecureTransport", Effect=Deny, Principal=Principal("*"), Action=[Action("s3", "*")],
        Resource=[bucket_arn, sub("${Bucket}/*", Bucket=bucket_arn)],
        Condition=Condition(Bool("aws:SecureTransport", "false")),
    )


def private_bucket_properties() -> dict:
    """No public access, no ACLs (the bucket owner owns every object)."""
    return {
        "PublicAccessBlockConfiguration": s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True),
        "OwnershipControls": s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
    }
