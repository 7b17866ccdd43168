"""The redeploy Lambda handler (generator/aws/functions/redeploy/app.py) against moto's ECS mock.

Every test creates its cluster, task definition and services, feeds the handler a reference event
(or a variant from tests/events/), and checks both what was asked of ECS (a spy on the real boto3
client's UpdateService parameters) and what ECS did (the service's deployment id changes when a
new deployment is forced).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from support.manifests import manifest_text, render_text
from support.paths import REFERENCE_EVENTS, REPO

# moto's mock starts every test with a new boto3 session, which loads botocore's endpoint and service
# data again (about 0.4 s a test here).
pytestmark = pytest.mark.slow

HANDLER = REPO / "generator" / "aws" / "functions" / "redeploy" / "app.py"
EVENTS = Path(__file__).parent / "events"
REGION = "ap-northeast-1"


def load_handler():
    spec = importlib.util.spec_from_file_location("redeploy_app", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app = load_handler()


def event(name: str) -> dict:
    folder = REFERENCE_EVENTS if (REFERENCE_EVENTS / name).exists() else EVENTS
    return json.loads((folder / name).read_text())


@pytest.fixture
def ecs(monkeypatch):
    """A moto ECS with cluster `main` running services `api` and `worker`, and a spy on UpdateService."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName="main")
        client.register_task_definition(family="api", containerDefinitions=[
            {"name": "app", "image": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/testrepo:latest", "memory": 512}])
        for name in ("api", "worker"):
            client.create_service(cluster="main", serviceName=name, taskDefinition="api", desiredCount=1)
        calls = []
        real_client = boto3.client

        def spied_client(*args, **kwargs):
            made = real_client(*args, **kwargs)
            made.meta.events.register("provide-client-params.ecs.UpdateService", lambda params, **_: calls.append(dict(params)))
            return made

        monkeypatch.setattr(app.boto3, "client", spied_client)
        yield SimpleNamespace(client=client, update_calls=calls, deployment_id=lambda service: deployment_id(client, service))


def deployment_id(client, service: str) -> str:
    (described,) = client.describe_services(cluster="main", services=[service])["services"]
    return described["deployments"][0]["id"]


def configure(monkeypatch, services: dict, tag_filter=(), dry_run=False, image_update="force"):
    monkeypatch.setenv("SERVICES", json.dumps(services))
    monkeypatch.setenv("TAG_FILTER", json.dumps(list(tag_filter)))
    monkeypatch.setenv("DRY_RUN", "true" if dry_run else "false")
    monkeypatch.setenv("IMAGE_UPDATE", image_update)


def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


API = {"testrepo": [{"cluster": "main", "service": "api"}]}


@pytest.mark.parametrize("event_name, tag", [
    ("ecr-replication-action.json", "latest"),
    ("ecr-replicateimage-cloudtrail.json", None),  # CloudTrail's ReplicateImage names no tag
    ("ecr-image-action-push-testrepo.json", "release-2025.01.21"),
    ("ecr-replication-action-untagged.json", None),
])
def test_each_event_shape_forces_one_new_deployment_of_the_mapped_service(ecs, monkeypatch, capsys, event_name, tag):
    configure(monkeypatch, API)
    before = {name: ecs.deployment_id(name) for name in ("api", "worker")}
    summary = app.handler(event(event_name), SimpleNamespace(aws_request_id="req-1"))

    assert ecs.update_calls == [{"cluster": "main", "service": "api", "forceNewDeployment": True}]
    after = {name: ecs.deployment_id(name) for name in ("api", "worker")}
    assert after["api"] != before["api"]          # ECS started a new deployment
    assert after["worker"] == before["worker"]    # an unmapped service is untouched
    assert summary["repository"] == "testrepo" and summary["image_tag"] == tag
    assert summary["redeployed"] == [{"cluster": "main", "service": "api", "deployment_id": after["api"]}]
    assert summary["ignored"] is None
    (line,) = log_lines(capsys)
    assert line["level"] == "INFO" and line["message"] == "forced a new deployment"
    assert line["cluster"] == "main" and line["service"] == "api" and line["repository"] == "testrepo"
    assert line["request_id"] == "req-1" and line["deployment_id"] == after["api"]


def test_every_service_mapped_to_the_repository_is_redeployed_once(ecs, monkeypatch):
    configure(monkeypatch, {"testrepo": [{"cluster": "main", "service": "api"}, {"cluster": "main", "service": "worker"}],
                            "otherrepo": [{"cluster": "main", "service": "api"}]})
    app.handler(event("ecr-replication-action.json"))
    assert ecs.update_calls == [
        {"cluster": "main", "service": "api", "forceNewDeployment": True},
        {"cluster": "main", "service": "worker", "forceNewDeployment": True},
    ]


@pytest.mark.parametrize("event_name", ["ecr-replication-action-other-repository.json", "ecr-image-action-push.json"])
def test_an_unmapped_repository_is_logged_and_ignored(ecs, monkeypatch, capsys, event_name):
    configure(monkeypatch, API)
    before = ecs.deployment_id("api")
    summary = app.handler(event(event_name))
    assert ecs.update_calls == [] and ecs.deployment_id("api") == before
    assert summary["ignored"] == "repository not mapped" and summary["redeployed"] == []
    (line,) = log_lines(capsys)
    assert line["level"] == "INFO" and "not mapped" in line["message"]
    assert line["repository"] == event(event_name)["detail"]["repository-name"] and line["mapped"] == ["testrepo"]


def test_a_missing_service_is_logged_and_raised_after_the_other_services_are_redeployed(ecs, monkeypatch, capsys):
    configure(monkeypatch, {"testrepo": [{"cluster": "main", "service": "gone"}, {"cluster": "main", "service": "api"}]})
    before = ecs.deployment_id("api")
    with pytest.raises(ClientError) as raised:
        app.handler(event("ecr-replication-action.json"))
    assert raised.value.response["Error"]["Code"] == "ServiceNotFoundException"
    assert [call["service"] for call in ecs.update_calls] == ["gone", "api"]
    assert ecs.deployment_id("api") != before
    error, done = log_lines(capsys)
    assert error["level"] == "ERROR" and error["message"] == "UpdateService failed"
    assert error["service"] == "gone" and error["error_type"] == "ServiceNotFoundException"
    assert done["service"] == "api" and done["level"] == "INFO"


def test_a_missing_cluster_raises(ecs, monkeypatch):
    configure(monkeypatch, {"testrepo": [{"cluster": "nope", "service": "api"}]})
    with pytest.raises(ClientError) as raised:
        app.handler(event("ecr-replication-action.json"))
    assert raised.value.response["Error"]["Code"] == "ClusterNotFoundException"


@pytest.mark.parametrize("event_name, redeploys", [
    ("ecr-replication-action.json", True),                     # latest: an exact tag in the filter
    ("ecr-replication-action-release-tag.json", True),         # release-2025.01.21: the release-* prefix
    ("ecr-image-action-push-testrepo.json", True),
    ("ecr-replication-action-untagged.json", False),           # no tag: a filter never guesses
    ("ecr-replicateimage-cloudtrail.json", False),             # CloudTrail's event has no tag either
])
def test_tag_filter_takes_exact_tags_and_prefixes(ecs, monkeypatch, capsys, event_name, redeploys):
    configure(monkeypatch, API, tag_filter=["latest", "release-*"])
    summary = app.handler(event(event_name))
    assert bool(ecs.update_calls) is redeploys
    assert summary["ignored"] == (None if redeploys else "tag filtered out")


def test_a_tag_outside_the_filter_is_ignored(ecs, monkeypatch, capsys):
    configure(monkeypatch, API, tag_filter=["stable", "v*"])
    summary = app.handler(event("ecr-replication-action-release-tag.json"))
    assert ecs.update_calls == [] and summary["ignored"] == "tag filtered out"
    (line,) = log_lines(capsys)
    assert line["image_tag"] == "release-2025.01.21" and line["tag_filter"] == ["stable", "v*"]


def test_dry_run_logs_what_it_would_do_and_calls_nothing(ecs, monkeypatch, capsys):
    configure(monkeypatch, API, dry_run=True)
    before = ecs.deployment_id("api")
    summary = app.handler(event("ecr-replication-action.json"))
    assert ecs.update_calls == [] and ecs.deployment_id("api") == before
    assert summary["dry_run"] is True
    assert summary["redeployed"] == [{"cluster": "main", "service": "api", "deployment_id": None}]
    (line,) = log_lines(capsys)
    assert line["message"].startswith("dry run") and line["service"] == "api"


@pytest.mark.parametrize("event_name, reason", [
    ("ecr-replication-action-failure.json", "result is 'FAILURE', not SUCCESS"),
    ("ecr-image-action-push-testrepo-failure.json", "result is 'FAILURE', not SUCCESS"),
    ("ecr-image-action-delete-testrepo.json", "action-type is 'DELETE', not PUSH"),
    ("ecr-replicateimage-cloudtrail-error.json", "ReplicateImage failed (AccessDenied)"),
])
def test_events_that_announce_no_new_image_are_ignored(ecs, monkeypatch, event_name, reason):
    # The rule never delivers these; this guards a manual or mis-routed invocation.
    configure(monkeypatch, API)
    summary = app.handler(event(event_name))
    assert ecs.update_calls == [] and summary["ignored"] == reason


@pytest.mark.parametrize("event_name", ["ecr-putimage-cloudtrail.json", "s3-object-created.json"])
def test_an_event_of_another_kind_fails_loudly(ecs, monkeypatch, capsys, event_name):
    configure(monkeypatch, API)
    with pytest.raises(ValueError):
        app.handler(event(event_name))
    assert ecs.update_calls == []
    (line,) = log_lines(capsys)
    assert line["level"] == "ERROR"


def test_namespaced_repository_is_read_from_the_cloudtrail_arn(ecs, monkeypatch):
    configure(monkeypatch, {"team/web": [{"cluster": "main", "service": "worker"}]})
    summary = app.handler(event("ecr-replicateimage-cloudtrail-namespaced.json"))
    assert summary["repository"] == "team/web"
    assert ecs.update_calls == [{"cluster": "main", "service": "worker", "forceNewDeployment": True}]


def test_the_rendered_function_environment_drives_the_handler(ecs, monkeypatch, tmp_path):
    """What the blueprint writes into the function's environment is what the handler reads."""
    options = 'trigger = "replication"\ntag_filter = ["latest"]\n[stacks.r.options.services]\ntestrepo = [{ cluster = "main", service = "worker" }]'
    rendered = render_text(tmp_path, manifest_text("r", "ecr_redeploy", options, parameters=""))["r"]
    variables = rendered.template["Resources"]["RedeployFunction"]["Properties"]["Environment"]["Variables"]
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert rendered.files["r/functions/redeploy/app.py"] == HANDLER.read_text()
    summary = app.handler(event("ecr-replication-action.json"))
    assert ecs.update_calls == [{"cluster": "main", "service": "worker", "forceNewDeployment": True}]
    assert summary["image_tag"] == "latest"


# --- IMAGE_UPDATE = "digest": a new revision naming the pushed image by digest ----------------------

REGISTRY = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
DIGEST = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234"  # the reference replication event's
DIGEST_API = {"testrepo": [{"cluster": "main", "service": "api", "family": "api"}]}


def run_with_sidecar(ecs) -> str:
    """Move service api to a revision of family api with a log router listed before the app container."""
    arn = ecs.client.register_task_definition(
        family="api", executionRoleArn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        containerDefinitions=[
            {"name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable", "memory": 128},
            {"name": "app", "image": f"{REGISTRY}/testrepo:latest", "memory": 512, "environment": [{"name": "MODE", "value": "api"}]},
        ])["taskDefinition"]["taskDefinitionArn"]
    ecs.client.update_service(cluster="main", service="api", taskDefinition=arn)
    ecs.update_calls.clear()
    return arn


def service_task_definition(ecs, service: str) -> str:
    (described,) = ecs.client.describe_services(cluster="main", services=[service])["services"]
    return described["taskDefinition"]


def test_digest_update_registers_a_revision_with_the_image_by_digest_and_moves_the_service_to_it(ecs, monkeypatch, capsys):
    configure(monkeypatch, DIGEST_API, image_update="digest")
    previous = run_with_sidecar(ecs)
    summary = app.handler(event("ecr-replication-action.json"))

    current = service_task_definition(ecs, "api")
    assert current != previous and current.endswith("task-definition/api:3")
    assert ecs.update_calls == [{"cluster": "main", "service": "api", "taskDefinition": current}]
    definition = ecs.client.describe_task_definition(taskDefinition=current)["taskDefinition"]
    images = {c["name"]: c["image"] for c in definition["containerDefinitions"]}
    assert images == {"log-router": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",  # another repository: untouched
                      "app": f"{REGISTRY}/testrepo@{DIGEST}"}
    app_container = next(c for c in definition["containerDefinitions"] if c["name"] == "app")
    assert app_container["environment"] == [{"name": "MODE", "value": "api"}]  # the rest of the definition is kept
    assert definition["executionRoleArn"] == "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
    assert service_task_definition(ecs, "worker").endswith("task-definition/api:1")  # unmapped: untouched
    (entry,) = summary["redeployed"]
    assert (entry["task_definition"], entry["cluster"], entry["service"]) == (current, "main", "api")
    (line,) = log_lines(capsys)
    assert line["message"] == "registered a revision with the image digest" and line["containers"] == ["app"]
    assert line["previous_task_definition"] == previous


def test_digest_update_of_a_service_already_on_that_digest_changes_nothing(ecs, monkeypatch):
    configure(monkeypatch, DIGEST_API, image_update="digest")
    run_with_sidecar(ecs)
    app.handler(event("ecr-replication-action.json"))
    pinned = service_task_definition(ecs, "api")
    ecs.update_calls.clear()
    summary = app.handler(event("ecr-replication-action.json"))  # the same event again (EventBridge may deliver twice)
    assert ecs.update_calls == [] and service_task_definition(ecs, "api") == pinned
    assert summary["redeployed"] == [{"cluster": "main", "service": "api", "deployment_id": None, "task_definition": pinned}]


@pytest.mark.parametrize("services, message", [
    ({"testrepo": [{"cluster": "main", "service": "api", "family": "web"}]}, "runs task definition family 'api', not the mapped family 'web'"),
    ({"otherrepo": [{"cluster": "main", "service": "api", "family": "api"}]}, "has no container whose image is from repository 'otherrepo'"),
])
def test_digest_update_refuses_what_it_may_not_or_cannot_change(ecs, monkeypatch, capsys, services, message):
    configure(monkeypatch, services, image_update="digest")
    run_with_sidecar(ecs)
    before = service_task_definition(ecs, "api")
    sample = event("ecr-replication-action.json")
    sample["detail"]["repository-name"] = next(iter(services))
    with pytest.raises(ValueError, match=message):
        app.handler(sample)
    assert service_task_definition(ecs, "api") == before
    assert ecs.client.list_task_definitions(familyPrefix="api")["taskDefinitionArns"][-1].endswith("api:2")  # nothing registered
    (line,) = log_lines(capsys)
    assert line["level"] == "ERROR" and message in line["error"]


def test_digest_update_needs_an_event_with_a_digest(ecs, monkeypatch):
    configure(monkeypatch, DIGEST_API, image_update="digest")
    with pytest.raises(ValueError, match="names no image digest"):
        app.handler(event("ecr-replicateimage-cloudtrail.json"))
    assert ecs.update_calls == []


def test_image_repository_reads_tags_digests_and_namespaces():
    assert app.image_repository(f"{REGISTRY}/testrepo:latest") == (REGISTRY, "testrepo")
    assert app.image_repository(f"{REGISTRY}/team/web@{DIGEST}") == (REGISTRY, "team/web")
    assert app.image_repository("localhost:5000/team/web:1.2") == ("localhost:5000", "team/web")
    assert app.image_repository(f"{REGISTRY}/testrepo") == (REGISTRY, "testrepo")


def test_the_rendered_digest_environment_drives_the_handler(ecs, monkeypatch, tmp_path):
    options = ('trigger = "replication"\nimage_update = "digest"\n[stacks.r.options.services]\n'
               'testrepo = [{ cluster = "main", service = "api", family = "api", roles = ["ecsTaskExecutionRole"] }]')
    rendered = render_text(tmp_path, manifest_text("r", "ecr_redeploy", options, parameters=""))["r"]
    for name, value in rendered.template["Resources"]["RedeployFunction"]["Properties"]["Environment"]["Variables"].items():
        monkeypatch.setenv(name, value)
    run_with_sidecar(ecs)
    app.handler(event("ecr-replication-action.json"))
    definition = ecs.client.describe_task_definition(taskDefinition=service_task_definition(ecs, "api"))["taskDefinition"]
    assert f"{REGISTRY}/testrepo@{DIGEST}" in [c["image"] for c in definition["containerDefinitions"]]
