"""`status STACK --env ENV [--since 1h] [--count N] [--json]`: the job's recent runs, what is
running, the next scheduled runs, the dead-letter queue depth and every alarm of the stack.

- Runs: the family's stopped tasks in its cluster (ListTasks desiredStatus=STOPPED, DescribeTasks)
  that stopped within --since, newest first, with the job container's exit code and the stop
  code and reason. ECS lists a stopped task "for at least one hour" after it stops
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html), so older runs
  may be missing whatever --since says; the output says so when --since is longer.
- Executions (sfn_task): ListExecutions of the state machine, newest first (its documented
  order: https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html),
  with the error and cause of those that did not succeed (DescribeExecution).
- Next runs: each schedule of the live template (its expression, time zone and State), evaluated
  as `next-runs` does.
- Dead-letter queues: ApproximateNumberOfMessages of each queue of the stack (GetQueueAttributes).
- Alarms: DescribeAlarms for the stack's alarms (their physical ids), with state and reason
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
"""

from __future__ import annotations

import datetime as dt
import json

from generator.commands.aws_session import Aws, aws_errors
from generator.commands.live import open_deployed, physical_ids, read_template
from generator.commands.logs import job_task, parse_since
from generator.review.describe import run_times, schedules

ECS_LISTS_STOPPED_FOR = dt.timedelta(hours=1)
STATE_MACHINE_TYPES = ("AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine")


def _when(value) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _chunks(items: list, size: int):
    for index in range(0, len(items), size):
        yield items[index:index + size]


def _tasks(aws: Aws, cluster: str, family: str, desired: str, *, stack: str) -> list[dict]:
    ecs = aws.client("ecs")
    arns = []
    with aws_errors(f"ListTasks {family}", stack=stack):
        for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, family=family, desiredStatus=desired):
            arns += page.get("taskArns", [])
    described = []
    for chunk in _chunks(arns, 100):  # DescribeTasks takes up to 100 tasks
        with aws_errors("DescribeTasks", stack=stack):
            described += ecs.describe_tasks(cluster=cluster, tasks=chunk).get("tasks", [])
    return described


def _task_view(task: dict, container: str | None) -> dict:
    containers = task.get("containers", [])
    job = next((c for c in containers if c.get("name") == container), containers[0] if containers else {})
    return {"task": task["taskArn"].rsplit("/", 1)[-1], "taskArn": task["taskArn"], "lastStatus": task.get("lastStatus"),
            "startedAt": _when(task.get("startedAt") or task.get("createdAt")), "stoppedAt": _when(task.get("stoppedAt")),
            "stopCode": task.get("stopCode"), "stoppedReason": task.get("stoppedReason") or None, "container": job.get("name"),
            "exitCode": job.get("exitCode"), "containerReason": job.get("reason")}


def _skipped_run(output: str | None) -> str | None:
    """The execution that was still running, when this execution's output says it skipped its run."""
    try:
        data = json.loads(output or "null")
    except ValueError:
        return None
    if isinstance(data, dict) and "skipped" in data:
        return str(data.get("runningExecution") or "an earlier execution")
    return None


def collect(args) -> dict:
    planned, aws, live = open_deployed(args)
    since = parse_since(args.since)
    now = dt.datetime.now(dt.timezone.utc)
    template = read_template(aws, planned.stack_name, stack=planned.name)
    ids = physical_ids(aws, planned.stack_name, stack=planned.name)
    resources = template.get("Resources", {})
    report: dict = {"stack": planned.name, "stackName": planned.stack_name, "environment": planned.environment, "region": aws.region,
                    "stackStatus": live.status, "since": args.since, "notes": []}

    task = job_task(aws, planned, live, template)
    if task is not None:
        # Both listings, told apart by lastStatus: a task whose desired status is STOPPED may still be
        # stopping (DEACTIVATING, DEPROVISIONING…), and that is not a finished run yet.
        listed = {t["taskArn"]: t for desired in ("STOPPED", "RUNNING")
                  for t in _tasks(aws, task.cluster_arn, task.family, desired, stack=planned.name)}
        stopped = [t for t in listed.values() if t.get("lastStatus") == "STOPPED"
                   and (not isinstance(t.get("stoppedAt"), dt.datetime) or t["stoppedAt"] >= now - since)]
        stopped.sort(key=lambda t: t.get("stoppedAt") or t.get("createdAt") or now, reverse=True)
        report["task"] = {"cluster": task.cluster_arn, "family": task.family, "container": task.container}
        report["runs"] = [_task_view(t, task.container) for t in stopped[: args.count]]
        report["running"] = [_task_view(t, task.container) for t in listed.values() if t.get("lastStatus") != "STOPPED"]
        if since > ECS_LISTS_STOPPED_FOR:
            report["notes"].append("ECS promises only that stopped tasks stay listed for at least an hour after they stop: older runs may be missing")

    machines = [ids[name] for name, resource in resources.items() if resource.get("Type") in STATE_MACHINE_TYPES and name in ids]
    # sfn_task with concurrency = 1 ends an overlapping run at once, SUCCEEDED with output {"skipped": …}
    # (on_overlap = "skip"): such runs are read and shown as skipped, not as runs of the job.
    skips_runs = (template.get("Metadata", {}).get("Generator", {}).get("Options", {}).get("concurrency") == 1)
    if machines:
        sfn = aws.client("stepfunctions")
        report["executions"] = []
        for machine in machines:
            with aws_errors("ListExecutions", stack=planned.name):
                listed = sfn.list_executions(stateMachineArn=machine, maxResults=args.count).get("executions", [])
            for execution in listed:
                if isinstance(execution.get("startDate"), dt.datetime) and execution["startDate"] < now - since:
                    continue
                view = {"name": execution["name"], "executionArn": execution["executionArn"], "status": execution["status"],
                        "startDate": _when(execution.get("startDate")), "stopDate": _when(execution.get("stopDate"))}
                if execution["status"] not in ("SUCCEEDED", "RUNNING"):
                    with aws_errors("DescribeExecution", stack=planned.name):
                        described = sfn.describe_execution(executionArn=execution["executionArn"])
                    view.update(error=described.get("error"), cause=described.get("cause"))
                elif execution["status"] == "SUCCEEDED" and skips_runs:
                    with aws_errors("DescribeExecution", stack=planned.name):
                        described = sfn.describe_execution(executionArn=execution["executionArn"])
                    skipped = _skipped_run(described.get("output"))
                    if skipped is not None:
                        view["skipped"] = skipped
                report["executions"].append(view)

    report["schedules"] = []
    for schedule in schedules(template):
        props = resources[schedule["name"]].get("Properties", {})
        state = props.get("State", "ENABLED")
        entry = {"name": schedule["name"], "expression": schedule["expression"], "timezone": schedule["timezone"], "state": state, "next": []}
        if state == "ENABLED" and isinstance(schedule["expression"], str):
            entry["next"] = [{"utc": _when(utc), "local": local.isoformat(timespec="minutes")}
                             for utc, local in run_times(schedule["expression"], schedule["timezone"], count=3, after=now)]
        report["schedules"].append(entry)

    report["deadLetterQueues"] = []
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::SQS::Queue" and name in ids:
            with aws_errors(f"GetQueueAttributes {name}", stack=planned.name):
                attributes = aws.client("sqs").get_queue_attributes(
                    QueueUrl=ids[name], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            report["deadLetterQueues"].append({"name": name, "queueUrl": ids[name],
                                               "messages": int(attributes.get("ApproximateNumberOfMessages", 0)),
                                               "inFlight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))})

    alarm_names = {ids[name]: name for name, resource in resources.items() if resource.get("Type") == "AWS::CloudWatch::Alarm" and name in ids}
    found = {}
    for chunk in _chunks(sorted(alarm_names), 100):  # AlarmNames takes up to 100 names
        with aws_errors("DescribeAlarms", stack=planned.name):
            for page in aws.client("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNames=chunk):
                found.update({alarm["AlarmName"]: alarm for alarm in page.get("MetricAlarms", [])})
    report["alarms"] = []
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        physical = ids.get(name)
        alarm = found.get(physical) if physical else None
        report["alarms"].append({"name": name, "alarmName": physical, "state": alarm.get("StateValue") if alarm else None,
                                 "reason": alarm.get("StateReason") if alarm else
                                 ("not in the stack's resources" if physical is None else "DescribeAlarms does not know it"),
                                 "since": _when(alarm.get("StateUpdatedTimestamp")) if alarm else None})
    return report


def run(args) -> int:
    report = collect(args)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"{report['stack']} ({report['stackName']}) in {report['region']}: {report['stackStatus']}")
    if "runs" in report:
        task = report["task"]
        print(f"runs (stopped tasks of {task['family']} in {task['cluster'].rsplit('/', 1)[-1]}, last {report['since']}, newest first):")
        for run in report["runs"] or [None]:
            if run is None:
                print("  none")
                continue
            exit_code = run["exitCode"] if run["exitCode"] is not None else "-"
            why = " ".join(part for part in (run["stopCode"], run["stoppedReason"], run["containerReason"]) if part)
            print(f"  {run['stoppedAt'] or '?':<20}  task {run['task']}  exit {exit_code}  {why}".rstrip())
        for running in report["running"]:
            print(f"  running: task {running['task']} {running['lastStatus']} since {running['startedAt'] or '?'}")
    if "executions" in report:
        print(f"executions (last {report['since']}, newest first):")
        for execution in report["executions"] or [None]:
            if execution is None:
                print("  none")
                continue
            detail = " ".join(part for part in (execution.get("error"), execution.get("cause")) if part)
            status = execution["status"]
            if execution.get("skipped"):
                status, detail = "SKIPPED", f"previous run still running: {execution['skipped']}"
            print(f"  {execution['startDate'] or '?':<20}  {status:<9}  {execution['name']}  {detail}".rstrip())
    for schedule in report["schedules"]:
        upcoming = ", ".join(f"{n['utc']} ({n['local']})" for n in schedule["next"]) or "none"
        print(f"schedule {schedule['name']}: {schedule['expression']} in {schedule['timezone']}, {schedule['state']}; next: {upcoming}")
    for queue in report["deadLetterQueues"]:
        print(f"dead-letter queue {queue['name']}: {queue['messages']} message(s)" + (f", {queue['inFlight']} in flight" if queue["inFlight"] else ""))
    for alarm in report["alarms"]:
        print(f"alarm {alarm['name']}: {alarm['state'] or 'unknown'}" + (f" ({alarm['reason']})" if alarm["reason"] else ""))
    for note in report["notes"]:
        print(f"note: {note}")
    return 0
