"""E9004: every S3 bucket is encrypted and blocks all public access."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.rules._policy import branches, is_set, is_true, resources

PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


class S3BucketProtected(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "S3 buckets are encrypted and block public access"
    description = (
        "Every AWS::S3::Bucket sets BucketEncryption and a PublicAccessBlockConfiguration "
        "with all four flags true."
    )
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"
    tags = ["s3"]

    def match(self, cfn):
        matches = []
        for name, properties, path in resources(cfn, "AWS::S3::Bucket"):
            if not is_set(properties, "BucketEncryption"):
                matches.append(RuleMatch(path, f"{name}: S3 bucket has no BucketEncryption"))
            if not is_set(properties, "PublicAccessBlockConfiguration"):
                matches.append(RuleMatch(path, f"{name}: S3 bucket has no PublicAccessBlockConfiguration"))
                continue
            block_path = [*path, "Properties", "PublicAccessBlockConfiguration"]
            # with Fn::If, each branch must block public access (an AWS::NoValue branch does not)
            for block, branch_path in branches(properties["PublicAccessBlockConfiguration"], block_path, keep_no_value=True):
                values = block if isinstance(block, dict) else {}
                not_true = [flag for flag in PUBLIC_ACCESS_FLAGS if not is_true(values.get(flag))]
                if not_true:
                    matches.append(
                        RuleMatch(branch_path, f"{name}: PublicAccessBlockConfiguration must set {', '.join(not_true)} to true")
                    )
        return matches
