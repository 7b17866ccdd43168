"""`teardown --env ENV [STACK…] [--yes]`: delete an environment's (or the named) stacks, importers
before the foundations they import from.

Before anything is deleted:
- a stack whose exports another deployed stack still imports is refused, naming the importers,
  unless every importer is deleted first in the same teardown. Importers are asked of
  CloudFormation (ListImports for each of the stack's exports), so stacks deployed from outside
  this manifest count too; an export nobody imports answers ValidationError "Export '…' is not
  imported by any stack." (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListImports.html);
- the plan is printed, with every resource the deletion keeps (DeletionPolicy Retain, e.g. the
  bucket an s3_object_task stack created: deleting the stack leaves it and its objects), and
  confirmed on the terminal unless --yes.
Then each stack is deleted (DeleteStack) and awaited until DescribeStacks no longer finds it; a
DELETE_FAILED stops the teardown with CloudFormation's reason.
"""

from __future__ import annotations

import sys
import time

from generator.commands.aws_session import Aws, AwsTarget, aws_errors, error_code, one_line
from generator.commands.live import LiveStack, physical_ids, read_stack, read_template
from generator.commands.plan import PlannedStack, environment_plan
from generator.core.errors import CheckFailed, UserError

POLL_SECONDS = 5.0
DELETE_TIMEOUT_SECONDS = 3600
RETAINED = ("Retain", "RetainExceptOnCreate")


def run(args) -> int:
    from generator.core.manifest import load_manifest

    stacks = list(reversed(environment_plan(load_manifest(args.manifest), args.env, args.stacks or None)))
    sessions: dict[str | None, Aws] = {}

    def aws_for(planned: PlannedStack) -> Aws:
        if planned.region not in sessions:
            sessions[planned.region] = Aws(AwsTarget(planned.region, args.endpoint_url, args.profile), stack=planned.name)
        return sessions[planned.region]

    deployed: list[tuple[PlannedStack, LiveStack]] = []
    for planned in stacks:
        live = read_stack(aws_for(planned), planned.stack_name, stack=planned.name)
        if live is None:
            print(f"{planned.stack_name}: not deployed")
        else:
            deployed.append((planned, live))
    if not deployed:
        print(f"teardown --env {args.env}: nothing to delete")
        return 0
    leaving = {planned.stack_name for planned, _ in deployed}
    for planned, live in deployed:
        importers = _importers(aws_for(planned), planned, live)
        kept_importing = sorted(name for name in importers if name not in leaving)
        if kept_importing:
            raise UserError(f"{planned.stack_name} exports values that {', '.join(kept_importing)} still import(s); delete "
                            f"{'it' if len(kept_importing) == 1 else 'them'} first (or name {'it' if len(kept_importing) == 1 else 'them'} "
                            "in this teardown)", stack=planned.name)
    retained = {planned.name: _retained(aws_for(planned), planned) for planned, _ in deployed}
    print(f"teardown --env {args.env} deletes, in this order:")
    for planned, _ in deployed:
        keeps = "; keeps " + ", ".join(retained[planned.name]) if retained[planned.name] else ""
        print(f"  {planned.stack_name} ({aws_for(planned).region}){keeps}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError("not confirmed: stdin is not a terminal; pass --yes to delete without asking", field="--yes")
        if input("Delete these stacks? [y/N] ").strip().lower() not in ("y", "yes"):
            print("teardown: nothing deleted")
            return 1
    for planned, _ in deployed:
        _delete(aws_for(planned), planned)
        for kept in retained[planned.name]:
            print(f"{planned.stack_name}: kept {kept}: delete it yourself when it is no longer needed")
    print(f"teardown --env {args.env}: deleted {', '.join(planned.stack_name for planned, _ in deployed)}")
    return 0


def _importers(aws: Aws, planned: PlannedStack, live: LiveStack) -> set[str]:
    cloudformation = aws.client("cloudformation")
    with aws_errors(f"DescribeStacks {planned.stack_name}", stack=planned.name):
        (described,) = cloudformation.describe_stacks(StackName=planned.stack_name)["Stacks"]
    importers: set[str] = set()
    for output in described.get("Outputs", []):
        if not output.get("ExportName"):
            continue
        with aws_errors(f"ListImports {output['ExportName']}", stack=planned.name):
            try:
                for page in cloudformation.get_paginator("list_imports").paginate(ExportName=output["ExportName"]):
                    importers.update(page.get("Imports", []))
            except Exception as error:
                if error_code(error) == "ValidationError" and "is not imported by any stack" in str(error):
                    continue
                raise
    importers.discard(planned.stack_name)
    return importers


def _retained(aws: Aws, planned: PlannedStack) -> list[str]:
    """The resources the deletion leaves, as `<type> <physical id> (DeletionPolicy …)`."""
    template = read_template(aws, planned.stack_name, stack=planned.name)
    ids = physical_ids(aws, planned.stack_name, stack=planned.name)
    kept = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("DeletionPolicy") in RETAINED and name in ids:
            kind = resource.get("Type", "")
            label = "bucket" if kind == "AWS::S3::Bucket" else kind
            kept.append(f"{label} {ids[name]} (DeletionPolicy {resource['DeletionPolicy']})")
    return kept


def _delete(aws: Aws, planned: PlannedStack) -> None:
    cloudformation = aws.client("cloudformation")
    with aws_errors(f"DeleteStack {planned.stack_name}", stack=planned.name):
        cloudformation.delete_stack(StackName=planned.stack_name)
    print(f"{planned.stack_name}: deleting", flush=True)
    deadline = time.monotonic() + DELETE_TIMEOUT_SECONDS
    while True:
        live = read_stack(aws, planned.stack_name, stack=planned.name)
        if live is None or live.status == "DELETE_COMPLETE":
            print(f"{planned.stack_name}: deleted", flush=True)
            return
        if live.status == "DELETE_FAILED":
            raise CheckFailed(f"{planned.stack_name}: DELETE_FAILED" + (f": {one_line(live.status_reason)}" if live.status_reason else "")
                              + "; the stacks after it in the order were not deleted")
        if time.monotonic() > deadline:
            raise CheckFailed(f"{planned.stack_name} was still {live.status} after {DELETE_TIMEOUT_SECONDS} s")
        time.sleep(POLL_SECONDS)
