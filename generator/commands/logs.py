"""`logs STACK --env ENV [--follow] [--since 1h]`: the job's container logs, newest run first.

Where they are comes from the live stack, not from the manifest: the task family (the stack's
TaskFamily parameter, or the `<FoundationStack>-TaskFamily` export it imports) → its latest
ACTIVE task definition (DescribeTaskDefinition) → the job container's `awslogs` options. With a
stream prefix, ECS names each task's stream `<prefix>/<container>/<task id>` ("The log stream name
used by Amazon ECS has the <awslogs-stream-prefix>/<container_name>/<task_id> format",
https://docs.aws.amazon.com/prescriptive-guidance/latest/implementing-logging-monitoring-cloudwatch/ec2-fargate-logs.html),
so the container's runs are the streams under `<prefix>/<container>/`. Events are read with
FilterLogEvents (logStreamNamePrefix, startTime;
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html) and
grouped by stream. A stack that runs no ECS task (ecr_redeploy) shows its own log groups instead.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

from generator.commands.aws_session import Aws, aws_errors
from generator.commands.live import LiveStack, exports, open_deployed, physical_ids, read_template
from generator.commands.plan import PlannedStack
from generator.core.errors import UserError

FOLLOW_SECONDS = 5.0
_SINCE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, *, field: str = "--since") -> dt.timedelta:
    match = _SINCE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise UserError(f"{text!r} is not a duration; allowed: a number and s, m, h or d, like 30m, 1h or 2d", field=field)
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class JobTask:
    cluster_arn: str
    family: str
    container: str | None  # the container the stack overrides (Metadata.Generator.Options.container_name)


@dataclass(frozen=True)
class LogLocation:
    group: str
    stream_prefix: str | None
    container: str

    def stream(self, task_arn: str) -> str | None:
        return f"{self.stream_prefix}/{self.container}/{task_arn.rsplit('/', 1)[-1]}" if self.stream_prefix else None

    @property
    def streams_prefix(self) -> str | None:
        return f"{self.stream_prefix}/{self.container}/" if self.stream_prefix else None


def job_task(aws: Aws, planned: PlannedStack, live: LiveStack, template: dict) -> JobTask | None:
    """The cluster and family the stack's job runs as: its parameters, the foundation's exports it
    imports, or (a task_foundation stack) its own outputs; None for a stack that runs no task."""
    values = live.resolved or live.parameters
    container = ((template.get("Metadata") or {}).get("Generator") or {}).get("Options", {}).get("container_name")
    if "ClusterArn" in values and "TaskFamily" in values:
        return JobTask(values["ClusterArn"], values["TaskFamily"], container)
    if "FoundationStack" in values:
        foundation, exported = values["FoundationStack"], exports(aws, stack=planned.name)
        missing = [f"{foundation}-{name}" for name in ("ClusterArn", "TaskFamily") if f"{foundation}-{name}" not in exported]
        if missing:
            raise UserError(f"the export {missing[0]} of its foundation stack is not in {aws.region}", stack=planned.name, field="FoundationStack")
        return JobTask(exported[f"{foundation}-ClusterArn"], exported[f"{foundation}-TaskFamily"], container)
    if "ClusterArn" in live.outputs and "TaskFamily" in live.outputs:
        return JobTask(live.outputs["ClusterArn"], live.outputs["TaskFamily"], container)
    return None


def log_location(aws: Aws, task_definition: str, container: str | None, *, stack: str) -> LogLocation | None:
    """The awslogs group and stream prefix of `container` (default: the first container logging
    with awslogs) in the task definition (a family runs its latest ACTIVE revision)."""
    with aws_errors(f"DescribeTaskDefinition {task_definition}", stack=stack):
        definition = aws.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    containers = definition.get("containerDefinitions", [])
    chosen = [c for c in containers if c.get("name") == container] or containers
    for candidate in chosen:
        configuration = candidate.get("logConfiguration") or {}
        if configuration.get("logDriver") == "awslogs" and configuration.get("options", {}).get("awslogs-group"):
            options = configuration["options"]
            return LogLocation(options["awslogs-group"], options.get("awslogs-stream-prefix"), candidate["name"])
    return None


def _events(aws: Aws, group: str, prefix: str | None, start_ms: int, *, stack: str) -> list[dict]:
    request = {"logGroupName": group, "startTime": start_ms}
    if prefix:
        request["logStreamNamePrefix"] = prefix
    found = []
    with aws_errors(f"FilterLogEvents {group}", stack=stack):
        for page in aws.client("logs").get_paginator("filter_log_events").paginate(**request):
            found += page.get("events", [])
    # (the prefix again: an emulator may not apply logStreamNamePrefix)
    return [e for e in found if not prefix or e.get("logStreamName", "").startswith(prefix)]


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def run(args) -> int:
    planned, aws, live = open_deployed(args)
    since = parse_since(args.since)
    template = read_template(aws, planned.stack_name, stack=planned.name)
    sources = _log_sources(aws, planned, live, template)
    start_ms = int((dt.datetime.now(dt.timezone.utc) - since).timestamp() * 1000)
    seen: set[str] = set()
    last_ms = start_ms
    printed = 0
    for group, prefix, label in sources:
        events = _events(aws, group, prefix, start_ms, stack=planned.name)
        streams: dict[str, list[dict]] = {}
        for event in sorted(events, key=lambda e: (e["timestamp"], e.get("eventId", ""))):
            streams.setdefault(event["logStreamName"], []).append(event)
            seen.add(event.get("eventId", ""))
            last_ms = max(last_ms, event["timestamp"])
        for stream, stream_events in sorted(streams.items(), key=lambda item: item[1][-1]["timestamp"], reverse=True):
            print(f"== {label}: {stream} (log group {group}) ==")
            for event in stream_events:
                print(f"{_time(event['timestamp'])} {event['message'].rstrip()}")
            printed += 1
    if not printed:
        where = ", ".join(f"{group}" + (f" streams {prefix}*" if prefix else "") for group, prefix, _ in sources)
        print(f"{planned.stack_name}: no log events in the last {args.since} ({where})")
    if not args.follow:
        return 0
    try:
        while True:
            time.sleep(FOLLOW_SECONDS)
            for group, prefix, label in sources:
                for event in sorted(_events(aws, group, prefix, last_ms, stack=planned.name), key=lambda e: e["timestamp"]):
                    if event.get("eventId", "") in seen:
                        continue
                    seen.add(event.get("eventId", ""))
                    last_ms = max(last_ms, event["timestamp"])
                    print(f"{_time(event['timestamp'])} [{event['logStreamName'].rsplit('/', 1)[-1]}] {event['message'].rstrip()}", flush=True)
    except KeyboardInterrupt:  # Ctrl-C ends --follow
        return 0


def _log_sources(aws: Aws, planned: PlannedStack, live: LiveStack, template: dict) -> list[tuple[str, str | None, str]]:
    """(log group, stream prefix or None, label) to read."""
    task = job_task(aws, planned, live, template)
    if task is not None:
        location = log_location(aws, task.family, task.container, stack=planned.name)
        if location is None:
            raise UserError(f"the task family {task.family} logs no container with the awslogs driver, so there are no logs to read",
                            stack=planned.name)
        return [(location.group, location.streams_prefix, f"container {location.container}")]
    ids = physical_ids(aws, planned.stack_name, stack=planned.name)
    groups = [(ids[name], None, f"log group {name}") for name, resource in template.get("Resources", {}).items()
              if resource.get("Type") == "AWS::Logs::LogGroup" and name in ids]
    if not groups:
        raise UserError("runs no ECS task and has no log group", stack=planned.name)
    return groups
