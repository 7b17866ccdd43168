"""`summary`: what a pull request changes in the deployed jobs, in Markdown for its reviewer.

Two snapshots are compared, read the same way: the base (the rendered output committed at a git
REF: each `<out>/<stack>/` folder and the generator's samconfig.toml sections) and the head (what
the current manifest renders, which `check` guarantees is what is committed). The base is read
from the committed output rather than by rendering the manifest at REF with today's code: that
output is what was reviewed and deployed, and a change of the generator itself shows up too.

Per changed stack: one sentence of what the job does now and did before, schedule changes with
the next runs, trigger (event pattern, state) changes, resources added / removed / replaced /
modified, every IAM change (broadenings first, generator/review/iam_changes.py) and parameter
changes per environment. Deterministic: the only input outside the repository is the instant
the next runs are counted from (`now`), which the text states.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from generator.core.errors import UserError
from generator.review import describe
from generator.review.iam_changes import Change, markdown_lines, template_changes

TEMPLATE_FILE, README_FILE = "template.yaml", "README.md"
NO_BASE = ("", "0" * 40)  # GitHub's `before` of a first push: nothing was deployed
NEXT_RUNS = 3
ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(frozen=True)
class StackState:
    """One stack as a snapshot has it: template as data, the other files of its folder (README
    excluded: it is derived from the rest) and its samconfig sections per environment."""

    template: dict | None
    files: dict[str, str]
    sections: dict[str, dict]


@dataclass(frozen=True)
class Snapshot:
    label: str
    stacks: dict[str, StackState]


# --- reading the two snapshots ------------------------------------------------------------

def head_snapshot(render_plan) -> Snapshot:
    """What the manifest renders now (the in-memory render plan)."""
    sections = _sections_by_stack(render_plan.samconfig_text, render_plan)
    stacks = {}
    for stack in render_plan.stacks:
        prefix = f"{stack.spec.name}/"
        files = {rel[len(prefix):]: text for rel, text in stack.files.items()
                 if rel.startswith(prefix) and rel[len(prefix):] not in (TEMPLATE_FILE, README_FILE)}
        stacks[stack.spec.name] = StackState(stack.template, files, sections.get(stack.spec.name, {}))
    return Snapshot("the working tree", stacks)


def base_snapshot(ref: str, render_plan, *, cwd: Path) -> Snapshot:
    """The rendered output committed at git `ref` ("" or forty zeros: nothing)."""
    if ref in NO_BASE:
        return Snapshot("nothing (first deployment)", {})
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd=cwd, what="--base needs a git repository").strip())
    commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=cwd, what=f"--base {ref!r}",
                  missing=f"--base {ref!r} is not a commit of this repository (a branch, tag or commit id; "
                          "a shallow clone may not have it: fetch the history, e.g. actions/checkout with fetch-depth: 0)").strip()
    out_rel = _inside(render_plan.out_dir, top, "--out")
    samconfig_rel = _inside(render_plan.samconfig_path, top, "--samconfig")
    listed = _git(["ls-tree", "-r", "-z", "--name-only", commit, "--", out_rel, samconfig_rel], cwd=top, what=f"git ls-tree {ref}")
    paths = [p for p in listed.split("\0") if p]
    blobs = _read_blobs(commit, paths, cwd=top)
    by_stack: dict[str, dict[str, str]] = {}
    for path, text in blobs.items():
        if path == samconfig_rel:
            continue
        parts = Path(path).relative_to(out_rel).parts
        if len(parts) >= 2:
            by_stack.setdefault(parts[0], {})["/".join(parts[1:])] = text
    sections = _sections_by_stack(blobs.get(samconfig_rel), render_plan)
    stacks = {}
    for name, files in sorted(by_stack.items()):
        if TEMPLATE_FILE not in files:
            continue
        template = _load_template(files.pop(TEMPLATE_FILE), f"{ref}:{out_rel}/{name}/{TEMPLATE_FILE}")
        files.pop(README_FILE, None)
        stacks[name] = StackState(template, files, sections.get(name, {}))
    return Snapshot(f"`{ref}` ({commit[:12]})", stacks)


def _git(args: list[str], *, cwd: Path, what: str, missing: str | None = None) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise UserError(f"{what}: git is not installed (or not on PATH)") from None
    if result.returncode != 0:
        if missing and not result.stderr.strip():
            raise UserError(missing)
        first = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[0]
        raise UserError(f"{what}: {first.removeprefix('fatal: ')}")
    return result.stdout


def _inside(path: Path, top: Path, option: str) -> str:
    relative = os.path.relpath(path.resolve(), top.resolve())
    if relative == ".." or relative.startswith(".." + os.sep):
        raise UserError(f"{path} is outside the git repository {top}; --base compares files of the repository", field=option)
    return Path(relative).as_posix()


def _read_blobs(commit: str, paths: list[str], *, cwd: Path) -> dict[str, str]:
    """Many files of one commit through one `git cat-file --batch` (a process per file is slow)."""
    if not paths:
        return {}
    request = "".join(f"{commit}:{path}\n" for path in paths).encode("utf-8")
    result = subprocess.run(["git", "cat-file", "--batch"], cwd=cwd, input=request, capture_output=True)
    if result.returncode != 0:
        raise UserError(f"git cat-file: {result.stderr.decode('utf-8', 'replace').strip().splitlines()[0] if result.stderr else 'failed'}")
    data, blobs, position = result.stdout, {}, 0
    for path in paths:
        end = data.index(b"\n", position)
        header = data[position:end].split()
        if len(header) != 3:  # "<name> missing"
            position = end + 1
            continue
        size = int(header[2])
        blobs[path] = data[end + 1:end + 1 + size].decode("utf-8", errors="replace")
        position = end + 1 + size + 1
    return blobs


def _load_template(text: str, where: str) -> dict:
    from cfnlint.decode.cfn_yaml import loads  # the loader that reads the short-form tags

    try:
        return json.loads(json.dumps(loads(text)))
    except Exception as error:  # a template that does not parse at REF: say where, in one line
        raise UserError(f"{where}: cannot be read as a template ({str(error).splitlines()[0]})") from None


def _sections_by_stack(samconfig_text: str | None, render_plan) -> dict[str, dict[str, dict]]:
    """stack → environment → {"parameters": {…}, "region": …, "tags": …, "capabilities": …}."""
    from generator.core.render import _section_stack
    from generator.core.samconfig import generated_sections

    found: dict[str, dict[str, dict]] = {}
    for config_env, values in generated_sections(samconfig_text, path=str(render_plan.samconfig_path)).items():
        stack = _section_stack(values, render_plan.out_dir, render_plan.samconfig_path)
        if stack is None or not config_env.startswith(f"{stack}-"):
            continue
        environment = config_env[len(stack) + 1:]
        found.setdefault(stack, {})[environment] = {
            "parameters": _overrides(values.get("parameter_overrides", "")),
            "region": values.get("region"),
            "tags": _overrides(values.get("tags", "")),
            "capabilities": values.get("capabilities", ""),
        }
    return found


def _overrides(text: str) -> dict[str, str]:
    """`Key="value" …` as sam deploy splits it (shell words, then the first `=`)."""
    pairs = {}
    for word in shlex.split(text or ""):
        key, _, value = word.partition("=")
        pairs[key] = value
    return pairs


# --- comparing them -----------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleChange:
    name: str
    before: str | None       # "cron(…) in Zone", None: no such schedule before
    now: str | None
    runs: tuple = ()         # the next runs of the new schedule: ((utc, local), …)
    timezone: str = "UTC"


@dataclass(frozen=True)
class TriggerChange:
    name: str
    before: str | None
    now: str | None


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    type: str
    change: str              # added, removed, replaced, modified
    detail: str = ""


@dataclass(frozen=True)
class ParameterChange:
    environment: str
    name: str
    before: str | None
    now: str | None


@dataclass
class StackSummary:
    name: str
    status: str              # ADDED, REMOVED, CHANGED
    blueprint: str
    now: str                 # what the job does, one sentence ("" when removed)
    before: str              # "" when added
    schedules: list[ScheduleChange] = field(default_factory=list)
    triggers: list[TriggerChange] = field(default_factory=list)
    resources: list[ResourceChange] = field(default_factory=list)
    iam: list[Change] = field(default_factory=list)
    parameters: list[ParameterChange] = field(default_factory=list)
    environments: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # other files of the folder that changed (ASL, function code)


def compare(base: Snapshot, head: Snapshot, *, now: dt.datetime, order: list[str]) -> list[StackSummary]:
    """A summary per stack that differs, in manifest order (`order`), removed stacks last."""
    names = [n for n in order if n in head.stacks] + sorted(n for n in base.stacks if n not in head.stacks)
    summaries = []
    for name in names:
        old, new = base.stacks.get(name), head.stacks.get(name)
        if old is not None and new is not None and old == new:
            continue
        summaries.append(_stack_summary(name, old, new, now=now))
    return summaries


def changed_in(summaries: list[StackSummary], environment: str, base: Snapshot, head: Snapshot) -> list[str]:
    """Stacks (added or changed, not removed) whose deployment to `environment` would change."""
    names = []
    for summary in summaries:
        if summary.status == REMOVED:
            continue
        new = head.stacks[summary.name]
        if environment not in new.sections:
            continue
        old = base.stacks.get(summary.name)
        if old is None or old.template != new.template or old.files != new.files or old.sections.get(environment) != new.sections[environment]:
            names.append(summary.name)
    return names


def _stack_summary(name: str, old: StackState | None, new: StackState | None, *, now: dt.datetime) -> StackSummary:
    status = ADDED if old is None else REMOVED if new is None else CHANGED
    old_template = old.template if old else None
    new_template = new.template if new else None
    blueprint = _blueprint(new_template) or _blueprint(old_template) or "?"
    summary = StackSummary(
        name, status, blueprint,
        now=job_sentence(new_template) if new_template else "",
        before=job_sentence(old_template) if old_template else "",
        environments=tuple(new.sections if new else old.sections),
    )
    summary.schedules = _schedule_changes(old_template or {}, new_template or {}, now=now)
    summary.triggers = _trigger_changes(old_template or {}, new_template or {})
    summary.resources = resource_changes(old_template or {}, new_template or {})
    summary.iam = template_changes(old_template, new_template)
    summary.parameters = _parameter_changes(old.sections if old else {}, new.sections if new else {})
    old_files, new_files = (old.files if old else {}), (new.files if new else {})
    summary.files = tuple(sorted(p for p in set(old_files) | set(new_files) if old_files.get(p) != new_files.get(p)))
    return summary


def _blueprint(template: dict | None) -> str | None:
    return ((template or {}).get("Metadata") or {}).get("Generator", {}).get("Blueprint")


def _schedule_changes(old: dict, new: dict, *, now: dt.datetime) -> list[ScheduleChange]:
    def by_name(template):
        return {s["name"]: s for s in describe.schedules(template)}

    before, after = by_name(old), by_name(new)
    changes = []
    for name in [*after, *(n for n in before if n not in after)]:
        b, a = before.get(name), after.get(name)
        words = [None if s is None else f"`{s['expression']}` in {s['timezone']}{_disabled(new if s is a else old, name)}" for s in (b, a)]
        if words[0] == words[1]:
            continue
        runs = describe.run_times(a["expression"], a["timezone"], count=NEXT_RUNS, after=now) if a and not _disabled(new, name) else ()
        changes.append(ScheduleChange(name, words[0], words[1], tuple(runs), a["timezone"] if a else "UTC"))
    return changes


def _disabled(template: dict, logical_id: str) -> str:
    props = template.get("Resources", {}).get(logical_id, {}).get("Properties", {})
    return " (disabled)" if props.get("State") == "DISABLED" else ""


def _trigger_changes(old: dict, new: dict) -> list[TriggerChange]:
    """Event rules whose pattern or state changed (schedules are reported above)."""
    def patterns(template):
        found = {}
        for logical_id, resource in template.get("Resources", {}).items():
            props = resource.get("Properties", {})
            if resource.get("Type") == "AWS::Events::Rule" and "EventPattern" in props:
                found[logical_id] = json.dumps(_readable(props["EventPattern"]), sort_keys=True, separators=(",", ":")) + _disabled(template, logical_id)
        return found

    before, after = patterns(old), patterns(new)
    return [TriggerChange(name, before.get(name), after.get(name))
            for name in [*after, *(n for n in before if n not in after)] if before.get(name) != after.get(name)]


def resource_changes(old: dict, new: dict) -> list[ResourceChange]:
    """Resources added, removed, replaced (a property CloudFormation cannot change in place changed,
    or the type) and modified, by logical id."""
    before, after = old.get("Resources", {}), new.get("Resources", {})
    changes = []
    for logical_id, resource in after.items():
        kind = resource.get("Type", "?")
        if logical_id not in before:
            changes.append(ResourceChange(logical_id, kind, "added"))
            continue
        previous = before[logical_id]
        if previous == resource:
            continue
        if previous.get("Type") != kind:
            changes.append(ResourceChange(logical_id, kind, "replaced", f"type was {previous.get('Type')}"))
            continue
        old_props, new_props = previous.get("Properties") or {}, resource.get("Properties") or {}
        changed = sorted(k for k in set(old_props) | set(new_props) if old_props.get(k) != new_props.get(k))
        other = sorted(k for k in set(previous) | set(resource) if k != "Properties" and previous.get(k) != resource.get(k))
        replacing = create_only_changes(kind, old_props, new_props)
        if replacing:
            changes.append(ResourceChange(logical_id, kind, "replaced",
                                          f"{', '.join(f'`{p}`' for p in replacing)} cannot change in place"))
        else:
            what = [f"`{k}`" for k in changed] + [f"`{k}` (not a property)" for k in other]
            note = " (a SAM resource: its transform decides what CloudFormation replaces)" if kind.startswith("AWS::Serverless::") else ""
            changes.append(ResourceChange(logical_id, kind, "modified", ", ".join(what) + note))
    changes += [ResourceChange(logical_id, resource.get("Type", "?"), "removed") for logical_id, resource in before.items() if logical_id not in after]
    order = {"replaced": 0, "removed": 1, "added": 2, "modified": 3}
    return sorted(changes, key=lambda c: (order[c.change], c.logical_id))


def create_only_changes(kind: str, old_props: dict, new_props: dict) -> list[str]:
    """The changed properties that CloudFormation can only set when it creates the resource (the
    resource type schema's createOnlyProperties), so changing them replaces the resource:
    https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html
    (cfn-lint ships the registry schemas; SAM resource types have none)."""
    paths = _create_only_paths(kind)
    changed = []
    for path in paths:
        if _at(old_props, path) != _at(new_props, path):
            changed.append("/".join(path))
    return changed


def _create_only_paths(kind: str) -> list[tuple[str, ...]]:
    if kind.startswith("AWS::Serverless::"):
        return []
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
    except Exception:  # an unknown type: nothing is known to force a replacement
        return []
    paths = []
    for pointer in schema.get("createOnlyProperties", []):
        parts = pointer.split("/")[2:]  # "/properties/A/B" → ("A", "B")
        if parts:
            paths.append(tuple(parts[: parts.index("*")] if "*" in parts else parts))
    return paths


def _at(value, path: tuple[str, ...]):
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _parameter_changes(old: dict[str, dict], new: dict[str, dict]) -> list[ParameterChange]:
    changes = []
    for environment in [*new, *(e for e in old if e not in new)]:
        b, a = old.get(environment, {}), new.get(environment, {})
        for key in ("region", "capabilities"):
            if b.get(key) != a.get(key):
                changes.append(ParameterChange(environment, f"({key})", b.get(key) or None, a.get(key) or None))
        for kind in ("parameters", "tags"):
            bv, av = b.get(kind, {}), a.get(kind, {})
            for name in [*av, *(n for n in bv if n not in av)]:
                if bv.get(name) != av.get(name):
                    label = name if kind == "parameters" else f"(tag) {name}"
                    changes.append(ParameterChange(environment, label, bv.get(name), av.get(name)))
    return changes


# --- what the job does, in one sentence ---------------------------------------------------

def job_sentence(template: dict) -> str:
    """What the stack does, from its template: its trigger and what the trigger starts."""
    resources = template.get("Resources", {})
    sentences = []
    for logical_id, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::Scheduler::Schedule":
            target = _target_words(props.get("Target", {}), resources)
            zone = props.get("ScheduleExpressionTimezone", "UTC")
            sentences.append(f"{target} on `{props.get('ScheduleExpression')}` ({zone}){_disabled(template, logical_id)}")
        elif kind == "AWS::Events::Rule":
            targets = [t for t in props.get("Targets", []) if not _is_alert_target(t, resources)]
            if not targets:
                continue  # the failure alert: not what the job does
            what = " and ".join(_target_words(t, resources) for t in targets)
            if "ScheduleExpression" in props:
                when = f"on `{props['ScheduleExpression']}` (UTC)"
            else:
                when = "when " + _pattern_words(props.get("EventPattern", {}))
            sentences.append(f"{what} {when}{_disabled(template, logical_id)}")
    for logical_id, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind not in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            continue
        events = list((props.get("Events") or {}).values()) if kind == "AWS::Serverless::StateMachine" else []
        sentences += [f"starts state machine `{logical_id}` {_sam_event_words(event)}" for event in events]
        if not events and not any(f"`{logical_id}`" in s for s in sentences):
            sentences.append(f"Step Functions state machine `{logical_id}` runs when an execution is started (nothing here starts it)")
    if not sentences:
        counts: dict[str, int] = {}
        for resource in resources.values():
            counts[resource.get("Type", "?")] = counts.get(resource.get("Type", "?"), 0) + 1
        return "Creates " + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + " (no trigger)." if counts else "Creates nothing."
    text = "; ".join(sentences)
    return text[0].upper() + text[1:] + "."


def _is_alert_target(target: dict, resources: dict) -> bool:
    arn = target.get("Arn")
    referenced = arn.get("Ref") if isinstance(arn, dict) else None
    return bool(referenced) and resources.get(referenced, {}).get("Type") == "AWS::SNS::Topic"


def _target_words(target: dict, resources: dict) -> str:
    if "EcsParameters" in target:
        ecs = target["EcsParameters"]
        family = describe.expression(ecs.get("TaskDefinitionArn")).rsplit("task-definition/", 1)[-1]
        return f"runs ECS task family `{family}` in cluster `{describe.expression(target.get('Arn'))}`"
    arn = target.get("Arn")
    logical_id = None
    if isinstance(arn, dict):
        logical_id = arn.get("Ref") or (arn.get("Fn::GetAtt") or [None])[0]
    kind = resources.get(logical_id, {}).get("Type", "") if logical_id else ""
    if "StateMachine" in kind:
        return f"starts state machine `{logical_id}`"
    if "Function" in kind:
        return f"invokes Lambda function `{logical_id}`"
    return f"sends to `{describe.expression(arn)}`"


def _pattern_words(pattern: dict) -> str:
    detail_type = " or ".join(f"`{d}`" for d in _listed(pattern.get("detail-type", []))) or "an event"
    source = " or ".join(f"`{s}`" for s in _listed(pattern.get("source", [])))
    words = f"{detail_type} arrives from {source}" if source else f"{detail_type} arrives"
    detail = pattern.get("detail")
    if isinstance(detail, dict) and detail:
        words += f" matching `{json.dumps(_readable(detail), sort_keys=True, separators=(',', ':'))}`"
    return words


def _readable(value):
    """Intrinsic functions inside data (an event pattern) as reviewers read them: {"Ref": "X"} → "${X}"."""
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            return describe.expression(value)
        return {k: _readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


def _sam_event_words(event: dict) -> str:
    props = event.get("Properties", {})
    if event.get("Type") in ("Schedule", "ScheduleV2"):
        return f"on `{props.get('Schedule') or props.get('ScheduleExpression')}` ({props.get('ScheduleExpressionTimezone', 'UTC')})"
    if "Pattern" in props:
        return "when " + _pattern_words(props["Pattern"])
    return f"on a `{event.get('Type')}` event"


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


# --- Markdown -------------------------------------------------------------------------------

def markdown(summaries: list[StackSummary], *, base: Snapshot, now: dt.datetime, stale: bool = False) -> str:
    lines = [f"## Stack changes against {base.label}", ""]
    if stale:
        lines += ["> **The rendered output on disk is stale** (`python -m generator check` fails): this summary is what "
                  "the manifest renders, not what is committed. Run `python -m generator render` and commit.", ""]
    if not summaries:
        return "\n".join(lines + ["No stack changes: every rendered template and samconfig.toml section is as at the base.", ""])
    counts = {status: sum(s.status == status for s in summaries) for status in (ADDED, CHANGED, REMOVED)}
    broadenings = sum(bool(c.broadening) for s in summaries for c in s.iam)
    lines.append(", ".join(f"{n} {status}" for status, n in counts.items() if n)
                 + (f"; **{broadenings} IAM broadening{'s' if broadenings != 1 else ''}**" if broadenings else "; no IAM broadening") + ".")
    lines += ["", "| stack | change | blueprint | environments | IAM broadenings |", "| --- | --- | --- | --- | --- |"]
    for s in summaries:
        lines.append(_row(f"`{s.name}`", s.status, s.blueprint, ", ".join(s.environments), str(sum(bool(c.broadening) for c in s.iam))))
    for s in summaries:
        lines += ["", f"### `{s.name}` ({s.status})", ""]
        if s.status == REMOVED:
            lines.append(f"**Was:** {s.before} Removing it from the manifest does not delete the deployed stacks "
                         f"({', '.join(f'`{s.name}-{e}`' for e in s.environments)}): delete them yourself.")
        elif s.status == ADDED:
            lines.append(f"**New:** {s.now}")
        elif s.now == s.before:
            lines.append(f"**Does (unchanged):** {s.now}")
        else:
            lines += [f"**Now:** {s.now}", "", f"**Before:** {s.before}"]
        if _deployed_by_an_administrator(s.blueprint) and s.status != REMOVED:
            lines += ["", "**Bootstrap stack:** the pipeline never deploys it. An administrator deploys it "
                          f"(`python -m generator deploy {s.name} --env <env>`) before the stacks it newly covers are deployed."]
        if s.schedules:
            lines += ["", f"Schedules (next {NEXT_RUNS} runs after {now:%Y-%m-%d %H:%M} UTC):", "",
                      "| schedule | before | now | next runs (UTC → local) |", "| --- | --- | --- | --- |"]
            for c in s.schedules:
                runs = "<br>".join(f"{utc:%Y-%m-%d %H:%M %a} → {local:%Y-%m-%d %H:%M %a}" for utc, local in c.runs) or "–"
                lines.append(_row(f"`{c.name}`", c.before or "–", c.now or "removed", runs))
        if s.triggers:
            lines += ["", "Event patterns:", "", "| rule | before | now |", "| --- | --- | --- |"]
            for c in s.triggers:
                lines.append(_row(f"`{c.name}`", f"`{c.before}`" if c.before else "–", f"`{c.now}`" if c.now else "removed"))
        if s.resources:
            lines += ["", "Resources:", "", "| resource | type | change | detail |", "| --- | --- | --- | --- |"]
            for c in s.resources:
                change = f"**{c.change}**" if c.change in ("replaced", "removed") else c.change
                lines.append(_row(f"`{c.logical_id}`", f"`{c.type}`", change, c.detail))
        if s.files:
            lines += ["", "Other files changed: " + ", ".join(f"`{f}`" for f in s.files) + "."]
        if s.iam:
            lines += ["", "IAM (broadenings first; + added, - removed):", "", *markdown_lines(s.iam)]
        if s.parameters:
            lines += ["", "Parameters per environment:", "", "| environment | parameter | before | now |", "| --- | --- | --- | --- |"]
            for c in s.parameters:
                lines.append(_row(c.environment, f"`{c.name}`", f"`{c.before}`" if c.before is not None else "–",
                                  f"`{c.now}`" if c.now is not None else "removed"))
    return "\n".join(lines) + "\n"


def _codes(items) -> str:
    return "<br>".join(f"`{item}`" for item in items) or "–"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cell.replace("\n", " ").replace("|", "\\|") or " " for cell in cells) + " |"


def _deployed_by_an_administrator(blueprint: str) -> bool:
    """A stack of a blueprint that holds the pipeline's deploy roles (PIPELINE_DEPLOY_ROLES): the
    pipeline never deploys it. A blueprint that cannot be found (since removed) is not one."""
    from generator.core.contract import PIPELINE_DEPLOY_ROLES
    from generator.core.registry import find

    try:
        return PIPELINE_DEPLOY_ROLES in find(blueprint).provides
    except UserError:
        return False
