"""`python -m generator <command>`: the command line. User mistakes become one line on stderr."""

from __future__ import annotations

import argparse
import functools
import gc
import sys
from pathlib import Path

from generator.commands.startup import defer_import
from generator.core.errors import CheckFailed, UserError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _add_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", type=Path, default=Path("stacks.toml"), help="stack manifest (default: stacks.toml)")
    parser.add_argument("--out", type=Path, default=Path("templates_out"), help="output folder (default: templates_out)")
    parser.add_argument("--samconfig", type=Path, default=Path("samconfig.toml"), help="SAM config file to update (default: samconfig.toml)")


def _add_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", action="store_true",
                        help="build and lint every stack again, ignoring (and not updating) the caches")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="cache folder: lint results in DIR/lint, render digests in DIR/render (default: "
                             "$ECS_BATCH_TEMPLATES_CACHE_DIR, else ~/.cache/ecs-batch-templates); share it between CI runs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generator",
        description="Generate least-privilege CloudFormation/SAM templates for event-driven ECS Fargate jobs from stacks.toml.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = commands.add_parser("render", help="render stacks into the output folder and update samconfig.toml",
                                 description="Render all (or the named) stacks into the output folder and update samconfig.toml. "
                                             "Nothing is written unless every stack renders and validates.")
    render.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to render (default: all)")
    _add_paths(render)
    _add_cache(render)

    check = commands.add_parser("check", help="fail (exit 1) with a diff if rendered output is stale, then lint",
                                description="Render in memory and compare with the files on disk; exit 1 with a unified diff "
                                            "if anything is stale. Then lint every template. This is what CI runs.")
    _add_paths(check)
    _add_cache(check)

    lint = commands.add_parser("lint", help="cfn-lint plus the project's policy rules over rendered templates",
                               description="Lint rendered templates with cfn-lint (as a library, SAM templates transformed first) and "
                                           "the project's own policy rules; exit 1 on any error or warning. Results are cached "
                                           "by content; many templates are linted on every core.")
    lint.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to lint (default: all)")
    _add_paths(lint)
    _add_cache(lint)
    lint.add_argument("--cache-key", action="store_true",
                      help="print the lint cache's key (cfn-lint and rule versions; for a CI cache) and exit")

    diff = commands.add_parser("diff", help="show what a render would change, with a summary per stack",
                               description="Show what `render` would change on disk as a unified diff, with a one-line summary "
                                           "per stack of the resources added, removed and changed (by logical id).")
    diff.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to compare (default: all)")
    _add_paths(diff)

    deploy = commands.add_parser("deploy", help="sam deploy one stack to one environment with its samconfig section",
                                 description="Run `sam deploy --config-file <absolute samconfig.toml> --config-env <stack>-<env>` "
                                             "from the samconfig's folder. Refuses to deploy stale rendered output. Arguments after "
                                             "`--` go to sam deploy (e.g. -- --no-confirm-changeset).")
    deploy.add_argument("stack", metavar="STACK")
    deploy.add_argument("--env", required=True, metavar="ENV", help="environment name from the stack's environments")
    deploy.add_argument("--dry-run", action="store_true", help="print the exact command instead of running it")
    deploy.add_argument("--endpoint-url", metavar="URL", help="send AWS calls to this endpoint (AWS_ENDPOINT_URL), e.g. a local emulator")
    _add_paths(deploy)

    next_runs = commands.add_parser("next-runs", help="the next run times of a stack's schedules, in UTC and local time",
                                    description="List the next run times of every schedule in a stack, from now, in UTC and in "
                                                "the schedule's time zone.")
    next_runs.add_argument("stack", metavar="STACK")
    next_runs.add_argument("--count", type=int, default=5, help="how many runs (default: 5)")
    _add_paths(next_runs)

    test_event = commands.add_parser(
        "test-event", help="does a stack's rule match an event, and what would its target receive",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the install command on one line
        description="Evaluate the stack's EventBridge rule pattern against EVENT.json (a file, or - for stdin) and,\n"
                    "when it matches, print the request the target would get: the ECS RunTask request (overrides\n"
                    "after the InputTransformer), the Lambda input or the Step Functions input.\n"
                    "Exit 0 when a rule matches, 1 when none does (naming the first field that differs), 2 for bad input.\n\n"
                    "Pattern matching uses moto's EventBridge engine, an optional extra:\n"
                    "  pip install 'ecs-batch-templates[events]'")
    test_event.add_argument("stack", metavar="STACK")
    test_event.add_argument("event", type=Path, metavar="EVENT.json", help="the event as EventBridge delivers it (- reads stdin)")
    test_event.add_argument("--env", metavar="ENV", help="environment whose parameter values resolve the template (default: the stack's first)")
    test_event.add_argument("--json", action="store_true", help='print one JSON object: {"matched", "rule", "target", "mismatch", …}')
    test_event.add_argument("--manifest", type=Path, default=Path("stacks.toml"), help="stack manifest (default: stacks.toml)")

    listing = commands.add_parser("list", help="list blueprints and the stacks in the manifest",
                                  description="List the blueprints (one line each) and the stacks in the manifest.")
    listing.add_argument("--manifest", type=Path, default=Path("stacks.toml"), help="stack manifest (default: stacks.toml)")
    for command in commands.choices.values():
        # also after the command (`render --debug`); SUPPRESS keeps a --debug given before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    # troposphere imports cfn_flip (and PyYAML) only for Template.to_yaml(), which the CLI never calls.
    defer_import("cfn_flip")
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is for `sam deploy`; argparse's own `--` handling does not reach subcommands.
    passthrough = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = build_parser()
    args = parser.parse_args(argv[: len(argv) - len(passthrough) - 1] if "--" in argv else argv)
    if passthrough and args.command != "deploy":
        parser.error("arguments after -- are only for `deploy`")
    args.sam_args = passthrough
    try:
        return COMMANDS[args.command](args)
    except UserError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CheckFailed as failure:
        if args.debug:
            raise
        print(f"failed: {failure}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:  # a path given on the command line that cannot be read or written
        if args.debug:
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _plan(args, only=None, memo=None):
    from generator.core.manifest import load_manifest
    from generator.core.render import plan

    specs = load_manifest(args.manifest)
    return plan(specs, only=only, manifest_path=args.manifest, out_dir=args.out, samconfig_path=args.samconfig, memo=memo)


def _render_memo(args):
    """The render memo (core/render_memo.py) in the cache folder's render/, unless --no-cache."""
    from generator.core.cache import project_cache_dir
    from generator.core.render_memo import RenderMemo

    return RenderMemo(None if args.no_cache else project_cache_dir("render", args.cache_dir))


def cmd_render(args) -> int:
    from generator.core.render import write

    memo = _render_memo(args)
    render_plan = _plan(args, args.stacks, memo)
    changed = set(write(render_plan))
    memo.save()
    for stack in render_plan.stacks:
        paths = [render_plan.out_dir / rel for rel in stack.relative_paths]
        state = "updated" if any(p in changed for p in paths) else "unchanged"
        print(f"{stack.spec.name}: {state} {render_plan.out_dir / stack.spec.name} ({stack.spec.blueprint}, environments: {', '.join(stack.spec.environments)})")
    for name in render_plan.stale_stacks:
        print(f"{name}: removed {render_plan.out_dir / name} (no longer in {args.manifest})")
    if render_plan.samconfig_path in changed:
        dropped = f" (removed {', '.join(render_plan.stale_config_envs)})" if render_plan.stale_config_envs else ""
        print(f"{render_plan.samconfig_path}: updated{dropped}")
    return EXIT_OK


def _lint(paths: list[Path], args, started=None) -> int:
    from generator.checks.engine import lint_cache_dir, lint_paths

    if started is not None:
        findings = started.findings()
    else:
        findings = lint_paths(paths, cache_dir=None if args.no_cache else lint_cache_dir(args.cache_dir))
    for finding in findings:
        print(finding)
    if findings:
        raise CheckFailed(f"lint: {len(findings)} finding(s) in {len({f.path for f in findings})} template(s)")
    print(f"lint: {len(paths)} template(s) clean")
    return EXIT_OK


def _template_paths(render_plan) -> list[Path]:
    from generator.core.render import TEMPLATE_FILE

    return [render_plan.out_dir / stack.spec.name / TEMPLATE_FILE for stack in render_plan.stacks]


def cmd_check(args) -> int:
    from generator.checks.engine import BackgroundLint, lint_cache_dir

    # The templates on disk are linted (in a forked process, which sets cfn-lint up meanwhile) while
    # they are compared with a render; the lint is shown only if nothing is stale, and stopped if
    # something is.
    lint = BackgroundLint(functools.partial(_templates_named_in, args.manifest, args.out),
                          cache_dir=None if args.no_cache else lint_cache_dir(args.cache_dir))
    try:
        from generator.core.manifest import load_manifest
        from generator.core.render import diff, plan

        specs = load_manifest(args.manifest)
        memo = _render_memo(args)
        render_plan = plan(specs, only=None, manifest_path=args.manifest, out_dir=args.out, samconfig_path=args.samconfig, memo=memo)
        stale = diff(render_plan)
        memo.save()
    except BaseException:
        lint.cancel()
        raise
    if stale:
        lint.cancel()
        sys.stdout.write(stale)
        gone = [f"{render_plan.out_dir / name}/" for name in render_plan.stale_stacks]
        gone += [f"[{config_env}.deploy.parameters]" for config_env in render_plan.stale_config_envs]
        left = f" (left from stacks or environments no longer in {args.manifest}: {', '.join(gone)})" if gone else ""
        raise CheckFailed(f"rendered output is stale{left}; run `python -m generator render` and commit the result")
    print(f"check: {len(render_plan.stacks)} stack(s) and {render_plan.samconfig_path} up to date")
    paths = _template_paths(render_plan)
    del render_plan, memo, specs  # nothing the render held is needed any more
    gc.collect()
    return _lint(paths, args, started=lint)


def _templates_named_in(manifest: Path, out: Path) -> list[Path]:
    """The template of each stack the manifest names (read without checking it: `check` does that
    beside, and shows no lint result unless the manifest is valid and the output up to date)."""
    import tomllib

    from generator.core.render import TEMPLATE_FILE

    stacks = tomllib.loads(manifest.read_text(encoding="utf-8")).get("stacks")
    return [out / name / TEMPLATE_FILE for name in (stacks if isinstance(stacks, dict) else {})]


def cmd_lint(args) -> int:
    if args.cache_key:
        from generator.checks.engine import cache_key

        print(cache_key())
        return EXIT_OK
    from generator.core.manifest import load_manifest
    from generator.core.render import TEMPLATE_FILE, selected_specs

    # Only the names are needed: the templates on disk are what is linted, so nothing is rendered.
    paths = [args.out / spec.name / TEMPLATE_FILE for spec in selected_specs(load_manifest(args.manifest), args.stacks)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UserError(f"{missing[0]} does not exist; run `python -m generator render` first")
    return _lint(paths, args)


def cmd_list(args) -> int:
    from generator.core.registry import BLUEPRINTS

    print("Blueprints:")
    width = max(map(len, BLUEPRINTS))
    for name, module in BLUEPRINTS.items():
        print(f"  {name:<{width}}  {module.DESCRIPTION}")
    if args.manifest.exists():
        from generator.core.manifest import load_manifest

        specs = load_manifest(args.manifest)
        print(f"Stacks in {args.manifest}:")
        width = max(map(len, specs))
        for spec in specs.values():
            print(f"  {spec.name:<{width}}  {spec.blueprint:<16} {', '.join(spec.environments)}  {spec.description}")
    return EXIT_OK


def cmd_diff(args) -> int:
    from generator.core.render import diff, resource_changes

    render_plan = _plan(args, args.stacks)
    for stack in render_plan.stacks:
        added, removed, changed = resource_changes(render_plan, stack)
        if added or removed or changed:
            parts = [f"{label} {', '.join(ids)}" for label, ids in (("added", added), ("removed", removed), ("changed", changed)) if ids]
            print(f"{stack.spec.name}: resources " + "; ".join(parts))
        else:
            print(f"{stack.spec.name}: no resource changes")
    sys.stdout.write(diff(render_plan))
    return EXIT_OK


def cmd_deploy(args) -> int:
    from generator.commands import deploy
    from generator.core.render import diff

    render_plan = _plan(args, [args.stack])
    spec = render_plan.stacks[0].spec
    if args.env not in spec.environments:
        from generator.core.options import did_you_mean

        raise UserError(f"unknown environment {args.env!r}{did_you_mean(args.env, spec.environments)}; allowed: {', '.join(spec.environments)}",
                        stack=spec.name, field="--env")
    config_env = spec.config_env(args.env)
    if diff(render_plan):
        raise UserError("rendered output is stale; run `python -m generator render` (and review the diff) before deploying", stack=spec.name)
    deploy.check_config_env(args.samconfig, config_env, stack=spec.name)
    command = deploy.sam_deploy_command(args.samconfig, config_env, args.sam_args, stack=spec.name)
    cwd = args.samconfig.resolve().parent
    if args.dry_run:
        print(deploy.describe_command(command, cwd=cwd, endpoint_url=args.endpoint_url))
        return EXIT_OK
    code = deploy.run(command, cwd=cwd, endpoint_url=args.endpoint_url)
    if code:
        raise CheckFailed(f"sam deploy exited with status {code}")
    return EXIT_OK


def cmd_next_runs(args) -> int:
    import datetime as dt

    from generator.review import describe

    render_plan = _plan(args, [args.stack])
    schedules = describe.schedules(render_plan.stacks[0].template)
    if not schedules:
        raise UserError("has no schedule", stack=args.stack)
    now = dt.datetime.now(dt.timezone.utc)
    for schedule in schedules:
        print(f"{schedule['name']}: {schedule['expression']} in {schedule['timezone']}")
        for utc, local in describe.run_times(schedule["expression"], schedule["timezone"], count=args.count, after=now):
            print(f"  {utc:%Y-%m-%d %H:%M %a} UTC    {local:%Y-%m-%d %H:%M %a} {schedule['timezone']}")
    return EXIT_OK


def cmd_test_event(args) -> int:
    from generator.review.event_simulator import run

    return run(args.manifest, args.stack, args.event, environment=args.env, as_json=args.json)


COMMANDS = {"render": cmd_render, "check": cmd_check, "lint": cmd_lint, "list": cmd_list, "test-event": cmd_test_event,
            "diff": cmd_diff, "deploy": cmd_deploy, "next-runs": cmd_next_runs}
