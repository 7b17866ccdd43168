"""Plain-words views of a rendered template for reviewers: expressions, IAM statements, flow, runs."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

# README run times are counted from a fixed instant, so the file changes only when the schedule
# does (a "next 5 runs from now" list would make every committed README stale the next day).
RUNS_ANCHOR = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def expression(value) -> str:
    """A CloudFormation value as a reviewer reads it: ${Param}, Resource.Attr, import:<name>."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(expression(v) for v in value)
    if isinstance(value, dict) and len(value) == 1:
        (name, arg), = value.items()
        if name == "Ref":
            return "${" + arg + "}"
        if name == "Fn::GetAtt":
            return ".".join(arg) if isinstance(arg, list) else arg
        if name == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            for key, sub in variables.items():
                text = text.replace("${" + key + "}", expression(sub))
            return text
        if name == "Fn::ImportValue":
            return f"<export {expression(arg)}>"
        if name == "Fn::If":
            condition, yes, no = arg
            if no == {"Ref": "AWS::NoValue"}:
                return f"{expression(yes)} (if {condition})"
            return f"{expression(yes)} if {condition}, else {expression(no)}"
        if name == "Fn::Select":
            index, items = arg
            if isinstance(items, dict) and "Fn::Split" in items:
                separator, source = items["Fn::Split"]
                return f"{expression(source)} split on '{separator}' [{index}]"
        if name == "Fn::Join":
            separator, items = arg
            return separator.join(expression(v) for v in items)
        return f"{name}({expression(arg)})"
    return str(value)


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _key_filter_words(pattern: dict) -> str:
    """An S3 rule's object key filter, as a second line of its diagram label ("" when none)."""
    detail = pattern.get("detail") if isinstance(pattern.get("detail"), dict) else {}
    key = (detail.get("object") or {}).get("key") if isinstance(detail.get("object"), dict) else None
    if not key:
        return ""
    words = [next(f"{name} {value}" for name, value in item.items()) if isinstance(item, dict) else f"= {item}"
             for item in _listed(key)]
    return "<br/>key " + " or ".join(words)


def alerts_in_words(template: dict, stack_name: str) -> list[dict]:
    """What the stack alerts on: each rule that publishes to an SNS topic (the alert rules) and each
    alarm with actions, as (kind, logical id, what it says, where it goes)."""
    resources = template.get("Resources", {})
    topics = {name for name, r in resources.items() if r.get("Type") == "AWS::SNS::Topic"}
    topics |= {name for name, p in template.get("Parameters", {}).items() if str(p.get("AllowedPattern", "")).startswith("^arn:aws[a-z-]*:sns:")}

    def what(text) -> str:
        return str(text).removeprefix(f"{stack_name}: ")

    found = []
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Events::Rule":
            to = [t["Arn"]["Ref"] for t in props.get("Targets", []) if isinstance(t.get("Arn"), dict) and t["Arn"].get("Ref") in topics]
            if to:
                found.append({"kind": "rule", "name": logical_id, "what": what(props.get("Description", "")), "to": ", ".join(to)})
        elif resource["Type"] == "AWS::CloudWatch::Alarm" and props.get("AlarmActions"):
            found.append({"kind": "alarm", "name": logical_id, "what": what(props.get("AlarmDescription", "")),
                          "to": ", ".join(expression(a).strip("${}") for a in props["AlarmActions"])})
    return found


def iam_in_words(template: dict) -> list[dict]:
    """Each IAM role: who may assume it and what each statement allows, in words."""
    roles = []
    resources = template.get("Resources", {})
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource["Properties"]
        trust = props["AssumeRolePolicyDocument"]["Statement"]
        principals = [
            expression(service)
            for statement in trust
            for service in _listed(statement.get("Principal", {}).get("Service", []))
        ] + [
            f"web identities from {expression(provider)}"
            for statement in trust
            for provider in _listed(statement.get("Principal", {}).get("Federated", []))
        ]
        if all(statement.get("Condition") == _THIS_ACCOUNT_ONLY for statement in trust):
            when = " (only for this account)"
        else:
            words = [_condition_words(statement) for statement in trust if statement.get("Condition")]
            when = " only when " + "; or ".join(words) if words else ""
        grants = []
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                grants.append(statement_in_words(statement))
        for managed in props.get("ManagedPolicyArns", []):
            grants.append(f"everything in the managed policy {expression(managed)}")
        # Policies that attach themselves to the role (AWS::IAM::ManagedPolicy / Policy `Roles`)
        for policy in resources.values():
            if policy["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and {"Ref": logical_id} in policy["Properties"].get("Roles", []):
                grants += [statement_in_words(statement) for statement in policy["Properties"]["PolicyDocument"]["Statement"]]
        roles.append({"name": logical_id, "principals": principals, "when": when, "grants": grants})
    return roles


_THIS_ACCOUNT_ONLY = {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}


def statement_in_words(statement: dict) -> str:
    verb = "may" if statement.get("Effect") == "Allow" else "may not"
    actions = ", ".join(f"`{a}`" for a in _listed(statement.get("Action", [])))
    resources = ", ".join(f"`{expression(r)}`" for r in _listed(statement.get("Resource", [])))
    text = f"{verb} {actions} on {resources}"
    if statement.get("Condition"):
        text += " only when " + _condition_words(statement)
    return text


def _condition_words(statement: dict) -> str:
    conditions = []
    for operator, pairs in statement.get("Condition", {}).items():
        for key, value in pairs.items():
            conditions.append(f"`{key}` {_OPERATORS.get(operator, operator)} `{expression(value)}`")
    return " and ".join(conditions)


_OPERATORS = {"StringEquals": "is", "ArnEquals": "is", "ArnLike": "matches", "StringLike": "matches", "Bool": "is"}


def schedules(template: dict) -> list[dict]:
    """Every schedule in the template with its expression and time zone (UTC for rules)."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in props:
            found.append({"name": logical_id, "expression": props["ScheduleExpression"], "timezone": "UTC"})
        elif resource["Type"] == "AWS::Scheduler::Schedule":
            found.append({"name": logical_id, "expression": props["ScheduleExpression"],
                          "timezone": props.get("ScheduleExpressionTimezone", "UTC")})
    return found


_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")


@lru_cache(maxsize=256)  # many stacks share a schedule
def run_times(expression_text: str, timezone: str, *, count: int = 5, after: dt.datetime = RUNS_ANCHOR) -> list[tuple[dt.datetime, dt.datetime]]:
    """The first `count` runs after `after`, as (UTC, local) pairs. cron is evaluated in the
    schedule's time zone, as EventBridge Scheduler does; rate() counts from `after`."""
    zone = ZoneInfo(timezone)
    rate = _RATE.match(expression_text)
    if rate:
        step = dt.timedelta(**{rate.group(2) + "s": int(rate.group(1))})
        utc = [after + step * (i + 1) for i in range(count)]
        return tuple((t, t.astimezone(zone)) for t in utc)
    from pyawscron import AWSCron

    cron = expression_text[len("cron("):-1]
    # pyawscron counts in the wall-clock of the datetime it is given: give it local time.
    local_after = after.astimezone(zone).replace(tzinfo=dt.timezone.utc)
    runs = []
    for _ in range(100):  # a schedule can fall in a skipped hour 60 times in a row, not more
        batch = AWSCron.get_next_n_schedule(count, local_after, cron)
        for local in batch:
            aware = local.replace(tzinfo=zone)
            utc = aware.astimezone(dt.timezone.utc)
            # Scheduler skips a wall-clock time that does not exist (the hour clocks spring
            # forward over), and runs a repeated one (autumn) once: zoneinfo's first (fold=0).
            if utc.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
                runs.append((utc, aware))
            if len(runs) == count:
                return tuple(runs)
        if not batch:
            break
        local_after = batch[-1]
    return tuple(runs)


def flow(template: dict) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The stack's flow as diagram nodes (id → label) and edges (from, to, label)."""
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    resources = template.get("Resources", {})

    def target_node(target: dict) -> str:
        if "EcsParameters" in target:
            ecs = target["EcsParameters"]
            node = "EcsTask"
            nodes[node] = f"ECS task<br/>{expression(ecs['TaskDefinitionArn']).rsplit('/', 1)[-1]}<br/>in {expression(target['Arn']).rsplit('/', 1)[-1]}"
            return node
        arn = target.get("Arn")
        if isinstance(arn, dict) and "Fn::GetAtt" in arn:
            node = arn["Fn::GetAtt"][0]
        elif isinstance(arn, dict) and "Ref" in arn:
            node = arn["Ref"]
        elif isinstance(arn, dict) and isinstance(arn.get("Fn::Sub"), str) and any(
                f"${{{name}}}" in arn["Fn::Sub"] for name in resources):
            # an ARN built from a resource's name (a log group target)
            node = next(name for name in resources if f"${{{name}}}" in arn["Fn::Sub"])
        else:
            node = "Target"
        nodes.setdefault(node, f"{resources.get(node, {}).get('Type', 'target')}<br/>{node}")
        return node

    for logical_id, resource in resources.items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Events::Rule":
            if "ScheduleExpression" in props:
                nodes[logical_id] = f"EventBridge rule<br/>{props['ScheduleExpression']} UTC"
            else:
                pattern = props.get("EventPattern", {})
                detail = ", ".join(_listed(pattern.get("detail-type", [])))
                nodes[logical_id] = f"EventBridge rule {logical_id}<br/>{detail}" + _key_filter_words(pattern)
                sources = _listed(pattern.get("source", []))
                for bucket_id, bucket in resources.items():
                    if bucket["Type"] == "AWS::S3::Bucket" and "aws.s3" in sources:
                        nodes[bucket_id] = f"S3 bucket {bucket_id}"
                        edges.append((bucket_id, logical_id, "Object Created"))
                if "aws.s3" in sources and not any(r["Type"] == "AWS::S3::Bucket" for r in resources.values()):
                    nodes["ExistingBucket"] = "existing S3 bucket<br/>(EventBridge notifications on)"
                    edges.append(("ExistingBucket", logical_id, "event"))
                elif sources and "aws.s3" not in sources:
                    # one node per event source (aws.ecr → SourceAwsEcr), so two rules on different sources stay apart
                    source_node = "Source" + "".join(part.title() for part in re.split(r"[^a-z0-9]+", ", ".join(sources).lower()) if part)
                    nodes[source_node] = ", ".join(sources)
                    edges.append((source_node, logical_id, "event"))
            for target in props.get("Targets", []):
                edges.append((logical_id, target_node(target), "runs" if "EcsParameters" in target else "invokes"))
                if "DeadLetterConfig" in target:
                    queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
                    nodes[queue] = f"SQS dead-letter queue<br/>{queue}"
                    edges.append((logical_id, queue, "failed delivery"))
        elif kind == "AWS::Scheduler::Schedule":
            nodes[logical_id] = f"EventBridge Scheduler<br/>{props['ScheduleExpression']}<br/>{props.get('ScheduleExpressionTimezone', 'UTC')}"
            target = props["Target"]
            edges.append((logical_id, target_node(target), "runs" if "EcsParameters" in target else "starts"))
            if "DeadLetterConfig" in target:
                queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
                nodes[queue] = f"SQS dead-letter queue<br/>{queue}"
                edges.append((logical_id, queue, "failed delivery"))
        elif kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            nodes[logical_id] = f"Step Functions<br/>{logical_id}"
            nodes.setdefault("EcsTask", "ECS task")
            edges.append((logical_id, "EcsTask", "ecs:runTask"))
        elif kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            nodes.setdefault(logical_id, f"Lambda<br/>{logical_id}")
        elif kind == "AWS::ECS::TaskDefinition":
            nodes[logical_id] = f"Fargate task definition<br/>{logical_id}"
        elif kind == "AWS::ECS::Cluster":
            nodes[logical_id] = f"ECS cluster<br/>{logical_id}"
    # Events the stack's own resources send: its task stopping, its state machine's executions ending.
    machines = [node for node, kind in ((n, resources.get(n, {}).get("Type")) for n in nodes)
                if kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")]
    own = {"SourceAwsEcs": ("EcsTask", "stopped") if "EcsTask" in nodes and not _only_deployments(template) else None,
           "SourceAwsStates": (machines[0], "execution ended") if len(machines) == 1 else None}
    for source_node, replacement in own.items():
        if source_node in nodes and replacement is not None:
            del nodes[source_node]
            edges = [(replacement[0], target, replacement[1]) if source == source_node else (source, target, label)
                     for source, target, label in edges]
    return nodes, edges


def _only_deployments(template: dict) -> bool:
    """Every aws.ecs rule of the template hears service deployments, none a task of the stack's."""
    patterns = [r.get("Properties", {}).get("EventPattern", {}) for r in template.get("Resources", {}).values()
                if r.get("Type") == "AWS::Events::Rule"]
    ecs = [p for p in patterns if "aws.ecs" in _listed(p.get("source", []))]
    return bool(ecs) and all("ECS Deployment State Change" in _listed(p.get("detail-type", [])) for p in ecs)
