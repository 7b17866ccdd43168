"""What cfn-lint does not see in a state machine: the definition a SAM template points at.

cfn-lint 1.58 validates the ASL structure (rule E3601) only in a plain
`AWS::StepFunctions::StateMachine` with an inline `Definition` object: not in a `DefinitionUri` file,
not in a SAM `Definition` (the transform turns it into a string E3601 does not parse), and never
the API parameters of a Task state (`"LaunchType": "FARGATEX"` passes). For each
`AWS::Serverless::StateMachine` this module therefore

- E9600: reads the definition (the local `DefinitionUri` file, or the inline `Definition`);
- E9601: checks that every `${X}` placeholder has a `DefinitionSubstitutions` entry and every entry
  is used;
- E3601: lints a copy of the definition, inlined in a plain `AWS::StepFunctions::StateMachine`,
  with cfn-lint's own rule (placeholders of known values, such as `${AWS::Partition}` refs, are
  replaced by sample values first);
- E9602: checks that every transition (Next, Default, Catch, Choices) names a state and that
  every state is reachable from StartAt (cfn-lint checks StartAt only);
- E9603: checks the `Parameters` of each `arn:<partition>:states:::ecs:runTask*` Task state
  against the ECS `RunTask` input shape in botocore's service model (member names in Step
  Functions' PascalCase, types, enums, required members); a key ending in `.$` is a JsonPath or
  intrinsic evaluated at run time, so only its name is checked;
- E9604: checks that an `arn:<partition>:states:::ecs:*` Task resource is one of the ECS
  integrations (`runTask`, `runTask.sync`, `runTask.waitForTaskToken`): E3601 passes
  `ecs:runTask.synk`, and E9603 would then never look at its Parameters;
- E9605: range-checks every retrier (Task, Parallel and Map states, branches included): E3601's
  schema allows a `BackoffRate` of 0.5, and fractional or zero `IntervalSeconds`, and does not know
  `MaxDelaySeconds` or `JitterStrategy`.

Findings point into the definition file (line and column) when it is a file.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Iterator

from generator.aws import step_functions as asl
from generator.checks.cfn_setup import rule_engine
from generator.checks.findings import Finding
from generator.core.options import did_you_mean

SAM_STATE_MACHINE = "AWS::Serverless::StateMachine"
# Sample values for substitutions that are pseudo parameters, so the copy cfn-lint sees has the
# shape of a deployed definition (E3601 wants `arn:aws:` in a Task's Resource).
PSEUDO_PARAMETER_SAMPLES = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}
LINT_ROLE_ARN = "arn:aws:iam::123456789012:role/asl-lint"
RULE_UNREADABLE, RULE_SUBSTITUTIONS, RULE_TRANSITIONS, RULE_ECS_PARAMETERS = "E9600", "E9601", "E9602", "E9603"
RULE_ECS_RESOURCE, RULE_RETRY = "E9604", "E9605"

NodePath = list  # keys and list indexes from the definition's root to a node


# --- the hook for generator.checks.engine ----------------------------------------------------------


_DEFINITION_URI = re.compile(r"""^[ \t]*["']?DefinitionUri["']?[ \t]*:[ \t]*["']?([^"'\s#,{}\[\]]+)["']?[ \t]*,?[ \t]*(?:#.*)?$""", re.MULTILINE)


def definition_files(template_path: str | Path, *, text: str | None = None) -> list[Path]:
    """The local definition files a template's SAM state machines name (for lint cache keys: a
    changed `.asl.json` must be linted again even when the template is unchanged). `text`: the
    template's text, when the caller has read it already.

    Called for every template on every lint, cached or not, so the usual case is read from the
    text (a YAML decode would cost more than the cached lint itself); only a template with a
    DefinitionUri the pattern cannot read is decoded."""
    path = Path(template_path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            return []
    mentions = text.count("DefinitionUri")
    if not mentions:
        return []
    found = _DEFINITION_URI.findall(text)
    if len(found) == mentions:
        return [path.parent / uri for uri in found if not uri.startswith("s3://")]
    template = _load_template(path)
    files = []
    for _, properties in _sam_state_machines(template):
        uri = properties.get("DefinitionUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            files.append(Path(template_path).parent / uri)
    return files


def asl_findings(template_path: str | Path, *, template: dict | None = None, reuse: bool = True) -> list[Finding]:
    """E96xx/E3601 findings for every SAM state machine of the template at `template_path`
    (`template`: that file already decoded by cfn-lint's decoder, to save decoding it again).
    `reuse`: a definition cfn-lint's E3601 already checked in this process is not checked again
    (the check is a pure function of the definition, its logical id and its substitution names)."""
    path = Path(template_path)
    if template is None:
        template = _load_template(path)
    findings: list[Finding] = []
    for logical_id, properties in _sam_state_machines(template):
        findings += _state_machine_findings(path, logical_id, properties, reuse=reuse)
    return findings


# --- reading ------------------------------------------------------------------------------


def _load_template(path: Path) -> dict:
    from cfnlint.decode import decode

    template, errors = decode(str(path))
    return template if not errors and isinstance(template, dict) else {}  # cfn-lint reports a broken template


def _sam_state_machines(template: dict) -> Iterator[tuple[str, dict]]:
    resources = template.get("Resources")
    for logical_id, resource in (resources.items() if isinstance(resources, dict) else []):
        if isinstance(resource, dict) and resource.get("Type") == SAM_STATE_MACHINE:
            properties = resource.get("Properties")
            yield str(logical_id), properties if isinstance(properties, dict) else {}


def _position(node: Any) -> tuple[int, int]:
    mark = getattr(node, "start_mark", None)
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _state_machine_findings(template_path: Path, logical_id: str, properties: dict, *, reuse: bool = True) -> list[Finding]:
    where = f"{logical_id}: "
    uri = properties.get("DefinitionUri")
    if isinstance(uri, str) and not uri.startswith("s3://"):
        file = template_path.parent / uri
        display = str(file)
        try:
            from cfnlint.decode import cfn_json

            definition = cfn_json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeError, ValueError) as error:
            line, column = _position(uri)
            return [Finding(str(template_path), line, column, RULE_UNREADABLE, "error",
                            f"{where}cannot read the state machine definition {display}: {error}")]
    elif isinstance(properties.get("Definition"), dict):
        definition, display = properties["Definition"], str(template_path)
    else:
        return []  # an S3 location: not ours to read
    if not isinstance(definition, dict):
        return [Finding(display, 1, 1, RULE_UNREADABLE, "error", f"{where}the state machine definition is not a JSON object")]

    def finding(rule: str, node_path: NodePath, message: str) -> Finding:
        line, column = _position(_node_at(definition, node_path))
        return Finding(display, line, column, rule, "error", where + message)

    substitutions = properties.get("DefinitionSubstitutions")
    substitutions = substitutions if isinstance(substitutions, dict) else {}
    findings = []
    missing, unused = asl.substitution_mismatches(definition, substitutions)
    for name in missing:
        findings.append(finding(RULE_SUBSTITUTIONS, _first_use(definition, name) or [], f"placeholder ${{{name}}} has no DefinitionSubstitutions entry"))
    if unused:
        line, column = _position(substitutions)
        findings.append(Finding(str(template_path), line, column, RULE_SUBSTITUTIONS, "error",
                                f"{where}DefinitionSubstitutions entries no placeholder uses: {', '.join(sorted(unused))}"))
    resolved = _with_known_substitutions(definition, substitutions)
    check = _cfn_lint_definition_once if reuse else _cfn_lint_definition
    for node_path, message in check(logical_id, resolved, substitutions):
        findings.append(finding("E3601", node_path, message))
    for node_path, message in _transition_problems(resolved, []):
        findings.append(finding(RULE_TRANSITIONS, node_path, message))
    for rule, node_path, message in _ecs_task_problems(resolved, []):
        findings.append(finding(rule, node_path, message))
    for node_path, message in _retry_problems(resolved, []):
        findings.append(finding(RULE_RETRY, node_path, message))
    return sorted(findings, key=lambda f: (f.path, f.line, f.column, f.rule, f.message))


def _node_at(root: Any, node_path: NodePath) -> Any:
    """What to point at for `node_path`: the last object key on it (keys carry positions; values
    that are plain strings or numbers do not)."""
    node, pointed = root, root
    for step in node_path:
        if isinstance(node, dict) and step in node:
            pointed = next(key for key in node if key == step)
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            break
    return pointed


def _first_use(node: Any, name: str, node_path: NodePath = ()) -> NodePath | None:
    """The path of the first key or string that contains `${name}`."""
    needle = f"${{{name}}}"
    if isinstance(node, dict):
        for key, value in node.items():
            if needle in key:
                return [*node_path, key]
            found = _first_use(value, name, [*node_path, key])
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found = _first_use(item, name, [*node_path, index])
            if found is not None:
                return found
    elif isinstance(node, str) and needle in node:
        return list(node_path)
    return None


def _with_known_substitutions(value: Any, substitutions: dict) -> Any:
    """A plain copy with placeholders of literal or pseudo-parameter values replaced (as
    CloudFormation would); the others stay `${X}`."""
    known = {}
    for name, substitution in substitutions.items():
        if isinstance(substitution, (str, int, float)) and not isinstance(substitution, bool):
            known[name] = str(substitution)
        elif isinstance(substitution, bool):
            known[name] = "true" if substitution else "false"
        elif isinstance(substitution, dict) and list(substitution) == ["Ref"] and substitution["Ref"] in PSEUDO_PARAMETER_SAMPLES:
            known[name] = PSEUDO_PARAMETER_SAMPLES[substitution["Ref"]]

    def replace(text: str) -> str:
        return asl.PLACEHOLDER.sub(lambda match: known.get(match.group(1), match.group(0)), str(text))

    def copy(node: Any) -> Any:
        if isinstance(node, dict):
            return {replace(key): copy(item) for key, item in node.items()}
        if isinstance(node, list):
            return [copy(item) for item in node]
        if isinstance(node, str):
            return replace(node)
        return json.loads(json.dumps(node))  # plain int/float/bool/None, without cfn-lint's node classes

    return copy(value)


# --- E3601 on an inlined copy -------------------------------------------------------------------


def _cfn_lint() -> tuple[Any, Any]:
    """cfn-lint's own rules as generator.checks.cfn_setup sets them up (once per process: building them costs ~1 s)."""
    engine = rule_engine()
    return engine.config, engine.cfn_rules


def _cfn_lint_definition_once(logical_id: str, definition: dict, substitutions: dict) -> list[tuple[NodePath, str]]:
    # `definition` is a plain copy (no positions: findings get theirs from the file afterwards), so
    # its JSON text, the logical id and the substitution names are everything the check reads.
    # A state machine's definition is small; a few hundred distinct ones stay well under a megabyte.
    key = json.dumps([logical_id, definition, list(substitutions)])
    return [(list(path), message) for path, message in _cfn_lint_definition_by_key(key)]


@functools.lru_cache(maxsize=512)
def _cfn_lint_definition_by_key(key: str) -> tuple[tuple[tuple, str], ...]:
    logical_id, definition, names = json.loads(key)
    return tuple((tuple(path), message) for path, message in _cfn_lint_definition(logical_id, definition, dict.fromkeys(names, "value")))


def _cfn_lint_definition(logical_id: str, definition: dict, substitutions: dict) -> list[tuple[NodePath, str]]:
    from cfnlint.runner import run_template_by_data

    # Placeholders still in the copy are values known only at deploy; E3601 accepts a string that
    # is exactly "${X}" when X is a DefinitionSubstitutions key, so the keys go along.
    properties = {"RoleArn": LINT_ROLE_ARN, "Definition": definition}
    if substitutions:
        properties["DefinitionSubstitutions"] = {name: "value" for name in substitutions}
    template = {"AWSTemplateFormatVersion": "2010-09-09",
                "Resources": {logical_id: {"Type": "AWS::StepFunctions::StateMachine", "Properties": properties}}}
    config, rules = _cfn_lint()
    prefix = ["Resources", logical_id, "Properties", "Definition"]
    problems = []
    for match in run_template_by_data(template, config, rules):
        match_path = list(getattr(match, "path", None) or [])
        if match.rule.id == "E3601" or match_path[:len(prefix)] == prefix:
            problems.append((match_path[len(prefix):], f"{match.message} ({match.rule.id})" if match.rule.id != "E3601" else match.message))
    return problems


# --- E9602: transitions -------------------------------------------------------------------------


def _transition_problems(machine: Any, machine_path: NodePath) -> Iterator[tuple[NodePath, str]]:
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict):
        return
    edges = asl.transitions(machine)
    for name, targets in edges.items():
        state = states[name]
        for key, target in _named_targets(state):
            if target not in states:
                yield [*machine_path, "States", name, *key], f"state {name!r} goes to {target!r}, which is not a state{did_you_mean(target, states)}"
    reached, pending = set(), [machine.get("StartAt")]
    while pending:
        name = pending.pop()
        if name in states and name not in reached:
            reached.add(name)
            pending.extend(edges.get(name, []))
    if machine.get("StartAt") in states:
        for name in states:
            if name not in reached:
                yield [*machine_path, "States", name], f"state {name!r} is not reachable from StartAt {machine.get('StartAt')!r}"
    for name, state in states.items():  # branches of Parallel and Map states are state machines too
        if isinstance(state, dict):
            for index, branch in enumerate(state.get("Branches") or []):
                yield from _transition_problems(branch, [*machine_path, "States", name, "Branches", index])
            for key in ("ItemProcessor", "Iterator"):
                yield from _transition_problems(state.get(key), [*machine_path, "States", name, key])


def _named_targets(state: Any) -> Iterator[tuple[NodePath, str]]:
    if not isinstance(state, dict):
        return
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            yield [key], state[key]
    for key in ("Catch", "Choices"):
        for index, item in enumerate(state.get(key) or []):
            if isinstance(item, dict) and isinstance(item.get("Next"), str):
                yield [key, index, "Next"], item["Next"]


# --- E9603: ECS RunTask parameters -----------------------------------------------------------------


@functools.cache
def _run_task_input_shape() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecs").operation_model("RunTask").input_shape


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _states_with_paths(machine: Any, machine_path: NodePath) -> Iterator[tuple[str, dict, NodePath]]:
    """Every state of a state machine, and of its Parallel branches and Map processors, with its path."""
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        state_path = [*machine_path, "States", name]
        yield name, state, state_path
        for index, branch in enumerate(state.get("Branches") or []):
            yield from _states_with_paths(branch, [*state_path, "Branches", index])
        for key in ("ItemProcessor", "Iterator"):
            yield from _states_with_paths(state.get(key), [*state_path, key])


def _ecs_task_problems(machine: Any, machine_path: NodePath) -> Iterator[tuple[str, NodePath, str]]:
    """(rule, path, message): E9604 for an ECS resource that is no ECS integration, E9603 for the
    Parameters of a RunTask state."""
    for name, state, state_path in _states_with_paths(machine, machine_path):
        resource = state.get("Resource")
        if state.get("Type") != "Task" or not isinstance(resource, str):
            continue
        ecs = asl.ECS_RESOURCE.match(resource)
        if ecs and ecs.group("integration") not in asl.ECS_INTEGRATIONS:
            integration = ecs.group("integration")
            yield RULE_ECS_RESOURCE, [*state_path, "Resource"], (
                f"state {name!r}: Resource {resource!r}: ecs:{integration} is not a Step Functions ECS integration"
                f"{did_you_mean(integration, asl.ECS_INTEGRATIONS)}; allowed: "
                + ", ".join(f"arn:<partition>:states:::ecs:{allowed}" for allowed in asl.ECS_INTEGRATIONS))
        elif asl.RUN_TASK_RESOURCE.match(resource):
            if "Parameters" not in state:
                yield RULE_ECS_PARAMETERS, state_path, "an ecs:runTask state needs Parameters (TaskDefinition is required)"
            else:
                for node_path, message in _check_value(state["Parameters"], _run_task_input_shape(), [*state_path, "Parameters"], "Parameters"):
                    yield RULE_ECS_PARAMETERS, node_path, message


# --- E9605: retriers ----------------------------------------------------------------------------

# What the Amazon States Language allows in a retrier, beyond the types E3601 checks: IntervalSeconds
# a positive integer (at most 99999999), MaxAttempts a non-negative integer (at most 99999999),
# BackoffRate a number >= 1.0, MaxDelaySeconds a positive integer below 31622401, JitterStrategy
# FULL or NONE. https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
RETRIER_WHOLE_NUMBERS = {"IntervalSeconds": (1, 99_999_999), "MaxAttempts": (0, 99_999_999), "MaxDelaySeconds": (1, 31_622_400)}
MIN_BACKOFF_RATE = 1.0
JITTER_STRATEGIES = ("FULL", "NONE")


def _retry_problems(machine: Any, machine_path: NodePath) -> Iterator[tuple[NodePath, str]]:
    for name, state, state_path in _states_with_paths(machine, machine_path):
        retry = state.get("Retry")
        for index, retrier in enumerate(retry if isinstance(retry, list) else []):
            if isinstance(retrier, dict):
                for key, message in _retrier_problems(retrier):
                    yield [*state_path, "Retry", index, key], f"state {name!r}: Retry[{index}].{key} {message}"


def _retrier_problems(retrier: dict) -> Iterator[tuple[str, str]]:
    for key, (low, high) in RETRIER_WHOLE_NUMBERS.items():
        if key in retrier:
            value = retrier[key]
            if isinstance(value, bool) or not isinstance(value, int):
                yield key, f"must be a whole number, not {json.dumps(value)}; allowed: {low} to {high}"
            elif not low <= value <= high:
                yield key, f"is {value}; allowed: {low} to {high}"
    if "BackoffRate" in retrier:
        value = retrier["BackoffRate"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield "BackoffRate", f"must be a number, not {json.dumps(value)}; allowed: {MIN_BACKOFF_RATE} or more"
        elif not value >= MIN_BACKOFF_RATE:
            yield "BackoffRate", f"is {value}; allowed: {MIN_BACKOFF_RATE} or more (the interval may not shrink)"
    if "JitterStrategy" in retrier and retrier["JitterStrategy"] not in JITTER_STRATEGIES:
        value = retrier["JitterStrategy"]
        hint = did_you_mean(value, JITTER_STRATEGIES) if isinstance(value, str) else ""
        yield "JitterStrategy", f"is {json.dumps(value)}{hint}; allowed: {', '.join(JITTER_STRATEGIES)}"


def _check_value(value: Any, shape: Any, node_path: NodePath, label: str) -> Iterator[tuple[NodePath, str]]:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            yield node_path, f"{label} must be an object (RunTask {shape.name})"
            return
        members = {_pascal(member): (member, member_shape) for member, member_shape in shape.members.items()}
        given = set()
        for key, item in value.items():
            dynamic = key.endswith(".$")
            name = key[:-2] if dynamic else key
            given.add(name)
            if name not in members:
                yield [*node_path, key], f"{label}: {name!r} is not a RunTask {shape.name} member{did_you_mean(name, members)}; allowed: {', '.join(sorted(members))}"
            elif dynamic:
                if not isinstance(item, str):
                    yield [*node_path, key], f"{label}.{key} must be a JsonPath or intrinsic function string"
            else:
                yield from _check_value(item, members[name][1], [*node_path, key], f"{label}.{name}")
        for member in shape.required_members:
            if _pascal(member) not in given:
                yield node_path, f"{label}: the required member {_pascal(member)!r} is missing"
    elif kind == "list":
        if not isinstance(value, list):
            yield node_path, f"{label} must be a list"
            return
        for index, item in enumerate(value):
            yield from _check_value(item, shape.member, [*node_path, index], f"{label}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            yield node_path, f"{label} must be an object"
    elif kind == "string":
        if not isinstance(value, str):
            yield node_path, f"{label} must be a string, not {json.dumps(value)}"
        elif shape.enum and value not in shape.enum and not asl.PLACEHOLDER.search(value):
            yield node_path, f"{label}: {value!r} is not allowed{did_you_mean(value, shape.enum)}; allowed: {', '.join(shape.enum)}"
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            yield node_path, f"{label} must be a whole number, not {json.dumps(value)}"
        else:
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            if (low is not None and value < low) or (high is not None and value > high):
                yield node_path, f"{label}: {value} is out of range ({low} to {high})"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield node_path, f"{label} must be true or false, not {json.dumps(value)}"
