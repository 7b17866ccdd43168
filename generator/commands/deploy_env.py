"""`deploy --env ENV [STACK…]`: deploy an environment's stacks in dependency order.

Each stack is deployed by `sam deploy --config-env <stack>-<env>` (the single-stack `deploy` path,
which packages artifacts, creates and executes the change set and waits), with
`--no-fail-on-empty-changeset` so that a stack whose change set turns out empty is not a failure.
Around it:
- order: a foundation before the stacks that import from it (generator/commands/plan.py); with
  `--jobs N` up to N stacks whose foundations are done deploy at once (their sam output is
  collected and printed when each finishes);
- skip: a stack whose Original template (GetTemplate), parameters and tags (DescribeStacks)
  already equal the rendered ones (artifacts compared by content, see live.py) is skipped with
  "no changes", unless `--force`;
- the first failure stops the run: nothing new starts, running deploys finish, and the summary
  says which stacks were deployed, which failed with CloudFormation's reason (the stack status and
  the first failed resource event of the operation, DescribeStackEvents, newest first:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html)
  and which were not attempted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from generator.commands import deploy
from generator.commands.aws_session import Aws, AwsTarget, aws_errors, one_line
from generator.commands.live import DesiredStack, differences, packaged, read_stack, read_template
from generator.commands.plan import PlannedStack, environment_plan
from generator.core.errors import CheckFailed, UserError

EMPTY_CHANGE_SET_IS_SUCCESS = "--no-fail-on-empty-changeset"
FAILED_STATES = ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "IMPORT_FAILED")


@dataclass
class Outcome:
    stack: PlannedStack
    state: str            # "deployed", "unchanged", "failed"
    detail: str = ""


class SamDeployer:
    """Runs `sam deploy` for one stack; returns (exit status, captured output or None)."""

    def __init__(self, samconfig: Path, extra_args: list[str], *, endpoint_url: str | None, profile: str | None, capture: bool):
        self.samconfig, self.endpoint_url, self.capture = samconfig, endpoint_url, capture
        self.extra_args = list(extra_args)
        if EMPTY_CHANGE_SET_IS_SUCCESS not in self.extra_args and "--fail-on-empty-changeset" not in self.extra_args:
            self.extra_args.append(EMPTY_CHANGE_SET_IS_SUCCESS)
        if profile and "--profile" not in self.extra_args:
            self.extra_args += ["--profile", profile]

    def command(self, planned: PlannedStack) -> list[str]:
        return deploy.sam_deploy_command(self.samconfig, planned.stack_name, self.extra_args, stack=planned.name)

    def describe(self, planned: PlannedStack) -> str:
        return deploy.describe_command(self.command(planned), cwd=self.samconfig.resolve().parent, endpoint_url=self.endpoint_url)

    def __call__(self, planned: PlannedStack) -> tuple[int, str | None]:
        command, cwd = self.command(planned), self.samconfig.resolve().parent
        if not self.capture:
            return deploy.run(command, cwd=cwd, endpoint_url=self.endpoint_url), None
        executable = shutil.which(command[0])
        if executable is None:
            raise UserError(deploy.SAM_INSTALL_HINT)
        environment = dict(os.environ, **({"AWS_ENDPOINT_URL": self.endpoint_url} if self.endpoint_url else {}))
        done = subprocess.run([executable, *command[1:]], cwd=cwd, env=environment, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return done.returncode, done.stdout


# Tests replace this with a deployer for a local endpoint that sam cannot deploy to (see tests/support/operations.py).
DEPLOYER = SamDeployer


def run(args) -> int:
    from generator.core.manifest import load_manifest
    from generator.core.render import diff, plan

    if args.jobs < 1:
        raise UserError(f"{args.jobs} is not a number of parallel deploys; allowed: 1 or more", field="--jobs")
    specs = load_manifest(args.manifest)
    stacks = environment_plan(specs, args.env, args.stacks or None, with_dependencies=args.with_dependencies)
    render_plan = plan(specs, only=[s.name for s in stacks], manifest_path=args.manifest, out_dir=args.out, samconfig_path=args.samconfig)
    if diff(render_plan):
        raise UserError("rendered output is stale; run `python -m generator render` (and review the diff) before deploying",
                        stack=", ".join(s.name for s in stacks))
    for planned in stacks:
        deploy.check_config_env(args.samconfig, planned.stack_name, stack=planned.name)
    rendered = {stack.spec.name: stack for stack in render_plan.stacks}
    deployer = DEPLOYER(args.samconfig, args.sam_args, endpoint_url=args.endpoint_url, profile=args.profile, capture=args.jobs > 1)
    if args.dry_run:
        for index, planned in enumerate(stacks, 1):
            after = f" (after {', '.join(d for d in planned.depends_on if d in rendered)})" if any(d in rendered for d in planned.depends_on) else ""
            print(f"{index}. {planned.stack_name}{after}: {deployer.describe(planned)}")
        print("(each stack is skipped when its live template, parameters and tags already equal the render" +
              (", but --force deploys every one)" if args.force else "; --force deploys it anyway)"))
        return 0
    if args.jobs > 1:
        confirming = [s.stack_name for s in stacks if s.spec.environments[s.environment].confirm_changeset]
        if confirming and "--no-confirm-changeset" not in args.sam_args:
            raise UserError(f"{', '.join(confirming)} confirm change sets (confirm_changeset = true), which needs the terminal; "
                            "deploy with --jobs 1, or pass -- --no-confirm-changeset", field="--jobs")
    sessions: dict[str | None, Aws] = {}
    for planned in stacks:  # made here, not in the worker threads (boto3 sessions are not thread-safe)
        if planned.region not in sessions:
            sessions[planned.region] = Aws(AwsTarget(planned.region, args.endpoint_url, args.profile), stack=planned.name)
            sessions[planned.region].client("cloudformation")
            sessions[planned.region].client("s3")
    outcomes = deploy_in_order(stacks, {s.name: DesiredStack(s, rendered[s.name]) for s in stacks},
                               lambda s: sessions[s.region], deployer, jobs=args.jobs, force=args.force)
    return report(args.env, stacks, outcomes)


def deploy_in_order(stacks: list[PlannedStack], desired: dict[str, DesiredStack], aws_for, deployer, *, jobs: int, force: bool) -> dict[str, Outcome]:
    """Deploy each stack once every foundation it imports from (among `stacks`) is deployed or
    unchanged; stop starting new ones at the first failure or error."""
    output_lock = threading.Lock()
    outcomes: dict[str, Outcome] = {}
    names = {s.name for s in stacks}
    pending = list(stacks)
    error: BaseException | None = None

    def say(text: str) -> None:
        with output_lock:
            print(text, flush=True)

    def one(planned: PlannedStack) -> Outcome:
        aws = aws_for(planned)
        live = read_stack(aws, planned.stack_name, stack=planned.name)
        if live is None:
            why = "new stack"
        else:
            live_template = read_template(aws, planned.stack_name, stack=planned.name)
            changed = differences(desired[planned.name], live, live_template, packaged(desired[planned.name], live_template, aws))
            if not changed and not force:
                say(f"{planned.stack_name}: no changes (skipped)")
                return Outcome(planned, "unchanged")
            why = "changed: " + ", ".join(changed) if changed else "no changes, deployed anyway (--force)"
        say(f"{planned.stack_name}: deploying ({why})")
        code, output = deployer(planned)
        if output is not None:
            with output_lock:
                sys.stdout.write("".join(f"{planned.stack_name} | {line}\n" for line in output.splitlines()))
                sys.stdout.flush()
        if code != 0:
            return Outcome(planned, "failed", failure_reason(aws, planned, code))
        say(f"{planned.stack_name}: deployed")
        return Outcome(planned, "deployed", why)

    def ready(planned: PlannedStack) -> bool:
        return all(outcomes.get(d) is not None and outcomes[d].state != "failed" for d in planned.depends_on if d in names)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {}
        while True:
            stopping = error is not None or any(o.state == "failed" for o in outcomes.values())
            if not stopping:
                for planned in [s for s in pending if ready(s)][: jobs - len(running)]:
                    pending.remove(planned)
                    running[pool.submit(one, planned)] = planned
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                planned = running.pop(future)
                try:
                    outcomes[planned.name] = future.result()
                except (UserError, KeyboardInterrupt) as raised:
                    error = error or raised
    if error is not None:
        raise error
    return outcomes


def failure_reason(aws: Aws, planned: PlannedStack, code: int) -> str:
    """CloudFormation's reason: the stack's status and reason, and the first resource that failed
    in the latest operation; sam's exit status when CloudFormation has nothing to say."""
    live = read_stack(aws, planned.stack_name, stack=planned.name)
    if live is None:
        return f"sam deploy exited with status {code} (no stack {planned.stack_name} was created; see sam's output)"
    reason = f"{live.status}" + (f": {one_line(live.status_reason)}" if live.status_reason else "")
    first_failure = None
    with aws_errors(f"DescribeStackEvents {planned.stack_name}", stack=planned.name):
        events = aws.client("cloudformation").describe_stack_events(StackName=planned.stack_name)["StackEvents"]
    for event in events:  # newest first: walk back to the start of the latest operation
        if event.get("ResourceStatus", "").endswith("_FAILED") and event.get("LogicalResourceId") != planned.stack_name:
            first_failure = event
        if event.get("ResourceType") == "AWS::CloudFormation::Stack" and event.get("ResourceStatus") in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS") \
                and "User Initiated" in (event.get("ResourceStatusReason") or ""):
            break
    if first_failure is not None:
        reason += f"; first failure: {first_failure['LogicalResourceId']} {first_failure['ResourceStatus']}: " \
                  f"{one_line(first_failure.get('ResourceStatusReason', ''))}"
    return reason


def report(environment: str, stacks: list[PlannedStack], outcomes: dict[str, Outcome]) -> int:
    groups = {"deployed": [], "no changes": [], "failed": [], "not attempted": []}
    for planned in stacks:
        outcome = outcomes.get(planned.name)
        state = "not attempted" if outcome is None else {"unchanged": "no changes"}.get(outcome.state, outcome.state)
        groups[state].append(planned.stack_name + (f" ({outcome.detail})" if outcome is not None and outcome.state == "failed" else ""))
    print(f"deploy --env {environment}:")
    for label, members in groups.items():
        if members:
            print(f"  {label + ':':<15}{', '.join(members)}")
    if groups["failed"]:
        raise CheckFailed(f"deploy --env {environment} stopped at {', '.join(o.stack.stack_name for o in outcomes.values() if o.state == 'failed')}"
                          + (f"; not attempted: {', '.join(groups['not attempted'])}" if groups["not attempted"] else ""))
    return 0
