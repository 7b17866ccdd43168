"""`python -m generator <command>`: the command line. User mistakes become one line on stderr."""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
from pathlib import Path

from generator.commands.startup import defer_import
from generator.core.errors import CheckFailed, UserError, one_line, shown

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUG = 0, 1, 2, 3


MANIFEST_NAME = "stacks.toml"
CONSOLE_SCRIPT = "ecs-batch-templates"  # setup.cfg's console_scripts entry
MANIFEST_HELP = "stack manifest (default: stacks.toml in this folder or the nearest parent that has one)"


def _add_paths(parser: argparse.ArgumentParser, *, writes_samconfig: bool = False) -> None:
    parser.add_argument("--manifest", type=Path, default=None,
                        help=MANIFEST_HELP)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: templates_out beside the manifest)")
    parser.add_argument("--samconfig", type=Path, default=None,
                        help=f"SAM config file {'to update' if writes_samconfig else 'to read'} (default: samconfig.toml beside the manifest)")


def find_manifest(start: Path) -> Path:
    """stacks.toml in `start` or its nearest parent that has one (as git finds .git), relative to
    `start` when it can be; `stacks.toml` itself when there is none (reported as not found)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / MANIFEST_NAME
        if candidate.is_file():
            return Path(os.path.relpath(candidate, start))
    return Path(MANIFEST_NAME)


def _resolve_paths(args) -> None:
    """--out and --samconfig default to paths beside the manifest, not the current folder, so a
    command run from a subfolder (or with --manifest ../stacks.toml) writes where the manifest lives."""
    if not hasattr(args, "manifest"):
        return
    if args.manifest is None:
        args.manifest = find_manifest(Path.cwd())
    if getattr(args, "out", "absent") is None:
        args.out = args.manifest.parent / "templates_out"
    if getattr(args, "samconfig", "absent") is None:
        args.samconfig = args.manifest.parent / "samconfig.toml"


def _add_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", action="store_true",
                        help="build and lint every stack again, ignoring (and not updating) the caches")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="cache folder: lint results in DIR/lint, render digests in DIR/render (default: "
                             "$ECS_BATCH_TEMPLATES_CACHE_DIR, else ~/.cache/ecs-batch-templates); share it between CI runs")


def _add_lint_options(parser: argparse.ArgumentParser) -> None:
    _add_cache(parser)
    parser.add_argument("--append-rules", action="append", type=Path, default=[], metavar="DIR",
                        help="also run the cfn-lint rules in DIR (ids E9xxx/W9xxx, cfn-lint's --append-rules), as mandatory "
                             "policy rules; may be given more than once; part of the lint cache key")


def _add_aws(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", metavar="URL", help="send AWS calls to this endpoint, e.g. a local moto server")
    parser.add_argument("--profile", metavar="NAME", help="AWS named profile (default: AWS_PROFILE or the default credential chain); "
                                                          "the Region is the environment's region in stacks.toml, else the profile's")


def _program_name() -> str:
    """How the user called us: the console script's own name, or `python -m generator`."""
    invoked = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return CONSOLE_SCRIPT if invoked == CONSOLE_SCRIPT else "python -m generator"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program_name(),
        description="Generate least-privilege CloudFormation/SAM templates for event-driven ECS Fargate jobs from stacks.toml.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    from generator import __version__
    parser.add_argument("--version", action="version", version=f"ecs-batch-templates {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = commands.add_parser("render", help="render stacks into the output folder and update samconfig.toml",
                                 description="Render all (or the named) stacks into the output folder and update samconfig.toml. "
                                             "Nothing is written unless every stack renders and validates.")
    render.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to render (default: all)")
    _add_paths(render, writes_samconfig=True)
    _add_cache(render)

    check = commands.add_parser("check", help="fail (exit 1) with a diff if rendered output is stale, then lint",
                                description="Render in memory and compare with the files on disk; exit 1 with a unified diff "
                                            "if anything is stale. Then lint every template. This is what CI runs.")
    _add_paths(check)
    _add_lint_options(check)

    lint = commands.add_parser("lint", help="cfn-lint plus the project's policy rules over rendered templates",
                               description="Lint rendered templates with cfn-lint (as a library, SAM templates transformed first) and "
                                           "the project's own policy rules; exit 1 on any error or warning. Results are cached "
                                           "by content; many templates are linted on every core.")
    lint.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to lint (default: all)")
    _add_paths(lint)
    _add_lint_options(lint)
    lint.add_argument("--cache-key", action="store_true",
                      help="print the lint cache's key (cfn-lint, rules and --append-rules; for a CI cache) and exit")

    diff = commands.add_parser("diff", help="show what a render (or, with --live, a deploy) would change",
                               description="Show what `render` would change on disk as a unified diff, with a one-line summary "
                                           "per stack of the resources added, removed and changed (by logical id) and a table of "
                                           "IAM changes, broadenings first. With --live --env ENV: preview what a deploy would do "
                                           "to each live stack through a CloudFormation change set that is created, described and "
                                           "deleted, never executed; exit 0 no changes, 1 changes, 2 error.")
    diff.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to compare (default: all; with --live: all of the environment)")
    diff.add_argument("--live", action="store_true", help="compare with the deployed stacks of --env (change sets, never executed)")
    diff.add_argument("--env", metavar="ENV", help="environment to compare with (--live only)")
    diff.add_argument("--fail-on-broadening", action="store_true",
                      help="exit 1 when an IAM change widens access (for CI; diff --live exits 1 on any change anyway)")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when a render would change anything, 0 when not (like git diff --exit-code)")
    _add_paths(diff)
    _add_aws(diff)

    deploy = commands.add_parser("deploy", help="sam deploy one stack, or every stack of an environment in dependency order",
                                 description="Run `sam deploy --config-file <absolute samconfig.toml> --config-env <stack>-<env>` "
                                             "from the samconfig's folder. Refuses to deploy stale rendered output. Arguments after "
                                             "`--` go to sam deploy (e.g. -- --no-confirm-changeset). With no STACK, several, or "
                                             "--with-dependencies/--jobs/--force: deploy the environment's (or the named) stacks, "
                                             "foundations first, skipping stacks whose live template, parameters and tags already "
                                             "equal the render, stopping at the first failure: the summary lists the stacks deployed, "
                                             "failed (with CloudFormation's reason) and not attempted. Exit 0 done, 1 a stack failed, "
                                             "2 bad input or an AWS error.")
    deploy.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to deploy (default: every stack with --env)")
    deploy.add_argument("--env", required=True, metavar="ENV", help="environment name from the stack's environments")
    deploy.add_argument("--dry-run", action="store_true", help="print the exact command(s) instead of running them")
    deploy.add_argument("--with-dependencies", action="store_true", help="also deploy the foundations the named stacks import from")
    deploy.add_argument("--jobs", type=int, default=1, metavar="N", help="deploy up to N independent stacks at once (default: 1)")
    deploy.add_argument("--force", action="store_true", help="deploy stacks whose live template and parameters equal the render too")
    _add_paths(deploy)
    _add_aws(deploy)

    summary = commands.add_parser(
        "summary", help="Markdown for a pull request: what changes in each stack against a git REF",
        description="Compare what the manifest renders now with the rendered output committed at a git REF and write "
                    "Markdown for the pull request's reviewer: per changed stack what the job does now and did before, "
                    "schedule changes with the next runs, event pattern changes, resources added, removed, replaced or "
                    "modified, every IAM change (broadenings first) and parameter changes per environment. Written to "
                    "$GITHUB_STEP_SUMMARY when that is set (GitHub Actions), else to stdout.")
    summary.add_argument("--base", default="HEAD", metavar="REF",
                         help="git commit, branch or tag to compare with (default: HEAD); '' compares with nothing")
    summary.add_argument("--now", metavar="TIME", help="count the next runs from this instant (ISO 8601, UTC unless it says; default: now)")
    summary.add_argument("--changed-stacks", action="store_true",
                         help="print instead a JSON list of the stacks whose deployment to --env changes (added or changed, not removed)")
    summary.add_argument("--env", metavar="ENV", help="environment for --changed-stacks")
    _add_paths(summary)

    pipeline = commands.add_parser(
        "pipeline", help="write the CI/CD workflows (.github/workflows/) for the manifest",
        description="Write the GitHub Actions workflows beside the manifest (.github/workflows/templates.yml: check, tests, "
                    "the pull request's summary and diff --live; deploy.yml when the manifest has a deploy_role stack: "
                    "deploy the changed stacks to each environment in order). Settings: the manifest's [pipeline] table. "
                    "Running it again changes nothing unless the manifest did; `check` fails while they are stale.")
    pipeline.add_argument("--provider", required=True, choices=["github"], help="CI provider (github)")
    pipeline.add_argument("--manifest", type=Path, default=None, help=MANIFEST_HELP)

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
    test_event.add_argument("--manifest", type=Path, default=None, help=MANIFEST_HELP)

    run = commands.add_parser("run", help="start a deployed job now, exactly as its trigger would",
                              description="Start the job of a deployed stack now with the request its schedule or rule sends "
                                          "(RunTask, or StartExecution for sfn_task), built from the live stack, and print the task "
                                          "(execution) ARN and its log group and stream. --wait waits for it to stop and exits with "
                                          "the job container's exit code (1 for a failed execution or a task that did not start).")
    run.add_argument("stack", metavar="STACK", help="a stack of the manifest, deployed to --env")
    run.add_argument("--env", required=True, metavar="ENV", help="environment name from the stack's environments")
    run.add_argument("--wait", action="store_true", help="wait until the task (execution) stops; exit with its exit code")
    run.add_argument("--key", metavar="KEY", help="object key as stored in S3, for a job started by an S3 object (URL-encoded into the event as S3 does; the rule's InputTransformer gets it)")
    run.add_argument("--manifest", type=Path, default=None, help=MANIFEST_HELP)
    _add_aws(run)

    status = commands.add_parser("status", help="recent runs, next runs, dead-letter queue depth and alarms of a deployed job",
                                 description="Show the job's stopped tasks (or executions) since --since, what is running, the next "
                                             "scheduled runs, the dead-letter queue depth and every alarm of the stack with its state.")
    status.add_argument("stack", metavar="STACK", help="a stack of the manifest, deployed to --env")
    status.add_argument("--env", required=True, metavar="ENV", help="environment name from the stack's environments")
    status.add_argument("--since", default="1h", metavar="DURATION", help="runs that stopped within this long, like 30m, 1h, 2d (default: 1h)")
    status.add_argument("--count", type=int, default=10, metavar="N", help="at most this many runs (default: 10)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--manifest", type=Path, default=None, help=MANIFEST_HELP)
    _add_aws(status)

    logs = commands.add_parser("logs", help="the job's container logs, newest run first",
                               description="Print the job container's log events from its log group (the task definition's awslogs "
                                           "group: the foundation's or the stack's) since --since, one block per run, newest run first.")
    logs.add_argument("stack", metavar="STACK", help="a stack of the manifest, deployed to --env")
    logs.add_argument("--env", required=True, metavar="ENV", help="environment name from the stack's environments")
    logs.add_argument("--since", default="1h", metavar="DURATION", help="events of this long ago and later, like 30m, 1h, 2d (default: 1h)")
    logs.add_argument("--follow", action="store_true", help="keep printing new events until Ctrl-C")
    logs.add_argument("--manifest", type=Path, default=None, help=MANIFEST_HELP)
    _add_aws(logs)

    teardown = commands.add_parser("teardown", help="delete an environment's stacks, importers before their foundations",
                                   description="Delete the environment's (or the named) deployed stacks in reverse dependency order, "
                                               "after a confirmation. Refuses to delete a stack whose exports a deployed stack still "
                                               "imports, naming the importers. Resources with DeletionPolicy Retain (the buckets stacks "
                                               "create) are kept, and named. Exit 1 when not confirmed or a deletion fails.")
    teardown.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to delete (default: every stack with --env)")
    teardown.add_argument("--env", required=True, metavar="ENV", help="environment whose stacks to delete")
    teardown.add_argument("--yes", action="store_true", help="do not ask for confirmation (CI)")
    teardown.add_argument("--manifest", type=Path, default=None, help=MANIFEST_HELP)
    _add_aws(teardown)

    listing = commands.add_parser("list", help="list blueprints and the stacks in the manifest, or describe one blueprint",
                                  description="Without BLUEPRINT: the blueprints (one line each, from the blueprints/ folder, "
                                              "installed packages' entry points and module paths in the manifest) and the stacks "
                                              "in the manifest. With BLUEPRINT: its every option (type, default as behaviour, "
                                              "what it does), every CloudFormation parameter and whether it is required, and the "
                                              "keys of an environment.")
    listing.add_argument("blueprint", nargs="?", metavar="BLUEPRINT", help="a blueprint name or module path (package.module)")
    listing.add_argument("--manifest", type=Path, default=None, help=MANIFEST_HELP)

    new = commands.add_parser("new", help="append a ready-to-edit stack to the manifest",
                              description="Append [stacks.STACK] for BLUEPRINT to the manifest (its comments and everything in "
                                          "it kept): every required option and parameter with a placeholder that fails the "
                                          "render until replaced, the optional ones as comments saying what leaving them out does.")
    new.add_argument("stack", metavar="STACK")
    new.add_argument("--blueprint", required=True, metavar="NAME", help="a blueprint name (python -m generator list) or module path")
    new.add_argument("--env", action="append", metavar="ENV", help="an environment of the stack; may be repeated (default: dev)")
    new.add_argument("--manifest", type=Path, default=None, help=MANIFEST_HELP)
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
        _resolve_paths(args)
        return COMMANDS[args.command](args)
    except UserError as error:
        if args.debug:
            raise
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CheckFailed as failure:
        if args.debug:
            raise
        print(f"failed: {failure}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:  # a path given on the command line that cannot be read or written
        if args.debug:
            raise
        where = f"{shown(error.filename)}: " if error.filename else ""
        print(f"error: {one_line(where + str(error.strerror or error))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the one catch-all: anything else is our bug, said in one line
        if args.debug:
            raise
        detail = one_line(f"{type(error).__name__}: {error}")
        print(f"internal error (a bug in ecs-batch-templates, please report it): {detail}; "
              "rerun with --debug for the traceback", file=sys.stderr)
        return EXIT_BUG


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
    # a stale file removed from the folder is a change too, not only a file written; every folder
    # holding a changed path, gathered once (a scan per stack is quadratic at a thousand stacks)
    touched = changed.union(*(path.parents for path in changed))
    for stack in render_plan.stacks:
        folder = render_plan.out_dir / stack.spec.name
        state = "updated" if folder in touched else "unchanged"
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
        findings = lint_paths(paths, cache_dir=None if args.no_cache else lint_cache_dir(args.cache_dir),
                              append_rules=args.append_rules)
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
                          cache_dir=None if args.no_cache else lint_cache_dir(args.cache_dir), append_rules=args.append_rules)
    try:
        from generator.core.manifest import load_manifest
        from generator.core.pipeline import pipeline_diff, plan_pipeline
        from generator.core.render import diff, plan

        specs = load_manifest(args.manifest)  # once, for the render and the workflows
        memo = _render_memo(args)
        render_plan = plan(specs, only=None, manifest_path=args.manifest, out_dir=args.out, samconfig_path=args.samconfig, memo=memo)
        stale = diff(render_plan)
        memo.save()
        if stale:
            sys.stdout.write(stale)
            gone = [f"{render_plan.out_dir / name}/" for name in render_plan.stale_stacks]
            gone += [f"[{config_env}.deploy.parameters]" for config_env in render_plan.stale_config_envs]
            left = f" (left from stacks or environments no longer in {args.manifest}: {', '.join(gone)})" if gone else ""
            raise CheckFailed(f"rendered output is stale{left}; run `python -m generator render` and commit the result")
        workflows = plan_pipeline(args.manifest, specs)
        if workflows.configured:
            stale = pipeline_diff(workflows)
            if stale:
                sys.stdout.write(stale)
                raise CheckFailed(f"workflows in {workflows.folder} are stale; run `python -m generator pipeline --provider github` "
                                  "and commit the result")
    except BaseException:
        lint.cancel()
        raise
    count = f", {len(workflows.files)} workflow(s)" if workflows.configured else ""
    print(f"check: {len(render_plan.stacks)} stack(s){count} and {render_plan.samconfig_path} up to date")
    paths = _template_paths(render_plan)
    del render_plan, memo, specs, workflows  # nothing the render held is needed any more
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

        print(cache_key(args.append_rules))
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
    from generator.core.registry import FOLDER_ORIGIN, find, registered

    if args.blueprint:
        from generator.commands.catalog import reference

        sys.stdout.write(reference(find(args.blueprint)))
        return EXIT_OK
    blueprints = registered()
    specs = {}
    if args.manifest.exists():
        from generator.core.manifest import load_manifest

        specs = load_manifest(args.manifest)
    # and those the manifest names by module path
    listed = {**blueprints, **{spec.blueprint: spec.implementation for spec in specs.values()}}
    print("Blueprints:")
    width = max(map(len, listed))
    for name, blueprint in listed.items():
        where = "" if blueprint.origin == FOLDER_ORIGIN else f"  ({blueprint.origin})"
        print(f"  {name:<{width}}  {blueprint.description}{where}")
    if not specs:
        print(f"No stacks: {args.manifest} was not found (here or in a parent folder; --manifest PATH names one)."
              if not args.manifest.exists() else f"No stacks in {args.manifest}.")
    if specs:
        print(f"Stacks in {args.manifest}:")
        width = max(map(len, specs))
        for spec in specs.values():
            print(f"  {spec.name:<{width}}  {spec.blueprint:<16} {', '.join(spec.environments)}  {spec.description}")
    return EXIT_OK


def cmd_new(args) -> int:
    from generator.commands.catalog import append_stanza
    from generator.core.registry import find

    try:
        blueprint = find(args.blueprint)
    except UserError as error:
        raise error.within(stack=args.stack, field_prefix=None) from None
    environments = list(dict.fromkeys(args.env or ["dev"]))
    text = append_stanza(args.manifest, args.stack, blueprint, environments)
    count = text.count('"<REPLACE')
    print(f"{args.manifest}: appended [stacks.{args.stack}] (blueprint {blueprint.name}, environments: {', '.join(environments)}); "
          f"replace its {count} placeholder(s), then run python -m generator render")
    return EXIT_OK


def _template_on_disk(path: Path) -> dict:
    """The template a render would replace ({} when there is none), as data."""
    from generator.commands.live import parse_template

    return parse_template(path.read_text(encoding="utf-8")) if path.exists() else {}


def cmd_diff(args) -> int:
    from generator.core.render import TEMPLATE_FILE, diff, resource_changes
    from generator.review import iam_changes

    if args.live:
        if not args.env:
            raise UserError("--live needs --env ENV: the environment whose deployed stacks to compare with", field="--env")
        from generator.commands.live_diff import run

        return run(args)
    if args.env or args.endpoint_url or args.profile:
        raise UserError("--env, --endpoint-url and --profile compare with deployed stacks: add --live", field="--live")
    render_plan = _plan(args, args.stacks)
    iam = {stack.spec.name: iam_changes.template_changes(_template_on_disk(render_plan.out_dir / stack.spec.name / TEMPLATE_FILE), stack.template)
           for stack in render_plan.stacks}
    for name, changes in iam.items():
        print("\n".join(iam_changes.broadening_lines(name, changes)), end="\n" if any(c.broadening for c in changes) else "")
    for stack in render_plan.stacks:
        added, removed, changed = resource_changes(render_plan, stack)
        if added or removed or changed:
            parts = [f"{label} {', '.join(ids)}" for label, ids in (("added", added), ("removed", removed), ("changed", changed)) if ids]
            print(f"{stack.spec.name}: resources " + "; ".join(parts))
        else:
            print(f"{stack.spec.name}: no resource changes")
        if stack.spec.overrides:
            print(f"{stack.spec.name}: {len(stack.spec.overrides)} hand override(s): "
                  + "; ".join(override.describe().replace("`", "") for override in stack.spec.overrides))
    for name, changes in iam.items():
        print("\n".join(iam_changes.change_lines(name, changes)), end="\n" if changes else "")
    unified = diff(render_plan)
    sys.stdout.write(unified)
    broadenings = [name for name, changes in iam.items() if any(c.broadening for c in changes)]
    if args.fail_on_broadening and broadenings:
        raise CheckFailed(f"IAM broadening in {', '.join(broadenings)} (--fail-on-broadening)")
    return EXIT_FAILED if args.exit_code and unified else EXIT_OK


def cmd_deploy(args) -> int:
    from generator.commands import deploy
    from generator.commands.aws_session import check_endpoint_url
    from generator.core.render import diff

    if len(args.stacks) != 1 or args.with_dependencies or args.force or args.jobs != 1:
        from generator.commands.deploy_env import run

        return run(args)
    if args.profile:
        args.sam_args = [*args.sam_args, "--profile", args.profile]
    render_plan = _plan(args, args.stacks)
    spec = render_plan.stacks[0].spec
    if args.env not in spec.environments:
        from generator.core.options import did_you_mean

        raise UserError(f"unknown environment {args.env!r}{did_you_mean(args.env, spec.environments)}; allowed: {', '.join(spec.environments)}",
                        stack=spec.name, field="--env")
    config_env = spec.config_env(args.env)
    check_endpoint_url(args.endpoint_url, stack=spec.name)  # sam would only fail on it after packaging
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

    if args.count < 1:
        raise UserError(f"{args.count} is not a number of runs; allowed: 1 or more", field="--count")
    render_plan = _plan(args, [args.stack])
    schedules = describe.schedules(render_plan.stacks[0].template)
    if not schedules:
        raise UserError("has no schedule", stack=args.stack)
    now = dt.datetime.now(dt.timezone.utc)
    for schedule in schedules:
        print(f"{schedule['name']}: {schedule['expression']} in {schedule['timezone']}")
        runs = describe.run_times(schedule["expression"], schedule["timezone"], count=args.count, after=now)
        if schedule["expression"].startswith("rate("):
            print("  (a rate counts from when the schedule is created or updated; these are counted from now)")
        if not runs:
            print("  never runs again: no time its fields allow comes later (a year in the past, or a day that never comes)")
        for utc, local in runs:
            print(f"  {utc:%Y-%m-%d %H:%M %a} UTC    {local:%Y-%m-%d %H:%M %a} {schedule['timezone']}")
    return EXIT_OK


def cmd_summary(args) -> int:
    import json
    import os

    from generator.core.render import diff
    from generator.review import summary

    if args.changed_stacks and not args.env:
        raise UserError("--changed-stacks needs --env ENV (the environment being deployed)", field="--env")
    render_plan = _plan(args)
    now = _instant(args.now)
    if args.env and not any(args.env in stack.spec.environments for stack in render_plan.stacks):
        environments = sorted({env for stack in render_plan.stacks for env in stack.spec.environments})
        raise UserError(f"no stack has environment {args.env!r}; environments: {', '.join(environments)}", field="--env")
    head = summary.head_snapshot(render_plan)
    base = summary.base_snapshot(args.base, render_plan, cwd=args.manifest.resolve().parent)
    changes = summary.compare(base, head, now=now, order=[stack.spec.name for stack in render_plan.stacks])
    if args.changed_stacks:
        print(json.dumps(summary.changed_in(changes, args.env, base, head)))
        return EXIT_OK
    text = summary.markdown(changes, base=base, now=now, stale=bool(diff(render_plan)))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:  # GitHub shows what each step appends
            handle.write(text)
        print(f"summary: {len(changes)} stack(s) changed against {args.base or 'nothing'}; written to $GITHUB_STEP_SUMMARY")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_pipeline(args) -> int:
    from generator.core.manifest import load_manifest
    from generator.core.pipeline import plan_pipeline, write_pipeline

    workflows = plan_pipeline(args.manifest, load_manifest(args.manifest))
    changed = set(write_pipeline(workflows))
    for path in workflows.files:
        print(f"{path}: {'updated' if path in changed else 'unchanged'}")
    for path in workflows.stale:
        print(f"{path}: removed (the manifest no longer generates it)")
    return EXIT_OK


def _instant(text: str | None):
    import datetime as dt

    if text is None:
        return dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{text!r} is not an ISO 8601 time such as 2026-01-31T09:00", field="--now") from None
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def cmd_test_event(args) -> int:
    from generator.review.event_simulator import run

    return run(args.manifest, args.stack, args.event, environment=args.env, as_json=args.json)


def cmd_run(args) -> int:
    from generator.commands.run_job import run

    return run(args)


def cmd_status(args) -> int:
    if args.count < 1:
        raise UserError(f"{args.count} is not a number of runs; allowed: 1 or more", field="--count")
    from generator.commands.status import run

    return run(args)


def cmd_logs(args) -> int:
    from generator.commands.logs import run

    return run(args)


def cmd_teardown(args) -> int:
    from generator.commands.teardown import run

    return run(args)


COMMANDS = {"render": cmd_render, "check": cmd_check, "lint": cmd_lint, "list": cmd_list, "new": cmd_new, "test-event": cmd_test_event,
            "diff": cmd_diff, "deploy": cmd_deploy, "next-runs": cmd_next_runs, "run": cmd_run, "status": cmd_status,
            "logs": cmd_logs, "teardown": cmd_teardown, "summary": cmd_summary, "pipeline": cmd_pipeline}
