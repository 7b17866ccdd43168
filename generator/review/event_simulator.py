"""`test-event STACK EVENT.json`: does the stack's rule match this event, and what request would
its target receive.

Generic over the rendered template: every AWS::Events::Rule with an EventPattern (and every SAM
`EventBridgeRule`/`CloudWatchEvent` event source) is evaluated. Matching uses moto's EventBridge
pattern engine (`moto.events.models.EventPattern`, the optional extra `events`), not ours. The
target side follows EventBridge's documented input rules (Input, InputPath, InputTransformer) and
shows the request EventBridge would make:
  ECS target            → the RunTask request (cluster, taskDefinition, …, overrides = the input)
  Lambda target         → the Invoke request {"FunctionName", "InvocationType": "Event", "Payload"}
  Step Functions target → the StartExecution request {"stateMachineArn", "input"}
CloudFormation expressions are resolved against the environment's parameter values; what cannot be
known before deployment stays a readable placeholder such as "<ImportValue batch-base-dev-ClusterArn>".
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from generator.core.errors import UserError
from generator.core.options import did_you_mean

INSTALL_HINT = "pip install 'ecs-batch-templates[events]'"
SAM_RULE_EVENT_TYPES = ("EventBridgeRule", "CloudWatchEvent")
LAMBDA_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function", "AWS::Lambda::Alias", "AWS::Lambda::Version")
STATE_MACHINE_TYPES = ("AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine")
NO_VALUE = object()
MISSING = object()


def event_pattern_class():
    try:
        from moto.events.models import EventPattern
    except ImportError:
        raise UserError(f"test-event needs moto's EventBridge pattern engine, an optional extra: {INSTALL_HINT}") from None
    return EventPattern


def pattern_matches(pattern: dict, event: dict) -> bool:
    """Does `pattern` match `event`, with array-consistent matching (see eventbridge_views)."""
    engine = event_pattern_class().load(json.dumps(pattern))
    return any(engine.matches_event(view) for view in eventbridge_views(event, pattern))


# More views than this means an event with many large arrays under the pattern's fields; no AWS
# event the blueprints listen to comes near (an ECS task has at most 10 containers).
MAX_VIEWS = 10_000


def eventbridge_views(event: dict, pattern: dict):
    """The event as EventBridge's matcher sees it, one view per way of picking one element of each
    array of objects that the pattern looks into.

    EventBridge's matcher is open source as Event Ruler; its JSON array matching "crushes out" the
    array structure, so `{"containers": {"name": ["app"]}}` matches any element named app, and its
    `rulesForJSONEvent()` "will refuse to recognize any match in which any two fields are within JSON
    objects that are in different elements of the same array"
    (https://github.com/aws/event-ruler#json-array-matching). So `{"containers": {"name": ["app"],
    "exitCode": [1]}}` needs one container that is app AND exited 1. moto's EventPattern does not
    look inside arrays at all, so each view replaces every such array by one of its elements and
    the pattern matches when it matches any view. (The EventBridge user guide does not say which
    Event Ruler API EventBridge calls; the rules here are written so that the other reading, fields
    from different elements, could only make an alert fire more often, never less: see README.)
    Arrays the pattern does not look into are crushed as before (eventbridge_view)."""
    views = 0
    for view in _views(event, _pattern_shape(pattern)):
        views += 1
        if views > MAX_VIEWS:
            raise UserError(f"the event has too many combinations of array elements to match (over {MAX_VIEWS})")
        yield view


def _pattern_shape(pattern) -> dict:
    """The field tree a pattern looks into ($or branches merged): {"detail": {"containers": {"name": {}}}}."""
    shape: dict = {}
    if not isinstance(pattern, dict):
        return shape
    for key, value in pattern.items():
        if key == "$or" and isinstance(value, list):
            for branch in value:
                _merge_shape(shape, _pattern_shape(branch))
        else:
            _merge_shape(shape.setdefault(key, {}), _pattern_shape(value) if isinstance(value, dict) else {})
    return shape


def _merge_shape(into: dict, other: dict) -> None:
    for key, value in other.items():
        _merge_shape(into.setdefault(key, {}), value)


def _views(value, shape: dict):
    if isinstance(value, dict):
        choices = [[(key, view) for view in _views(item, shape[key])] if key in shape else [(key, eventbridge_view(item))]
                   for key, item in value.items()]
        for combination in itertools.product(*choices):
            yield dict(combination)
    elif shape and isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for item in value:
            yield from _views(item, shape)
    else:
        yield eventbridge_view(value)


def eventbridge_view(value):
    """The event with its arrays of objects crushed: objects inside arrays are matched as if their
    fields belonged to the parent ("the array structure is crushed out", Event Ruler README, JSON
    Array Matching: https://github.com/aws/event-ruler#json-array-matching), fields of different
    elements together. eventbridge_views keeps the elements apart where a pattern looks."""
    if isinstance(value, dict):
        return {key: eventbridge_view(item) for key, item in value.items()}
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        crushed: dict = {}
        for item in value:
            for key, member in eventbridge_view(item).items():
                crushed.setdefault(key, []).extend(member if isinstance(member, list) else [member])
        return crushed
    return value


def _leaves(pattern: dict, path: tuple = ()):
    for key, value in pattern.items():
        if isinstance(value, dict) and key != "$or":
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key), value


def first_mismatch(pattern: dict, event: dict) -> tuple[str, object] | None:
    """None when the pattern matches; else the first field path (in pattern order) whose own
    sub-pattern does not match, with that sub-pattern's filter."""
    if pattern_matches(pattern, event):
        return None
    for path, value in _leaves(pattern):
        nested = value
        for key in reversed(path):
            nested = {key: nested}
        if not pattern_matches(nested, event):
            return ".".join(path), value
    return "(pattern)", pattern


def _field(event: dict, path: str):
    """(found, value) of a dotted pattern path in the event."""
    value = event
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


# --- JSON paths and the InputTransformer --------------------------------------------------------

_PATH_STEP = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]")


def json_path(document, path: str):
    """(found, value) for EventBridge's JSON path subset: $, .name (letters, digits, - _ /), [index]."""
    if not path.startswith("$"):
        return False, None
    value, position = document, 1
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise UserError(f"JSON path {path!r} uses syntax test-event does not evaluate (wildcards, filters)")
        name, index = step.groups()
        if name is not None:
            if not isinstance(value, dict) or name not in value:
                return False, None
            value = value[name]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return False, None
            value = value[int(index)]
        position = step.end()
    return True, value


def _placeholder_text(value, *, quoted: bool) -> str:
    if value is MISSING:
        return ""
    if quoted and isinstance(value, str):
        # "EventBridge doesn't escape values extracted by Input Path, when populating the Input
        # Template" (eb-transform-target-input.html, Common issues): a placeholder inside quotes
        # receives the raw characters.
        return value
    # A bare placeholder receives the value as JSON: `"instance" : <instance>` gives
    # `"instance" : "i-0123456789"` (same page, "Simple JSON" example).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def apply_input_transformer(input_paths_map: dict, input_template: str, event: dict, *,
                            predefined: dict | None = None) -> tuple[str, list[str]]:
    """The text EventBridge sends the target, and notes on variables it left out.

    Rules, each from https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html :
    - "If you specify a variable to match a JSON path that doesn't exist in the event, that variable
      isn't created and won't appear in the output" (Common issues): it becomes empty text.
    - inside a JSON string the value is inserted unescaped; bare, as JSON (see _placeholder_text).
    - the predefined aws.events.* variables ("Predefined variables") come from `predefined`.
    """
    values, notes = dict(predefined or {}), []
    for name, path in input_paths_map.items():
        found, value = json_path(event, path)
        if found:
            values[name] = value
        else:
            values[name] = MISSING
            notes.append(f"<{name}>: {path} is not in the event, so EventBridge leaves the variable out")
    out, in_string, index = [], False, 0
    while index < len(input_template):
        char = input_template[index]
        if in_string and char == "\\":
            out.append(input_template[index:index + 2])
            index += 2
            continue
        if char == '"':
            in_string = not in_string
        elif char == "<":
            end = input_template.find(">", index)
            name = input_template[index + 1:end] if end != -1 else None
            if name in values:
                out.append(_placeholder_text(values[name], quoted=in_string))
                index = end + 1
                continue
        out.append(char)
        index += 1
    return "".join(out), notes


# --- CloudFormation expressions -----------------------------------------------------------------

class Resolver:
    """Resolve intrinsic functions against known parameter values; unknown pieces stay readable
    placeholders ("<ImportValue name>", "<GetAtt Function.Arn>")."""

    def __init__(self, template: dict, parameters: dict[str, object], pseudo: dict[str, str]):
        self.template, self.parameters, self.pseudo = template, parameters, pseudo

    def resolve(self, value):
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, arg), = value.items()
            handler = {"Ref": self._ref, "Fn::GetAtt": self._get_att, "Fn::Sub": self._sub, "Fn::ImportValue": self._import,
                       "Fn::If": self._if, "Fn::Join": self._join, "Fn::Select": self._select, "Fn::Split": self._split}.get(name)
            if handler:
                return handler(arg)
            if name.startswith("Fn::"):
                return f"<{name}>"
        return {k: item for k, item in ((k, self.resolve(v)) for k, v in value.items()) if item is not NO_VALUE}

    def _ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.template.get("Resources", {}).get(name, {})
        properties = resource.get("Properties", {})
        named = {"AWS::S3::Bucket": "BucketName", "AWS::Logs::LogGroup": "LogGroupName"}.get(resource.get("Type"))
        if named in properties:  # a bucket's or log group's Ref is its name
            return self.resolve(properties[named])
        # A named state machine's Ref is its ARN, known before deployment.
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html#aws-resource-stepfunctions-statemachine-return-values
        machine_name = {"AWS::Serverless::StateMachine": "Name", "AWS::StepFunctions::StateMachine": "StateMachineName"}.get(resource.get("Type"))
        if machine_name in properties:
            pseudo = self.pseudo
            return (f"arn:{pseudo['AWS::Partition']}:states:{pseudo['AWS::Region']}:{pseudo['AWS::AccountId']}:stateMachine:"
                    f"{self.resolve(properties[machine_name])}")
        return f"<Ref {name}>"

    def _get_att(self, arg):
        logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        return f"<GetAtt {logical_id}.{attribute}>"

    def _sub(self, arg):
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        resolved = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            value = resolved[name] if name in resolved else (self._get_att(name) if "." in name else self._ref(name))
            return ",".join(map(str, value)) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _import(self, arg):
        return f"<ImportValue {self.resolve(arg)}>"

    def condition(self, name) -> bool | None:
        return self._truth(self.template.get("Conditions", {}).get(name))

    def _truth(self, expression) -> bool | None:
        if not isinstance(expression, dict) or len(expression) != 1:
            return None
        (name, arg), = expression.items()
        if name == "Condition":
            return self.condition(arg)
        if name == "Fn::Equals":
            left, right = (self.resolve(v) for v in arg)
            if any(isinstance(v, str) and v.startswith("<") for v in (left, right)):
                return None
            return left == right
        parts = [self._truth(item) for item in arg] if isinstance(arg, list) else []
        if None in parts:
            return None
        return {"Fn::Not": lambda: not parts[0], "Fn::And": lambda: all(parts), "Fn::Or": lambda: any(parts)}.get(name, lambda: None)()

    def _if(self, arg):
        name, yes, no = arg
        truth = self.condition(name)
        return f"<If {name}>" if truth is None else self.resolve(yes if truth else no)

    def _join(self, arg):
        separator, items = arg[0], self.resolve(arg[1])
        return separator.join(map(str, items)) if isinstance(items, list) else f"<Join {items}>"

    def _select(self, arg):
        index, items = self.resolve(arg[0]), self.resolve(arg[1])
        return items[int(index)] if isinstance(items, list) and int(index) < len(items) else f"<Select {index}>"

    def _split(self, arg):
        separator, text = arg[0], self.resolve(arg[1])
        return text.split(separator) if isinstance(text, str) else f"<Split {text}>"


def parameter_values(template: dict, values: dict[str, str]) -> dict[str, object]:
    """Each template parameter's value in the environment (or its Default); lists split on commas,
    SSM-held values as placeholders."""
    resolved = {}
    for name, spec in template.get("Parameters", {}).items():
        value = values.get(name, spec.get("Default"))
        kind = spec.get("Type", "String")
        if value is None:
            continue
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            resolved[name] = f"<SSM parameter {value}>"
        elif kind.startswith("List<") or kind == "CommaDelimitedList":
            resolved[name] = [item.strip() for item in str(value).split(",")]
        else:
            resolved[name] = str(value)
    return resolved


def _partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


# --- rules, targets, the command ----------------------------------------------------------------

def event_rules(template: dict) -> list[tuple[str, dict]]:
    """(logical id, rule properties) for each pattern rule, SAM event sources included (as the
    rule SAM would generate: logical id <resource><event name>, one target, the resource)."""
    rules = []
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Events::Rule" and "EventPattern" in props:
            rules.append((logical_id, props))
        elif resource.get("Type") in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for event_name, source in props.get("Events", {}).items():
                if source.get("Type") in SAM_RULE_EVENT_TYPES and "Pattern" in source.get("Properties", {}):
                    sam = source["Properties"]
                    arn = {"Ref": logical_id} if resource["Type"].endswith("StateMachine") else {"Fn::GetAtt": [logical_id, "Arn"]}
                    target = {"Id": sam.get("Target", {}).get("Id", f"{logical_id}{event_name}Target"), "Arn": arn}
                    target.update({k: sam[k] for k in ("Input", "InputPath", "InputTransformer") if k in sam})
                    rule = {"EventPattern": sam["Pattern"], "Targets": [target]}
                    if "State" in sam or "Enabled" in sam:  # SAM turns Enabled into the rule's State
                        rule["State"] = sam["State"] if "State" in sam else ("ENABLED" if sam["Enabled"] else "DISABLED")
                    rules.append((f"{logical_id}{event_name}", rule))
    return rules


def _target_kind(template: dict, target: dict) -> tuple[str, str | None]:
    if "EcsParameters" in target:
        return "ecs", None
    arn = target.get("Arn")
    logical_id = None
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        attribute = arn["Fn::GetAtt"]
        logical_id = attribute.split(".")[0] if isinstance(attribute, str) else attribute[0]
    elif isinstance(arn, dict) and "Ref" in arn:
        logical_id = arn["Ref"]
    kind = template.get("Resources", {}).get(logical_id, {}).get("Type")
    if kind in LAMBDA_TYPES:
        return "lambda", logical_id
    if kind in STATE_MACHINE_TYPES:
        return "stepfunctions", logical_id
    if kind == "AWS::SNS::Topic" or (logical_id and template.get("Parameters", {}).get(logical_id, {}).get("AllowedPattern", "").startswith("^arn:aws[a-z-]*:sns:")):
        return "sns", logical_id
    return "other", logical_id


def _target_input(target: dict, event: dict, predefined: dict) -> tuple[object, list[str]]:
    """What EventBridge passes the target: Input (constant JSON), InputPath, InputTransformer, or the event."""
    if "Input" in target:
        return json.loads(target["Input"]), []
    if "InputPath" in target:
        found, value = json_path(event, target["InputPath"])
        return (value if found else None), ([] if found else [f"InputPath {target['InputPath']} is not in the event"])
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        text, notes = apply_input_transformer(transformer.get("InputPathsMap", {}), transformer["InputTemplate"], event, predefined=predefined)
        try:
            return json.loads(text), notes
        except ValueError as error:
            return text, [*notes, f"the transformed input is not valid JSON ({error}); the target would reject it"]
    return event, []


_ECS_FIELDS = {  # rule target EcsParameters → RunTask request field
    "LaunchType": "launchType", "PlatformVersion": "platformVersion", "Group": "group", "PropagateTags": "propagateTags",
    "EnableECSManagedTags": "enableECSManagedTags", "EnableExecuteCommand": "enableExecuteCommand", "ReferenceId": "referenceId",
}


def _run_task_request(cluster, ecs: dict, overrides) -> dict:
    request = {"cluster": cluster, "taskDefinition": ecs.get("TaskDefinitionArn"), "count": ecs.get("TaskCount", 1)}
    request.update({api: ecs[key] for key, api in _ECS_FIELDS.items() if key in ecs})
    vpc = ecs.get("NetworkConfiguration", {}).get("AwsVpcConfiguration")
    if vpc:
        request["networkConfiguration"] = {"awsvpcConfiguration": {
            "subnets": vpc.get("Subnets", []), "securityGroups": vpc.get("SecurityGroups", []),
            "assignPublicIp": vpc.get("AssignPublicIp", "DISABLED")}}
    if "CapacityProviderStrategy" in ecs:
        request["capacityProviderStrategy"] = [
            {k[0].lower() + k[1:]: v for k, v in item.items()} for item in ecs["CapacityProviderStrategy"]]
    if "TagList" in ecs:
        request["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in ecs["TagList"]]
    request["overrides"] = overrides
    return request


@dataclass
class RuleResult:
    rule: str
    matched: bool
    mismatch: str | None = None
    detail: str = ""
    targets: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def evaluate(template: dict, event: dict, resolver: Resolver, *, rule_name_prefix: str) -> list[RuleResult]:
    rules = event_rules(template)
    if not rules:
        raise UserError("has no EventBridge rule with an event pattern; test-event is for event-driven stacks")
    pseudo = resolver.pseudo
    results = []
    for logical_id, props in rules:
        pattern = resolver.resolve(props["EventPattern"])
        mismatch = first_mismatch(pattern, event)
        if mismatch is not None:
            path, wanted = mismatch
            found, actual = _field(event, path)
            seen = "no match in any branch" if path.endswith("$or") else json.dumps(actual, ensure_ascii=False) if found else "no such field"
            results.append(RuleResult(logical_id, False, path, f"pattern wants {json.dumps(wanted, ensure_ascii=False)}, event has {seen}"))
            continue
        result = RuleResult(logical_id, True)
        # The verdict stays "matches" (the pattern does), but a disabled rule delivers nothing.
        if resolver.resolve(props.get("State", "ENABLED")) == "DISABLED":
            result.notes.append(f"rule {logical_id} is DISABLED: EventBridge would not deliver this event")
        rule_name = props.get("Name") or f"<name CloudFormation gives {rule_name_prefix}-{logical_id}>"
        predefined = {
            "aws.events.rule-name": rule_name,
            "aws.events.rule-arn": f"arn:{pseudo['AWS::Partition']}:events:{pseudo['AWS::Region']}:{pseudo['AWS::AccountId']}:rule/{rule_name}",
            "aws.events.event.ingestion-time": event.get("time", ""),  # the real value is when EventBridge received it
            "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
            "aws.events.event.json": event,
        }
        for raw_target in props.get("Targets", []):
            target = resolver.resolve(raw_target)
            kind, logical_target = _target_kind(template, raw_target)
            payload, notes = _target_input(target, event, predefined)
            result.notes += notes
            entry = {"id": target.get("Id"), "type": kind}
            if kind == "ecs":
                entry["request"] = _run_task_request(target["Arn"], target["EcsParameters"], payload)
            elif kind == "lambda":
                entry["request"] = {"FunctionName": target["Arn"], "InvocationType": "Event", "Payload": payload}
                entry["function"] = logical_target
            elif kind == "stepfunctions":
                entry["request"] = {"stateMachineArn": target["Arn"], "input": payload}
                entry["stateMachine"] = logical_target
            else:
                entry["request"] = {"Arn": target["Arn"], "Input": payload}
            result.targets.append(entry)
        results.append(result)
    return results


def s3_key_notes(event: dict, *, matched: bool) -> list[str]:
    """S3 sends object keys URL-encoded, and the rule compares its filters with that form: say so
    when the event's key is not in it (a hand-written event), and what a matched key decodes to."""
    from urllib.parse import unquote_plus

    from generator.aws.event_rules import is_s3_encoded, s3_encode

    key = (event.get("detail") or {}).get("object", {}).get("key") if event.get("source") == "aws.s3" else None
    if not isinstance(key, str):
        return []
    if not is_s3_encoded(key):
        return [f"the object key {key!r} is not URL-encoded as S3 sends keys (S3 would send {s3_encode(key)!r}); "
                "the rule's key filter is compared with the encoded form"]
    if matched and unquote_plus(key) != key:
        return [f"the object key is URL-encoded, as S3 sends it; the target receives it so, and it decodes to {unquote_plus(key)!r}"]
    return []


def read_event(path: Path) -> dict:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read event file {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        event = json.loads(text)
    except ValueError as error:
        raise UserError(f"{path} is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise UserError(f"{path}: an EventBridge event is a JSON object, got {type(event).__name__}")
    return event


def run(manifest: Path, stack: str, event_path: Path, *, environment: str | None, as_json: bool) -> int:
    """Print the verdict; return 0 when a rule matches, 1 when none does (bad input raises UserError)."""
    from generator.core.manifest import load_manifest
    from generator.core.render import manifest_stacks, render_stack

    specs = load_manifest(manifest)
    if stack not in specs:
        raise UserError(f"unknown stack {stack!r}{did_you_mean(stack, specs)}; stacks: {', '.join(specs)}")
    spec = specs[stack]
    env_name = environment or next(iter(spec.environments))
    if env_name not in spec.environments:
        raise UserError(f"unknown environment {env_name!r}{did_you_mean(env_name, spec.environments)}; allowed: {', '.join(spec.environments)}",
                        stack=stack, field="--env")
    event = read_event(event_path)
    env = spec.environments[env_name]
    template = render_stack(spec, manifest_name=manifest.name, manifest=manifest_stacks(specs.values())).template
    region = env.region or event.get("region") or "<AWS::Region>"
    pseudo = {
        "AWS::Region": region, "AWS::Partition": _partition(region), "AWS::URLSuffix": "amazonaws.com",
        # The rule runs in the account whose event bus received the event.
        "AWS::AccountId": event.get("account") or "<AWS::AccountId>",
        "AWS::StackName": spec.config_env(env_name), "AWS::StackId": f"<stack id of {spec.config_env(env_name)}>",
    }
    resolver = Resolver(template, parameter_values(template, spec.parameter_values(env_name)), pseudo)
    try:
        results = evaluate(template, event, resolver, rule_name_prefix=spec.config_env(env_name))
    except UserError as error:
        raise error.within(stack=stack) from None
    if "Records" in event and "detail-type" not in event:
        for result in results:
            result.notes.append("this looks like an S3/SNS/SQS notification (Records), not an EventBridge event")
    for result in results:
        result.notes += s3_key_notes(event, matched=result.matched)
    chosen = next((r for r in results if r.matched), results[0])
    if as_json:
        print(json.dumps({
            "matched": chosen.matched, "rule": chosen.rule,
            "target": chosen.targets[0]["request"] if chosen.targets else None,
            "mismatch": chosen.mismatch, "stack": stack, "environment": env_name,
            "targets": chosen.targets, "notes": chosen.notes,
            "rules": [{"rule": r.rule, "matched": r.matched, "mismatch": r.mismatch} for r in results],
        }, indent=2, ensure_ascii=False))
    else:
        for result in _worth_printing(results, event):
            where = f"{stack} ({env_name}): rule {result.rule}"
            if not result.matched:
                print(f"{where} does not match: field {result.mismatch}: {result.detail}")
                continue
            print(f"{where} matches")
            for target in result.targets:
                label = {"ecs": "ECS RunTask request", "lambda": f"Lambda Invoke of {target.get('function')}",
                         "stepfunctions": f"Step Functions StartExecution of {target.get('stateMachine')}",
                         "sns": "SNS Publish message"}.get(target["type"], "request")
                print(f"target {target['id']} ({label}):")
                print(json.dumps(target["request"], indent=2, ensure_ascii=False))
        for note in chosen.notes:
            print(f"note: {note}")
    return 0 if chosen.matched else 1


def _worth_printing(results: list, event: dict) -> list:
    """The rules that matched; if none did, those the event's source could reach (a bucket event
    says nothing useful about the failure-alert rule), else the first rule."""
    matched = [r for r in results if r.matched]
    if matched:
        return matched
    same_source = [r for r in results if r.mismatch != "source"]
    return same_source or results[:1]
