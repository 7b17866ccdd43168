"""Redeploy ECS services when a new image lands in an ECR repository.

EventBridge invokes this function asynchronously with one of three ECR event shapes:
- `ECR Replication Action` (native, in the destination registry): detail.repository-name, detail.image-tag
- `ECR Image Action` (native, a completed push): detail.repository-name, detail.image-tag
- `AWS API Call via CloudTrail` for ReplicateImage: the repository only as detail.resources[].ARN
  (`arn:<partition>:ecr:<region>:<account>:repository/<name>`); the event carries no image tag.

For the repository's mapped services it either
- (IMAGE_UPDATE "force") calls ecs:UpdateService with forceNewDeployment: the services start new
  tasks from their current task definition, which pull its image reference again; that runs the
  new image only if the task definition names a tag the new image was pushed under (a mutable tag
  such as `latest`); or
- (IMAGE_UPDATE "digest") registers a new revision of the service's current task definition whose
  containers from this repository name the pushed image by digest (`<registry>/<repo>@sha256:…`),
  and updates the service to that revision, so exactly the new image runs whatever its tag.
Configuration (environment variables):
- SERVICES: JSON object, repository name -> list of {"cluster": ..., "service": ...}
- TAG_FILTER: JSON list of image tags; an entry ending in "*" is a prefix. Empty: every tag.
- DRY_RUN: "true" logs what would be redeployed and calls nothing.
- IMAGE_UPDATE: "force" (default) or "digest".

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
IMAGE_UPDATES = ("force", "digest")
# What RegisterTaskDefinition takes from DescribeTaskDefinition's answer; the rest (ARN, revision,
# status, requiresAttributes, compatibilities, registeredAt/By...) is read-only. Tags are not copied:
# tagging on register needs ecs:TagResource, which the function is not granted.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
REGISTER_FIELDS = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                   "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                   "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform")


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


def image_repository(image: str) -> tuple[str, str]:
    """(registry host, repository name) of an image reference such as
    `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:1.2` or `…/web@sha256:…`."""
    host, _, rest = image.partition("/")
    name = rest.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:  # a tag: only the last path segment can hold one
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return host, name


def is_this_registry(host: str, account: str, region: str) -> bool:
    """ECR's registry host for the account and Region: <account>.dkr.ecr.<region>.amazonaws.com (.com.cn in China)."""
    return host.startswith(f"{account}.dkr.ecr.{region}.amazonaws.com")


def with_digest(definition: dict, repository: str, digest: str, *, account: str, region: str) -> tuple[dict, list[str]]:
    """The RegisterTaskDefinition request for `definition` with every container whose image is from
    `repository` in this account's registry pinned to `digest`, and the names of those containers."""
    request = {key: definition[key] for key in REGISTER_FIELDS if key in definition}
    containers, pinned = [], []
    for container in definition.get("containerDefinitions") or []:
        host, name = image_repository(container.get("image", ""))
        if name == repository and is_this_registry(host, account, region):
            container = {**container, "image": f"{host}/{name}@{digest}"}
            pinned.append(container["name"])
        containers.append(container)
    request["containerDefinitions"] = containers
    return request, pinned


def redeploy_with_digest(ecs, *, cluster: str, service: str, family: str, image: dict, account: str, region: str, log_fields: dict):
    """Register a revision of the service's task definition naming the image by digest and update
    the service to it; returns (deployment id, new task definition ARN), or (None, current ARN) when
    the service already runs that digest."""
    (described,) = ecs.describe_services(cluster=cluster, services=[service])["services"] or [None]
    if described is None:
        raise LookupError(f"service {service} not found in cluster {cluster}")
    current = described["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    if definition["family"] != family:
        # The function may register revisions of the mapped family only (IAM), so say it plainly.
        raise ValueError(f"service {cluster}/{service} runs task definition family {definition['family']!r}, "
                         f"not the mapped family {family!r}")
    request, pinned = with_digest(definition, image["repository"], image["image_digest"], account=account, region=region)
    if not pinned:
        raise ValueError(f"task definition {current} has no container whose image is from repository "
                         f"{image['repository']!r} in registry {account}.dkr.ecr.{region}")
    unchanged = [c for c in definition["containerDefinitions"] if c["name"] in pinned]
    if all(c["image"].endswith("@" + image["image_digest"]) for c in unchanged):
        log("INFO", "the service already runs this image digest; nothing to do", cluster=cluster, service=service,
            task_definition=current, **log_fields)
        return None, current
    registered = ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]
    response = ecs.update_service(cluster=cluster, service=service, taskDefinition=registered)
    log("INFO", "registered a revision with the image digest", cluster=cluster, service=service, containers=pinned,
        previous_task_definition=current, task_definition=registered, **log_fields)
    return _primary_deployment(response), registered


def _primary_deployment(response: dict) -> str | None:
    deployments = response["service"].get("deployments") or []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    return primary.get("id") if primary else None


def handler(event, context=None):
    services = json.loads(os.environ["SERVICES"])
    tag_filter = json.loads(os.environ.get("TAG_FILTER") or "[]")
    dry_run = os.environ.get("DRY_RUN", "false").lower() == "true"
    image_update = os.environ.get("IMAGE_UPDATE") or "force"
    if image_update not in IMAGE_UPDATES:
        raise ValueError(f"IMAGE_UPDATE is {image_update!r}; allowed: {', '.join(IMAGE_UPDATES)}")
    request = {"request_id": getattr(context, "aws_request_id", None), "event_id": event.get("id")}

    try:
        image = image_from_event(event)
    except ValueError as error:
        # Not an event this function was built for: fail loudly, so it lands in the failure queue.
        log("ERROR", "cannot read the image from the event", error=str(error), **request)
        raise
    summary = {**image, "dry_run": dry_run, "image_update": image_update, "redeployed": [], "ignored": None}
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
    if image_update == "digest" and not image["image_digest"]:
        log("ERROR", "image_update is digest but the event names no image digest", **image, **request)
        raise ValueError(f"the {image['detail_type']!r} event names no image digest; image_update digest needs one")

    ecs = None if dry_run else boto3.client("ecs")
    failures = []
    for target in targets:
        cluster, service = target["cluster"], target["service"]
        if dry_run:
            what = "register a revision with the image digest" if image_update == "digest" else "force a new deployment"
            log("INFO", f"dry run: would {what}", cluster=cluster, service=service, **image, **request)
            summary["redeployed"].append({"cluster": cluster, "service": service, "deployment_id": None})
            continue
        try:
            if image_update == "digest":
                deployment_id, task_definition = redeploy_with_digest(
                    ecs, cluster=cluster, service=service, family=target["family"], image=image,
                    account=event.get("account", ""), region=event.get("region", ""), log_fields={**image, **request})
            else:
                deployment_id, task_definition = _primary_deployment(
                    ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)), None
        except Exception as error:  # noqa: BLE001  logged here, raised below: never swallowed
            failed = "UpdateService failed" if image_update == "force" else "registering or deploying the digest revision failed"
            log("ERROR", failed, cluster=cluster, service=service, error_type=type(error).__name__,
                error=str(error), **image, **request)
            failures.append(error)
            continue
        if image_update == "force":
            log("INFO", "forced a new deployment", cluster=cluster, service=service, deployment_id=deployment_id, **image, **request)
        entry = {"cluster": cluster, "service": service, "deployment_id": deployment_id}
        if task_definition is not None:
            entry["task_definition"] = task_definition
        summary["redeployed"].append(entry)

    if failures:
        # The other services were still redeployed; the invocation fails so Lambda retries it and
        # then hands it to the on-failure destination. A retry redeploys every mapped service again,
        # which only starts one more rolling deployment of the same image.
        raise failures[0]
    return summary
