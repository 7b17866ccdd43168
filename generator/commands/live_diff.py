"""`diff --live --env ENV [STACK…]`: what a deploy would do to each live stack, read from a
CloudFormation change set that is created, described and deleted, never executed.

- A stack that does not exist yet gets no change set: a CREATE change set would leave an empty
  stack in REVIEW_IN_PROGRESS behind after its deletion (the AWS CDK had to delete that stack too:
  https://github.com/aws/aws-cdk-cli/pull/1534). Its resources are counted from the template
  instead (SAM templates translated locally with aws-sam-translator).
- An existing stack gets an UPDATE change set with the template as `sam deploy` would submit it
  (SAM templates keep their Transform: CloudFormation expands it in the change set): local
  artifacts whose content the live stack already uses keep their live S3 location; a changed
  state machine definition is sent inline (`Definition`); a changed function folder is zipped to
  a temporary key beside the live one and deleted afterwards. We do not run `sam deploy
  --no-execute-changeset`: it would need the SAM CLI for a read-only preview, upload to the
  artifact bucket under keys the next deploy reuses, and leave a REVIEW_IN_PROGRESS stack behind
  for a stack that does not exist.
- The change set is always deleted (finally), also when it failed or the command is interrupted.
  When CreateChangeSet gave no answer (a timeout, whose retry then finds the name taken), the
  change set is looked up by its name (DescribeChangeSet) and deleted if it exists. DeleteChangeSet
  refuses a change set still being created (InvalidChangeSetStatus, "the change set status might be
  CREATE_IN_PROGRESS": https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteChangeSet.html),
  so the clean-up waits for its creation to end (up to CLEANUP_WAIT_SECONDS) and deletes it then.
  A change set that fails because nothing changed says so in its StatusReason: "The submitted
  information didn't contain changes…" or "No updates are to be performed." (both seen from
  CloudFormation: https://github.com/ansible-collections/amazon.aws/pull/507); any other failure
  is an error (exit 2).
- Resource changes list Replacement True first, then Conditional (ResourceChange.Replacement:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html),
  then parameters whose value changes, then the IAM table (broadenings first).

Exit status as Copilot's `--diff`: 0 no changes, 1 changes, 2 error.
"""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass, field

from generator.commands.aws_session import Aws, AwsTarget, aws_errors, error_code, one_line
from generator.commands.live import (DesiredStack, LiveResolver, Packaged, exports, packaged, parameter_changes,
                                     physical_ids, pseudo_parameters, read_stack, read_template, resources_created, s3_location)
from generator.commands.plan import environment_plan
from generator.core.errors import UserError
from generator.review import iam_changes as iam

# DescribeChangeSet is polled until the change set leaves CREATE_PENDING/CREATE_IN_PROGRESS.
POLL_SECONDS = 2.0
CHANGE_SET_TIMEOUT_SECONDS = 600
CLEANUP_WAIT_SECONDS = 120
PENDING = ("CREATE_PENDING", "CREATE_IN_PROGRESS")
MAX_TEMPLATE_BODY = 51_200  # bytes: CreateChangeSet's TemplateBody limit (larger needs TemplateURL)
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# Stack states in which CloudFormation accepts an UPDATE change set.
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
REPLACEMENT_ORDER = {"True": 0, "Conditional": 1}


@dataclass
class Preview:
    stack: str
    stack_name: str
    deployed: bool
    resource_changes: list[dict] = field(default_factory=list)
    parameter_changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    iam_changes: list[iam.Change] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)   # a new stack's resources
    other_changes: bool = False   # the template changes outside resources (outputs, metadata, description)

    @property
    def changed(self) -> bool:
        return not self.deployed or bool(self.resource_changes or self.parameter_changes or self.other_changes)

    @property
    def broadenings(self) -> int:
        return sum(1 for change in self.iam_changes if change.broadening)


def run(args) -> int:
    from generator.core.manifest import load_manifest
    from generator.core.render import diff, plan

    specs = load_manifest(args.manifest)
    stacks = environment_plan(specs, args.env, args.stacks or None)
    render_plan = plan(specs, only=[s.name for s in stacks], manifest_path=args.manifest, out_dir=args.out, samconfig_path=args.samconfig)
    rendered = {stack.spec.name: stack for stack in render_plan.stacks}
    if diff(render_plan):
        print("note: the rendered output on disk is stale; this previews the render in memory, which `deploy` deploys once you render")
    sessions: dict[str | None, Aws] = {}
    previews = []
    for planned in stacks:
        aws = sessions.get(planned.region) or sessions.setdefault(
            planned.region, Aws(AwsTarget(planned.region, args.endpoint_url, args.profile), stack=planned.name))
        preview = preview_stack(aws, DesiredStack(planned, rendered[planned.name]))
        previews.append(preview)
        sys.stdout.write("".join(line + "\n" for line in preview_lines(preview)))
        sys.stdout.flush()
    changed = [p.stack for p in previews if p.changed]
    # (each stack's broadenings head its own output, as `cdk diff` heads each stack with its security
    # changes; the last line names them all again for whoever reads only the end of a CI log)
    broadening = [p.stack for p in previews if p.deployed and p.broadenings]
    print(f"diff --live: {len(changed)} of {len(previews)} stack(s) would change" + (f" ({', '.join(changed)})" if changed else "")
          + (f"; IAM broadenings in {', '.join(broadening)}" if broadening else ""))
    return 1 if changed else 0


def preview_stack(aws: Aws, desired: DesiredStack) -> Preview:
    planned = desired.planned
    live = read_stack(aws, planned.stack_name, stack=planned.name)
    if live is None:
        created = resources_created(desired.template, desired.values, aws.region, "<AWS::AccountId>", planned.stack_name)
        after = iam.grants(desired.template)
        return Preview(planned.name, planned.stack_name, False, created=created, iam_changes=iam.iam_changes(set(), after))
    if live.status not in UPDATABLE:
        raise UserError(f"stack {planned.stack_name} is {live.status}" + (f" ({one_line(live.status_reason)})" if live.status_reason else "")
                        + f"; a change set can be made only in {', '.join(sorted(UPDATABLE))}", stack=planned.name)
    live_template = read_template(aws, planned.stack_name, stack=planned.name)
    package = packaged(desired, live_template, aws)
    preview = Preview(planned.name, planned.stack_name, True, parameter_changes=parameter_changes(desired, live))
    with change_set(aws, desired, package) as described:
        preview.resource_changes = sorted(
            (change["ResourceChange"] for change in described["Changes"] if change.get("Type", "Resource") == "Resource"),
            key=lambda c: (REPLACEMENT_ORDER.get(c.get("Replacement"), 2), c.get("Action", ""), c.get("LogicalResourceId", "")))
        preview.other_changes = described["Status"] == "CREATE_COMPLETE" and not preview.resource_changes and not preview.parameter_changes
    ids = physical_ids(aws, planned.stack_name, stack=planned.name)
    exported = exports(aws, stack=planned.name)
    pseudo = pseudo_parameters(aws.region, live.account, planned.stack_name, live.stack_id)
    before = LiveResolver(live_template, live.parameters, pseudo, ids=ids, exported=exported)
    after = LiveResolver(package.template, desired.values, pseudo, ids=ids, exported=exported)
    preview.iam_changes = iam.iam_changes(iam.grants(live_template, before.resolve), iam.grants(package.template, after.resolve))
    return preview


class change_set:
    """Create an UPDATE change set, wait for it and describe it (all pages); delete it on the way
    out whatever happens. `__enter__` returns {"Status", "StatusReason", "Changes"}."""

    def __init__(self, aws: Aws, desired: DesiredStack, package: Packaged):
        self.aws, self.desired, self.package = aws, desired, package
        self.stack = desired.planned.name
        self.cloudformation = aws.client("cloudformation")
        self.change_set_name = f"ecs-batch-templates-diff-{uuid.uuid4().hex[:12]}"
        self.change_set_id: str | None = None
        self.create_sent = False  # CreateChangeSet was called: a change set of that name may exist
        self.temporary_objects: list[tuple[str, str]] = []

    def __enter__(self) -> dict:
        try:
            template = self._template_to_send()
            body = json.dumps(template, separators=(",", ":"), ensure_ascii=False)
            if len(body.encode("utf-8")) > MAX_TEMPLATE_BODY:
                raise UserError(f"the template is {len(body.encode('utf-8'))} bytes; CreateChangeSet takes at most {MAX_TEMPLATE_BODY} "
                                "inline (TemplateBody), and diff --live does not upload templates", stack=self.stack)
            return self._create_and_describe(body)
        except BaseException:
            self._clean_up(failing=True)
            raise

    def __exit__(self, kind, error, traceback) -> None:
        self._clean_up(failing=kind is not None)

    def _template_to_send(self) -> dict:
        """The packaged template with each changed artifact given a form CloudFormation can read."""
        template = json.loads(json.dumps(self.package.template))
        for artifact in self.package.changed_artifacts:
            properties = template["Resources"][artifact.logical_id]["Properties"]
            if artifact.property == "DefinitionUri" and isinstance(artifact.content, bytes):
                del properties["DefinitionUri"]
                properties["Definition"] = json.loads(artifact.content)  # SAM's inline form of the same definition
                continue
            location = s3_location(artifact.live_value)
            if location is None or not isinstance(artifact.content, dict):
                raise UserError(f"{artifact.logical_id}.{artifact.property} ({artifact.path}) changed and the live stack names no "
                                "S3 location beside which to stage it; preview with `sam deploy --no-execute-changeset`", stack=self.stack)
            bucket, key, _ = location
            staged_key = f"{key.rsplit('/', 1)[0] + '/' if '/' in key else ''}ecs-batch-templates-diff-{uuid.uuid4().hex}.zip"
            with aws_errors(f"staging the changed {artifact.path} in s3://{bucket}", stack=self.stack):
                self.aws.client("s3").put_object(Bucket=bucket, Key=staged_key, Body=_zip(artifact.content))
            self.temporary_objects.append((bucket, staged_key))
            properties[artifact.property] = f"s3://{bucket}/{staged_key}"
        return template

    def _create_and_describe(self, body: str) -> dict:
        desired = self.desired
        parameters = [{"ParameterKey": name, "ParameterValue": value} for name, value in desired.values.items()
                      if name in desired.template.get("Parameters", {})]
        request = dict(StackName=desired.planned.stack_name, ChangeSetName=self.change_set_name,
                       ChangeSetType="UPDATE", TemplateBody=body, Parameters=parameters, Capabilities=list(desired.capabilities),
                       Tags=[{"Key": k, "Value": v} for k, v in desired.tags.items()], IncludeNestedStacks=False,
                       Description="Preview by `python -m generator diff --live`; never executed")
        with aws_errors(f"CreateChangeSet for {desired.planned.stack_name}", stack=self.stack):
            try:
                self.create_sent = True
                self.change_set_id = self.cloudformation.create_change_set(**request)["Id"]
            except Exception as error:
                # CloudFormation's refusal made nothing, unless it is a retry's "already exists" (an
                # earlier attempt that timed out made it); no answer at all leaves it unknown.
                if error_code(error) not in (None, "AlreadyExistsException"):
                    self.create_sent = False
                if error_code(error) == "ValidationError" and any(text in str(error) for text in NO_CHANGES):
                    return {"Status": "FAILED", "StatusReason": str(error), "Changes": []}
                raise
        deadline = time.monotonic() + CHANGE_SET_TIMEOUT_SECONDS
        while True:
            with aws_errors(f"DescribeChangeSet {self.change_set_id}", stack=self.stack):
                page = self.cloudformation.describe_change_set(ChangeSetName=self.change_set_id, StackName=desired.planned.stack_name)
            if page["Status"] not in PENDING:
                break
            if time.monotonic() > deadline:
                raise UserError(f"change set {self.change_set_id} was still {page['Status']} after {CHANGE_SET_TIMEOUT_SECONDS} s", stack=self.stack)
            time.sleep(POLL_SECONDS)
        if page["Status"] == "FAILED":
            reason = page.get("StatusReason", "")
            if any(text in reason for text in NO_CHANGES):
                return {"Status": "FAILED", "StatusReason": reason, "Changes": []}
            raise UserError(f"the change set for {desired.planned.stack_name} failed: {one_line(reason)}", stack=self.stack)
        changes = list(page.get("Changes", []))
        while page.get("NextToken"):
            with aws_errors(f"DescribeChangeSet {self.change_set_id}", stack=self.stack):
                page = self.cloudformation.describe_change_set(ChangeSetName=self.change_set_id, StackName=desired.planned.stack_name,
                                                               NextToken=page["NextToken"])
            changes += page.get("Changes", [])
        return {"Status": page["Status"], "StatusReason": page.get("StatusReason"), "Changes": changes}

    def _status(self, change_set: str) -> str | None:
        """The change set's status, None when CloudFormation does not know it."""
        stack_name = self.desired.planned.stack_name
        with aws_errors(f"DescribeChangeSet {change_set}", stack=self.stack):
            try:
                return self.cloudformation.describe_change_set(ChangeSetName=change_set, StackName=stack_name)["Status"]
            except Exception as error:
                if error_code(error) == "ChangeSetNotFound":
                    return None
                raise

    def _delete_change_set(self) -> None:
        """Delete the change set (by its name when CreateChangeSet gave no id), waiting out its creation."""
        stack_name = self.desired.planned.stack_name
        change_set = self.change_set_id or self.change_set_name
        if self.change_set_id is None and self._status(change_set) is None:
            self.create_sent = False  # it was never made
            return
        deadline = time.monotonic() + CLEANUP_WAIT_SECONDS
        while True:
            with aws_errors("DeleteChangeSet", stack=self.stack):
                try:
                    by_name = {} if self.change_set_id else {"StackName": stack_name}  # an ARN names its stack
                    self.cloudformation.delete_change_set(ChangeSetName=change_set, **by_name)
                    break
                except Exception as error:
                    if error_code(error) != "InvalidChangeSetStatus" or time.monotonic() > deadline:
                        raise
            if self._status(change_set) is None:
                break
            time.sleep(POLL_SECONDS)
        self.change_set_id, self.create_sent = None, False

    def _clean_up(self, *, failing: bool) -> None:
        problems = []
        if self.change_set_id or self.create_sent:
            try:
                self._delete_change_set()
            except (UserError, KeyboardInterrupt) as error:
                which = self.change_set_id or self.change_set_name
                problems.append(f"change set {which} may be left ({getattr(error, 'message', None) or 'interrupted'}); delete it with "
                                f"`aws cloudformation delete-change-set --stack-name {self.desired.planned.stack_name} "
                                f"--change-set-name {which}`")
        for bucket, key in self.temporary_objects:
            try:
                with aws_errors("DeleteObject", stack=self.stack):
                    self.aws.client("s3").delete_object(Bucket=bucket, Key=key)
            except UserError as error:
                problems.append(f"s3://{bucket}/{key} was not deleted ({error.message})")
        self.temporary_objects = []
        if problems:
            if failing:  # the error already on its way matters more; say what was left, on stderr
                print(f"warning: {'; '.join(problems)}", file=sys.stderr)
            else:
                raise UserError("; ".join(problems), stack=self.stack)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(name, files[name])
    return buffer.getvalue()


def _resource_change_line(change: dict) -> str:
    action, replacement = change.get("Action", "?"), change.get("Replacement")
    verb = {"Add": "add", "Remove": "remove", "Import": "import", "Dynamic": "dynamic"}.get(action, "modify")
    if action == "Modify" and replacement == "True":
        verb = "REPLACE"
    elif action == "Modify" and replacement == "Conditional":
        verb = "may replace"
    line = f"  {verb:<11} {change.get('LogicalResourceId', '?')} ({change.get('ResourceType', '?')})"
    targets = []
    for detail in change.get("Details", []):
        target = detail.get("Target", {})
        name = ".".join(part for part in (target.get("Attribute"), target.get("Name")) if part)
        if target.get("RequiresRecreation") in ("Always", "Conditionally"):
            name += f" [{'replaces' if target['RequiresRecreation'] == 'Always' else 'may replace'}]"
        if name and name not in targets:
            targets.append(name)
    if targets:
        line += ": " + ", ".join(targets)
    elif change.get("Scope"):
        line += ": " + ", ".join(change["Scope"])
    return line


def preview_lines(preview: Preview) -> list[str]:
    where = f"{preview.stack} ({preview.stack_name})"
    # A new stack's every grant is new: its IAM table lists them, without a broadening section.
    lines = iam.broadening_lines(where, preview.iam_changes) if preview.deployed else []
    if not preview.deployed:
        kinds: dict[str, int] = {}
        for _, kind in preview.created:
            kinds[kind] = kinds.get(kind, 0) + 1
        lines.append(f"{where}: not deployed; would create {len(preview.created)} resources: "
                     + ", ".join(f"{count} {kind}" for kind, count in kinds.items()))
    elif not preview.changed:
        lines.append(f"{where}: no changes")
    else:
        replacing = sum(1 for c in preview.resource_changes if c.get("Replacement") in REPLACEMENT_ORDER)
        lines.append(f"{where}: {len(preview.resource_changes)} resource change(s)"
                     + (f", {replacing} replacing a resource" if replacing else "")
                     + (f", {len(preview.parameter_changes)} parameter change(s)" if preview.parameter_changes else ""))
        lines += [_resource_change_line(change) for change in preview.resource_changes]
        for name, old, new in preview.parameter_changes:
            lines.append(f"  parameter   {name}: {old if old is not None else '(none)'} -> {new if new is not None else '(removed)'}")
        if preview.other_changes:
            lines.append("  the template changes outside resources (outputs, metadata or description)")
    lines += iam.change_lines(where, preview.iam_changes)
    return lines
