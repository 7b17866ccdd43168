"""checkov findings that do not apply to what we generate, skipped in the resource's own Metadata with
the reason, so a reviewer sees the exception next to the resource and checkov stays at zero failures.

Each reason is kept here, once; blueprints attach them with `checkov_skips(...)`.
"""

from __future__ import annotations

SQS_MANAGED_ENCRYPTION = (
    "CKV_AWS_27",
    "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled); the check only recognises a KMS key",
)
LOG_GROUP_SERVICE_ENCRYPTION = (
    "CKV_AWS_158",
    "CloudWatch Logs encrypts log data at rest by default; these logs hold no secrets, so a customer managed key would add cost and a key policy without adding protection",
)
LAMBDA_NOT_IN_VPC = (
    "CKV_AWS_117",
    "The function calls only the public ECS API and touches no VPC resource; a VPC would need NAT or endpoints for nothing",
)
LAMBDA_FAILURE_DESTINATION = (
    "CKV_AWS_116",
    "Failed asynchronous invocations go to an SQS on-failure destination (EventInvokeConfig), which supersedes a function DLQ",
)
LAMBDA_NO_RESERVED_CONCURRENCY = (
    "CKV_AWS_115",
    "Invoked only by one EventBridge rule at image-replication rate; reserving concurrency would take capacity from the account pool",
)
LAMBDA_ENVIRONMENT_NOT_SECRET = (
    "CKV_AWS_173",
    "The environment holds the repository-to-service mapping and flags, no secrets; Lambda encrypts it at rest with its service key",
)


BUCKET_ACCESS_LOGS = (
    "CKV_AWS_18",
    "Server access logs need a separate log bucket; object-level auditing belongs to the account's CloudTrail data events",
)
BUCKET_VERSIONING_OFF = (
    "CKV_AWS_21",
    "Versioning is the bucket_versioning option (default off): each object is an input read once, and keeping every overwrite costs storage",
)
CONTAINER_INSIGHTS_OFF = (
    "CKV_AWS_65",
    "Container Insights is off by the stack's container_insights option (it bills per metric); task logs and failure alerts still apply",
)


def checkov_skips(*skips: tuple[str, str]) -> dict:
    """Resource Metadata that makes checkov skip these checks, each with its reason."""
    return {"checkov": {"skip": [{"id": check, "comment": reason} for check, reason in skips]}}
