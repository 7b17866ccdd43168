"""`run STACK --env ENV [--wait] [--key KEY]`: start the job now, exactly as its trigger would.

The request is built from the deployed stack (its Original template, parameters, resource ids and
the exports it imports), not from the files on disk, so what runs is what is live:
- a schedule (EventBridge Scheduler schedule, or a scheduled rule) → its ECS target's RunTask
  request (cluster, family, count, launch type, platform version, network configuration) with its
  Input as the overrides; a state machine target → StartExecution with its Input;
- an event rule (s3_object_task, sfn_task's `s3` trigger) → the request test-event computes for an
  `Object Created` event of the stack's bucket and `--key` (pattern matched by moto's engine,
  InputTransformer applied; `--key` is the key as stored, and goes into the event URL-encoded as S3
  writes it (generator.aws.event_rules.s3_encode), the form the container receives from the trigger);
- an sfn_task without a trigger → StartExecution with the input `{}`.
Scheduler's EcsParameters are spelled differently from a rule's (AwsvpcConfiguration, Tags) and
are read into the rule's shape first.

`--wait` polls DescribeTasks until every task is STOPPED (every 6 s, as the `tasks-stopped`
waiter: https://docs.aws.amazon.com/cli/latest/reference/ecs/wait/tasks-stopped.html) and exits
with the job container's exit code (1 when it has none: the task failed to start), printing the
stop code and reason; an execution is polled with DescribeExecution until it leaves RUNNING and
exits 0 for SUCCEEDED, 1 otherwise with its error and cause
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html).
A RunTask answer with `failures[]` and no task (no capacity, a missing family) exits 1
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass

from generator.commands.aws_session import Aws, aws_errors
from generator.commands.live import LiveResolver, exports, open_deployed, physical_ids, pseudo_parameters, read_template
from generator.commands.logs import job_task, log_location
from generator.aws.event_rules import s3_encode
from generator.core.errors import UserError
from generator.review.event_simulator import _run_task_request, evaluate, event_rules

WAIT_SECONDS = 6.0
EXECUTION_RUNNING = ("RUNNING", "PENDING_REDRIVE")
STATE_MACHINE_TYPES = ("AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine")


@dataclass
class JobStart:
    kind: str        # "ecs" or "stepfunctions"
    request: dict    # RunTask or StartExecution request
    trigger: str     # what it imitates, in words
    subject: str = ""  # what for (an S3 object)


def run(args) -> int:
    planned, aws, live = open_deployed(args)
    template = read_template(aws, planned.stack_name, stack=planned.name)
    exported = exports(aws, stack=planned.name) if "Fn::ImportValue" in json.dumps(template) else {}
    resolver = LiveResolver(template, live.resolved or live.parameters,
                            pseudo_parameters(aws.region, live.account, planned.stack_name, live.stack_id),
                            ids=physical_ids(aws, planned.stack_name, stack=planned.name), exported=exported)
    start = job_start(template, resolver, key=args.key, stack=planned.name)
    unresolved = [text for text in _strings(start.request) if text.startswith("<") and text.endswith(">")]
    if unresolved:
        raise UserError(f"cannot tell {unresolved[0]} from the live stack, so the request cannot be built", stack=planned.name)
    where = f"{planned.name} ({planned.stack_name})"
    if start.kind == "ecs":
        return _run_task(aws, planned, live, template, start, where, wait=args.wait)
    return _start_execution(aws, planned, live, template, start, where, wait=args.wait)


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _rule_shaped(ecs: dict) -> dict:
    """Scheduler EcsParameters in the EventBridge rule spelling test-event's request builder reads."""
    ecs = dict(ecs)
    network = ecs.get("NetworkConfiguration") or {}
    if "AwsvpcConfiguration" in network:
        ecs["NetworkConfiguration"] = {"AwsVpcConfiguration": network["AwsvpcConfiguration"]}
    if "Tags" in ecs:
        # one {"key": K, "value": V} map per tag, as the generator writes Scheduler's Tags (generator.aws.targets)
        ecs["TagList"] = [{"Key": tag["key"], "Value": tag["value"]} for tag in ecs.pop("Tags")]
    return ecs


def _input(text) -> object:
    if text is None:
        return {}
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def job_start(template: dict, resolver: LiveResolver, *, key: str | None, stack: str) -> JobStart:
    resources = template.get("Resources", {})
    machines = {name for name, resource in resources.items() if resource.get("Type") in STATE_MACHINE_TYPES}

    def state_machine_target(arn_expression) -> bool:
        expression = json.dumps(arn_expression)
        return any(f'"{name}"' in expression for name in machines)

    scheduled = []
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Scheduler::Schedule":
            scheduled.append((f"schedule {name}", props.get("Target", {})))
        elif resource.get("Type") == "AWS::Events::Rule" and "ScheduleExpression" in props:
            scheduled += [(f"rule {name}", target) for target in props.get("Targets", [])]
    for trigger, raw in scheduled:
        if "EcsParameters" in raw:
            target = resolver.resolve(raw)
            if key is not None:
                raise UserError("--key is for a job started by an S3 object; this one runs on a schedule", stack=stack, field="--key")
            return JobStart("ecs", _run_task_request(target["Arn"], _rule_shaped(target["EcsParameters"]), _input(target.get("Input"))), trigger)
        if state_machine_target(raw.get("Arn")):
            target = resolver.resolve(raw)
            if key is not None:
                raise UserError("--key is for a job started by an S3 object; this one runs on a schedule", stack=stack, field="--key")
            return JobStart("stepfunctions", {"stateMachineArn": target["Arn"], "input": json.dumps(_input(target.get("Input")))}, trigger)

    job_rules = [(name, props) for name, props in event_rules(template)
                 if any("EcsParameters" in t or state_machine_target(t.get("Arn")) for t in props.get("Targets", []))]
    if job_rules:
        if key is None:
            raise UserError("needs --key KEY: its rule starts the job for an S3 object and passes the bucket and key to it",
                            stack=stack, field="--key")
        name, props = job_rules[0]
        bucket = ((resolver.resolve(props["EventPattern"]).get("detail") or {}).get("bucket") or {}).get("name", ["<bucket>"])[0]
        names = [rule for rule, _ in job_rules]
        event = s3_object_created(bucket, s3_encode(key), resolver)  # as S3 sends it: URL-encoded
        results = [r for r in evaluate(template, event, resolver, rule_name_prefix=resolver.pseudo["AWS::StackName"]) if r.rule in names]
        matched = next((r for r in results if r.matched), None)
        if matched is None:
            first = results[0]
            raise UserError(f"rule {first.rule} would not start the job for key {key!r}: field {first.mismatch}: {first.detail}",
                            stack=stack, field="--key")
        target = next(t for t in matched.targets if t["type"] in ("ecs", "stepfunctions"))
        request = dict(target["request"])
        if target["type"] == "stepfunctions":
            request["input"] = request["input"] if isinstance(request["input"], str) else json.dumps(request["input"])
        return JobStart(target["type"], request, f"rule {matched.rule}", f" for s3://{bucket}/{key}")

    if key is not None:
        raise UserError("--key is for a job started by an S3 object; this stack has no such rule", stack=stack, field="--key")
    if machines:
        (name,) = sorted(machines)[:1]
        return JobStart("stepfunctions", {"stateMachineArn": resolver.resolve({"Ref": name}), "input": "{}"}, f"state machine {name} (no trigger)")
    raise UserError("starts no ECS task and no state machine, so there is no job to run", stack=stack)


def s3_object_created(bucket: str, key: str, resolver: LiveResolver) -> dict:
    """An `Object Created` event as S3 sends it to EventBridge (ev-events.html's shape; the
    values S3 would add, such as size and etag, do not reach the job)."""
    account, region = resolver.pseudo["AWS::AccountId"], resolver.pseudo["AWS::Region"]
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3", "account": account,
        "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
        "resources": [f"arn:{resolver.pseudo['AWS::Partition']}:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 0},
                   "request-id": "", "requester": account, "reason": "PutObject"},
    }


def _run_task(aws: Aws, planned, live, template, start: JobStart, where: str, *, wait: bool) -> int:
    ecs = aws.client("ecs")
    request = {k: v for k, v in start.request.items() if v not in (None, {}, [])}
    with aws_errors("RunTask", stack=planned.name):
        answer = ecs.run_task(**request)
    tasks, failures = answer.get("tasks", []), answer.get("failures", [])
    print(f"{where}: started {len(tasks)} task(s) as {start.trigger} would{start.subject} (RunTask {request['taskDefinition']} in {request['cluster']})")
    for failure in failures:
        print(f"  failure: {failure.get('arn', '')} {failure.get('reason', '')} {failure.get('detail', '')}".rstrip())
    if not tasks:
        return 1
    overridden = ((request.get("overrides") or {}).get("containerOverrides") or [{}])[0].get("name")
    location = log_location(aws, tasks[0]["taskDefinitionArn"], overridden, stack=planned.name)
    for task in tasks:
        print(f"  task {task['taskArn']}")
        if location is not None:
            print(f"  logs: log group {location.group}, stream {location.stream(task['taskArn']) or '(no awslogs-stream-prefix)'}")
    if not wait:
        return 1 if failures else 0
    arns = [task["taskArn"] for task in tasks]
    while True:
        with aws_errors("DescribeTasks", stack=planned.name):
            described = ecs.describe_tasks(cluster=request["cluster"], tasks=arns)["tasks"]
        if described and all(task.get("lastStatus") == "STOPPED" for task in described):
            break
        time.sleep(WAIT_SECONDS)
    code = 0
    for task in described:
        containers = task.get("containers", [])
        job = next((c for c in containers if c.get("name") == overridden), containers[0] if containers else {})
        exit_code = job.get("exitCode")
        reason = " ".join(part for part in (task.get("stopCode"), task.get("stoppedReason"), job.get("reason")) if part)
        print(f"  task {task['taskArn'].rsplit('/', 1)[-1]} stopped: {reason or 'no reason given'}; "
              f"container {job.get('name', '?')} exit code {exit_code if exit_code is not None else 'none (it did not run to an exit)'}")
        task_code = exit_code if isinstance(exit_code, int) and exit_code >= 0 else 1
        code = code or task_code
    print(f"exit code {code}")
    return code


def _start_execution(aws: Aws, planned, live, template, start: JobStart, where: str, *, wait: bool) -> int:
    sfn = aws.client("stepfunctions")
    with aws_errors("StartExecution", stack=planned.name):
        execution_arn = sfn.start_execution(**start.request)["executionArn"]
    print(f"{where}: started an execution as {start.trigger} would{start.subject} (StartExecution {start.request['stateMachineArn']})")
    print(f"  execution {execution_arn}")
    task = job_task(aws, planned, live, template)
    location = log_location(aws, task.family, task.container, stack=planned.name) if task else None
    if location is not None:
        print(f"  logs: log group {location.group}, streams {location.streams_prefix or ''}<task id> (the task starts when the execution reaches it)")
    if not wait:
        return 0
    while True:
        with aws_errors("DescribeExecution", stack=planned.name):
            execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] not in EXECUTION_RUNNING:
            break
        time.sleep(WAIT_SECONDS)
    status = execution["status"]
    detail = " ".join(part for part in (execution.get("error"), execution.get("cause")) if part)
    task_arn = _task_arn(execution.get("output"))
    if task_arn and location is not None:
        print(f"  task {task_arn}; logs: stream {location.stream(task_arn)}")
    print(f"  execution {status}" + (f": {detail}" if detail else ""))
    code = 0 if status == "SUCCEEDED" else 1
    print(f"exit code {code}")
    return code


def _task_arn(output: str | None) -> str | None:
    """The task the execution ran: sfn_task keeps the RunTask result at $.task."""
    try:
        return json.loads(output or "{}")["task"]["Tasks"][0]["TaskArn"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
