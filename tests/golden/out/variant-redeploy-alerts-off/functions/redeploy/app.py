"""Redeploy ECS services when a new image lands in an ECR repository.

EventBridge invokes this function asynchronously with one of three ECR event shapes:
- `ECR Replication Action` (native, in the destination registry): detail.repository-name, detail.image-tag
- `ECR Image Action` (native, a completed push): detail.repository-name, detail.image-tag
- `AWS API Call via CloudTrail` for ReplicateImage: the repository only as detail.resources[].ARN
  (`arn:<partition>:ecr:<region>:<account>:repository/<name>`); the event carries no image tag.

For the repository's mapped services it calls ecs:UpdateService with forceNewDeployment, so the
services start new tasks that pull the image again. Configuration (environment variables):
- SERVICES: JSON object, repository name -> list of {"cluster": ..., "service": ...}
- TAG_FILTER: JSON list of image tags; an entry ending in "*" is a prefix. Empty: every tag.
- DRY_RUN: "true" logs what would be redeployed and calls nothing.

An unmapped repository or a filtered-out tag is logged and ignored. An ECS error is logged and
raised, so Lambda retries the asynchronous invocation and then sends it to the on-failure
destination: a failed redeploy is never silent. Every log line is one JSON object.

Standard library and boto3 only (both are in the Lambda Python runtime).
"""

from __future__ import annotations

import json
import os
import sys

import boto3

REPOSITORY_ARN_MARKER = ":repository/"


def log(level: str, message: str, **fields) -> None:
    """One JSON object per line: CloudWatch Logs Insights parses the fields."""
    sys.stdout.write(json.dumps({"level": level, "message": message, **fields}, default=str) + "\n")
    sys.stdout.flush()


def image_from_event(event: dict) -> dict:
    """The repository, tag and digest of the image, whichever supported event shape arrived."""
    detail = event.get("detail") or {}
    detail_type = event.get("detail-type")
    if detail_type in ("ECR Replication Action", "ECR Image Action"):
        repository = detail.get("repository-name")
        tag, digest = detail.get("image-tag"), detail.get("image-digest")
    elif detail_type == "AWS API Call via CloudTrail" and detail.get("eventName") == "ReplicateImage":
        arns = [r.get("ARN", "") for r in detail.get("resources") or [] if isinstance(r, dict)]
        names = [arn.split(REPOSITORY_ARN_MARKER, 1)[1] for arn in arns if REPOSITORY_ARN_MARKER in arn]
        repository = names[0] if len(names) == 1 else None
        tag = digest = None  # ReplicateImage records no image tag or digest
    else:
        raise ValueError(f"unsupported event: detail-type {detail_type!r}")
    if not repository:
        raise ValueError(f"no repository name in the {detail_type!r} event")
    return {"repository": repository, "image_tag": tag or None, "image_digest": digest or None, "detail_type": detail_type}


def not_a_new_image(event: dict) -> str | None:
    """Why this event announces no new image (the rule already filters; this guards manual invocations)."""
    detail = event.get("detail") or {}
    if event.get("detail-type") == "AWS API Call via CloudTrail":
        return f"ReplicateImage failed ({detail['errorCode']})" if detail.get("errorCode") else None
    if detail.get("result") != "SUCCESS":
        return f"result is {detail.get('result')!r}, not SUCCESS"
    if event.get("detail-type") == "ECR Image Action" and detail.get("action-type") != "PUSH":
        return f"action-type is {detail.get('action-type')!r}, not PUSH"
    return None


def tag_allowed(tag: str | None, tag_filter: list[str]) -> bool:
    """Exact tags, or prefixes written with a trailing "*"; no filter allows every image."""
    if not tag_filter:
        return True
    if tag is None:
        return False  # a filter is set and the tag is unknown: do not guess
    return any(tag.startswith(entry[:-1]) if entry.endswith("*") else tag == entry for entry in tag_filter)


def handler(event, context=None):
    services = json.loads(os.environ["SERVICES"])
    tag_filter = json.loads(os.environ.get("TAG_FILTER") or "[]")
    dry_run = os.environ.get("DRY_RUN", "false").lower() == "true"
    request = {"request_id": getattr(context, "aws_request_id", None), "event_id": event.get("id")}

    try:
        image = image_from_event(event)
    except ValueError as error:
        # Not an event this function was built for: fail loudly, so it lands in the failure queue.
        log("ERROR", "cannot read the image from the event", error=str(error), **request)
        raise
    summary = {**image, "dry_run": dry_run, "redeployed": [], "ignored": None}
    reason = not_a_new_image(event)
    if reason:
        summary["ignored"] = reason
        log("INFO", "the event announces no new image; ignored", reason=reason, **image, **request)
        return summary
    targets = services.get(image["repository"])
    if not targets:
        summary["ignored"] = "repository not mapped"
        log("INFO", "repository is not mapped to any service; ignored", mapped=sorted(services), **image, **request)
        return summary
    if not tag_allowed(image["image_tag"], tag_filter):
        summary["ignored"] = "tag filtered out"
        log("INFO", "image tag does not pass the tag filter; ignored", tag_filter=tag_filter, **image, **request)
        return summary

    ecs = None if dry_run else boto3.client("ecs")
    failures = []
    for target in targets:
        cluster, service = target["cluster"], target["service"]
        if dry_run:
            log("INFO", "dry run: would force a new deployment", cluster=cluster, service=service, **image, **request)
            summary["redeployed"].append({"cluster": cluster, "service": service, "deployment_id": None})
            continue
        try:
            response = ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)
        except Exception as error:  # noqa: BLE001  logged here, raised below: never swallowed
            log("ERROR", "UpdateService failed", cluster=cluster, service=service, error_type=type(error).__name__,
                error=str(error), **image, **request)
            failures.append(error)
            continue
        deployments = response["service"].get("deployments") or []
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
        deployment_id = primary.get("id") if primary else None
        log("INFO", "forced a new deployment", cluster=cluster, service=service, deployment_id=deployment_id, **image, **request)
        summary["redeployed"].append({"cluster": cluster, "service": service, "deployment_id": deployment_id})

    if failures:
        # The other services were still redeployed; the invocation fails so Lambda retries it and
        # then hands it to the on-failure destination. A retry redeploys every mapped service again,
        # which only starts one more rolling deployment of the same image.
        raise failures[0]
    return summary
