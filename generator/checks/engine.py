"""Lint templates: cfn-lint as a library, with the project's policy rules appended.

One cfn-lint rule set is built per process (importing cfn-lint and building it is the
expensive part, about 0.6 s and 140 MB) and every template is run through it. The project's
rules live in ``generator/checks/rules/`` and are loaded with cfn-lint's append-rules
mechanism (a rules directory), so ``lint`` is one cfn-lint run.

SAM templates: cfn-lint 1.58 no longer runs aws-sam-translator (it validates
``AWS::Serverless::*`` resources against SAM schemas and only merges ``Globals``;
see ``cfnlint/template/transforms/transform.py``). So the policy rules would never see
the roles, functions and state machines SAM generates. For a template with
``Transform: AWS::Serverless-2016-10-31`` this module therefore runs cfn-lint's own
rules on the template as written, translates it with aws-sam-translator (as
CloudFormation would), and runs the policy rules on the translated template.
aws-sam-translator is required for that: without it a SAM template is an error
(``LintEngineError``), never a silent skip.

Many templates are linted by worker processes forked once the rule set is built (so no worker
builds it again), one template at a time, largest first; templates with the same content are
linted once; and with a cache directory a template whose content, cfn-lint, aws-sam-translator,
project version and rule sources are unchanged is not linted again. ``BackgroundLint`` runs all
that in a forked process while ``check`` renders and compares.

What is not repeated (each with the same findings, see ``generator/checks/fast_paths.py``
and ``tests/test_lint_equivalence.py``): the translated SAM template's resource schema
checks cover only what the transform generated (cfn-lint's findings anywhere else in it are
discarded anyway); cfn-lint's validator classes are built once per process, not once per
property; an ASL definition already checked in this process is not checked again.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import gc
import hashlib
import json
import multiprocessing
import os
import re
import signal
import tempfile
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable

import generator
from generator.core.cache import CACHE_DIR_VARIABLE, project_cache_dir, user_cache_dir  # noqa: F401  (re-exported)
from generator.checks import fast_paths
from generator.checks.cfn_setup import REGIONS, RULES_DIR, Engine, rule_engine as _engine, rule_files, user_rules
from generator.checks.findings import Finding, LintEngineError
from generator.core.errors import UserError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
# Up to this many templates, linting them in this process is about as fast as handing them to workers.
PARALLEL_THRESHOLD = 8
CACHE_FORMAT = 2  # 2: each finding stores its file (ASL findings point into the .asl.json)


# --- one template ----------------------------------------------------------------------


def _findings(path: str, matches: Iterable[Any]) -> list[Finding]:
    found = {
        Finding(path, match.linenumber, match.columnnumber, match.rule.id, match.rule.severity, match.message)
        for match in matches
    }
    kept = [finding for finding in found if finding.level in ("error", "warning")]
    return sorted(kept, key=lambda f: (f.line, f.column, f.rule, f.message))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _lint_one(path: str, engine: Engine, *, shortcuts: bool = True) -> list[Finding]:
    """Findings for one template. ``shortcuts=False`` lints without generator.checks.fast_paths (the
    reference the equivalence test compares with)."""
    from cfnlint.decode import decode
    from cfnlint.runner.template import run_template_by_file_path

    with fast_paths.validator_classes_reused() if shortcuts else contextlib.nullcontext():
        template = None
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            text = ""  # cfn-lint reports the unreadable file itself
        # Cheap test first: only a template that names the transform can be a SAM template.
        if SAM_TRANSFORM in text:
            decoded, errors = decode(path)
            if not errors and isinstance(decoded, dict) and SAM_TRANSFORM in _as_list(decoded.get("Transform")):
                template = decoded
        if template is None:
            return _findings(path, run_template_by_file_path(path, engine.config, engine.all_rules, False))
        from generator.checks.asl_lint import asl_findings  # imports Finding from here

        matches = list(run_template_by_file_path(path, engine.config, engine.cfn_rules, False))
        translated = _lint_sam_translated(path, template, engine, shortcuts=shortcuts)
        # cfn-lint never sees a state machine's DefinitionUri file: asl_findings lints it (from the
        # template decoded above: the translation worked on a copy).
        return _findings(path, matches + translated) + asl_findings(path, template=template, reuse=shortcuts)


# --- SAM: translate, then lint what CloudFormation would deploy ---------------------------

# Local paths that `sam deploy` uploads; the translator only accepts S3 locations there.
_LOCAL_URI_PROPERTIES = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
}
_PLACEHOLDER_S3_URI = "s3://placeholder-bucket/placeholder-key"


def _replace_local_uris(template: dict[str, Any]) -> None:
    sections: list[tuple[str, Any]] = []
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict):
            sections.append((resource.get("Type"), resource.get("Properties")))
    for kind, properties in (template.get("Globals") or {}).items():
        sections.append((f"AWS::Serverless::{kind}", properties))
    for resource_type, properties in sections:
        if not isinstance(properties, dict):
            continue
        for key in _LOCAL_URI_PROPERTIES.get(resource_type, ()):
            value = properties.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                properties[key] = _PLACEHOLDER_S3_URI


@functools.cache
def _boto_session() -> Any:
    import boto3  # a dependency of aws-sam-translator

    return boto3.session.Session(region_name=REGIONS[0])


def _sam_translator(path: str) -> tuple[Any, Any, type[Exception]]:
    try:
        import samtranslator  # noqa: F401  (import the package first: a clear ImportError when it is missing)
        from samtranslator.parser.parser import Parser
        from samtranslator.public.exceptions import InvalidDocumentException
        from samtranslator.translator.translator import Translator
    except ImportError as error:
        raise LintEngineError(
            f"{path}: Transform {SAM_TRANSFORM} needs aws-sam-translator to be linted, and it is not installed "
            "(pip install aws-sam-translator); without it the policy rules cannot see the resources SAM generates"
        ) from error
    return Translator, Parser, InvalidDocumentException


def _copied_from_file(template: dict[str, Any], path: list[Any]) -> bool:
    """Whether the value at ``path`` inside a generated resource came from the file (has a position).

    cfn-lint falls back to the nearest ancestor with a position, which for a generated resource
    is the ``Resources`` key: not a useful place to point at.
    """
    node: Any = template
    for depth, step in enumerate(path):
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return False
        if depth >= 2 and hasattr(node, "start_mark"):
            return True
    return False


def _lint_sam_translated(path: str, template: dict[str, Any], engine: Engine, *, shortcuts: bool = True) -> list[Any]:
    from cfnlint.match import Match
    from cfnlint.rules.errors import TransformError
    from cfnlint.runner.template import run_template_by_data

    translator_class, parser_class, invalid_document = _sam_translator(path)
    resources = template.get("Resources") if isinstance(template.get("Resources"), dict) else {}

    def position_of(logical_id: str | None) -> tuple[int, int]:
        for key in resources:
            if key == logical_id and hasattr(key, "start_mark"):
                return key.start_mark.line + 1, key.start_mark.column + 1
        return 1, 1

    def transform_error(message: str) -> Any:
        # SAM's messages name the resource: "Resource with id [Machine] is invalid. ..."
        named = re.search(r"\[([A-Za-z0-9]+)\]", message)
        line, column = position_of(named.group(1) if named else None)
        return Match.create(
            message=f"SAM transform failed: {message}",
            filename=path,
            rule=TransformError(),
            linenumber=line,
            columnnumber=column,
        )

    sam_template = copy.deepcopy(template)  # keeps cfn-lint's line marks on the copied values
    _replace_local_uris(sam_template)
    translator = translator_class(managed_policy_map={}, sam_parser=parser_class(), boto_session=_boto_session())
    try:
        translated = translator.translate(sam_template=sam_template, parameter_values={})
    except invalid_document as error:
        return [transform_error(cause.message) for cause in error.causes]
    except Exception as error:  # noqa: BLE001  the translator raises assorted errors on odd input; report, never hide
        return [transform_error(f"{type(error).__name__}: {error}")]
    finally:
        translator.metrics.publish()  # to its no-op publisher; unpublished metrics log a warning at exit

    # What the transform made or turned into CloudFormation: cfn-lint validates a SAM resource
    # against SAM's schema only, so e.g. a Function's Runtime is checked here, on the Lambda
    # function it becomes.
    generated_ids = {
        key for key, value in (translated.get("Resources") or {}).items()
        if key not in resources or str((resources.get(key) or {}).get("Type", "")).startswith("AWS::Serverless::")
    }
    sam_ids = sorted(
        (key for key, value in resources.items()
         if isinstance(value, dict) and str(value.get("Type", "")).startswith("AWS::Serverless::")),
        key=len,
        reverse=True,
    )
    policy_ids = set(engine.policy_rules.keys())
    # cfn-lint's findings count only on what the transform generated: its resource schema checks
    # (most of a lint) need to walk nothing else (see generator.checks.fast_paths).
    restrict = shortcuts and fast_paths.restriction_is_exact(translated, engine.stateful_types)
    with fast_paths.resource_schema_only_on(engine.all_rules, generated_ids) if restrict else contextlib.nullcontext():
        matches = list(run_template_by_data(translated, engine.config, engine.all_rules))
    results = []
    for match in matches:
        match_path = getattr(match, "path", None) or []
        logical_id = match_path[1] if len(match_path) > 1 and match_path[0] == "Resources" else None
        if match.rule.id not in policy_ids and logical_id not in generated_ids:
            continue  # cfn-lint's run on the file as written already checked it
        if logical_id is None or logical_id in resources:
            if match.rule.id not in policy_ids:  # a SAM resource, as the transform turned it into CloudFormation
                match = replace(match, message=f"{match.message} (in {logical_id} after the SAM transform)")
            results.append(match)
            continue
        # A resource SAM generated: say so, and point at the SAM resource it came from when the
        # offending value has no position of its own (it was generated, not copied from the file).
        source = next((sam_id for sam_id in sam_ids if str(logical_id).startswith(sam_id)), None)
        origin = " (generated by the SAM transform" + (f" from {source})" if source else ")")
        if _copied_from_file(translated, match_path):
            line, column = match.linenumber, match.columnnumber
        else:
            line, column = position_of(source)
        results.append(replace(match, message=match.message + origin, linenumber=line, columnnumber=column))
    return results


# --- batches, workers, cache ------------------------------------------------------------


def _lint_batch(paths: list[str], rule_dirs: tuple[str, ...] = ()) -> dict[str, list[Finding]]:
    """Lint every template in one cfn-lint run (one rule set); the unit a worker process runs."""
    engine = _engine(rule_dirs)
    return {path: _lint_one(path, engine) for path in paths}


def _worker_count(templates: int, jobs: int | None) -> int:
    if jobs == 1 or templates <= PARALLEL_THRESHOLD:
        return 1
    return max(1, min(jobs or os.cpu_count() or 1, templates))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _lint_many(paths: list[str], jobs: int | None, rule_dirs: tuple[str, ...] = ()) -> dict[str, list[Finding]]:
    workers = _worker_count(len(paths), jobs)
    if workers == 1:
        return _lint_batch(paths, rule_dirs) if paths else {}
    # Largest first, one template at a time to whichever worker is free: the run ends with small
    # templates instead of one worker still busy with a large one while the others idle.
    order = sorted(paths, key=_size, reverse=True)
    context = None
    if "fork" in multiprocessing.get_all_start_methods():
        # Set cfn-lint up once, here: forked workers start with its modules, rules and the SAM
        # translator in memory instead of importing and building them again (about 1 s each).
        # gc.freeze() keeps the collector of each worker off those inherited objects, so their
        # memory pages stay shared with this process instead of being copied.
        _warm_up(rule_dirs, sam=any(SAM_TRANSFORM in _text(path) for path in paths))
        context = multiprocessing.get_context("fork")
        gc.freeze()
    results: dict[str, list[Finding]] = {}
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            _POOLS.append(pool)
            try:
                for findings in pool.map(functools.partial(_lint_batch, rule_dirs=rule_dirs), [[path] for path in order]):
                    results.update(findings)
            finally:
                _POOLS.remove(pool)
    finally:
        if context is not None:
            gc.unfreeze()
    return results


def _text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _warm_up(rule_dirs: tuple[str, ...], *, sam: bool) -> None:
    _engine(rule_dirs)
    if sam:
        try:
            _sam_translator("")
            _boto_session()
        except LintEngineError:
            pass  # each SAM template reports it, with its path


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _engine_fingerprint(rule_dirs: tuple[str, ...] = ()) -> str:
    """What, besides the template, decides the findings: tool versions, this module, the rules'
    sources, and those of the users' rule folders (--append-rules, read again on each call)."""
    digest = hashlib.sha256(_project_fingerprint().encode())
    for folder in rule_dirs:
        digest.update(b"\0append-rules\0")
        for source in rule_files(folder):
            digest.update(source.relative_to(folder).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def _project_fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (f"format={CACHE_FORMAT}", _package_version("cfn-lint"), _package_version("aws-sam-translator"),
                 _package_version("botocore"), generator.__version__, ",".join(REGIONS)):
        digest.update(part.encode() + b"\0")
    here = Path(__file__).resolve().parent
    # (the policy rules read ARNs and the actions allowed on "*" from the building blocks)
    for source in [Path(__file__).resolve(), here / "asl_lint.py", here / "cfn_setup.py", here / "fast_paths.py",
                   here / "findings.py", here.parent / "aws" / "step_functions.py", here.parent / "aws" / "arns.py",
                   here.parent / "aws" / "iam.py", *sorted(RULES_DIR.glob("*.py"))]:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def _cache_key(path: str, rule_dirs: tuple[str, ...] = ()) -> str | None:
    """The template's bytes and those of the state machine definitions it points at (read once
    each), with the engine's fingerprint: equal keys lint to the same findings."""
    from generator.checks.asl_lint import definition_files

    try:
        template = Path(path).read_bytes()
        contents = [template] + [file.read_bytes() for file in definition_files(path, text=template.decode("utf-8"))
                                 if file.exists()]
    except (OSError, UnicodeError):
        return None  # not cached: cfn-lint reports the missing or unreadable file
    return hashlib.sha256(_engine_fingerprint(rule_dirs).encode() + b"\0" + b"\0".join(contents)).hexdigest()


def _portable(findings: list[Finding], path: str) -> list[list[Any]]:
    """Each finding with its file relative to the template's folder ("" for the template), so the
    same result is right for the same content wherever it is linted from."""
    def where(finding: Finding) -> str:
        return "" if finding.path == path else os.path.relpath(finding.path, os.path.dirname(path) or ".")

    return [[where(f), f.line, f.column, f.rule, f.level, f.message] for f in findings]


def _placed(entries: list[list[Any]], path: str) -> list[Finding]:
    return [Finding(os.path.join(os.path.dirname(path), where) if where else path,
                    int(line), int(column), str(rule), str(level), str(message))
            for where, line, column, rule, level, message in entries]


def _cache_read(cache_dir: Path, key: str, path: str) -> list[Finding] | None:
    try:
        entry = json.loads((cache_dir / f"{key}.json").read_text(encoding="utf-8"))
        if entry["key"] != key:
            return None
        return _placed(entry["findings"], path)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or corrupted: lint again


def _cache_write(cache_dir: Path, key: str, path: str, findings: list[Finding]) -> None:
    entry = {"key": key, "findings": _portable(findings, path)}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=cache_dir, suffix=".tmp", delete=False) as tmp:
            json.dump(entry, tmp)
        os.replace(tmp.name, cache_dir / f"{key}.json")
    except OSError:
        pass  # a cache that cannot be written only costs time


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ecs-batch-templates/lint``, or ``~/.cache/ecs-batch-templates/lint``."""
    return user_cache_dir("lint")


def lint_cache_dir(given: Path | None = None) -> Path:
    """The lint results' folder: ``lint/`` in ``given`` (``--cache-dir``), else in
    ``$ECS_BATCH_TEMPLATES_CACHE_DIR`` (a CI job restores and saves it between runs), else
    ``default_cache_dir()``."""
    return project_cache_dir("lint", given)


def cache_key(append_rules: Iterable[str | Path] = ()) -> str:
    """A name for the lint cache that changes whenever a cached result could: with cfn-lint's version
    readable in it, and the fingerprint of everything else (SAM translator, botocore, this project,
    the rules' sources). Entries are keyed by it too, so a cache restored under an old key is
    never wrong, only useless."""
    rule_dirs = tuple(str(Path(folder).resolve()) for folder in append_rules)
    return f"ecs-batch-templates-lint-cfn-lint-{_package_version('cfn-lint')}-{_engine_fingerprint(rule_dirs)[:16]}"


# --- the API ----------------------------------------------------------------------------


def lint_paths(
    paths: list[str | Path], *, cache_dir: Path | None = None, jobs: int | None = None, append_rules: Iterable[str | Path] = ()
) -> list[Finding]:
    """Errors and warnings for each template, in the order given (a path given twice is linted once;
    informational findings are dropped).

    ``jobs``: 1 lints in this process; otherwise more than PARALLEL_THRESHOLD templates are split
    over ``jobs`` (default: ``os.cpu_count()``) worker processes. Templates whose content (and that
    of their definition files) is the same are linted once. ``append_rules``: folders of the
    user's own cfn-lint rules, run as policy rules (cfn-lint's --append-rules).
    """
    for folder in append_rules:
        if not Path(folder).is_dir():
            raise UserError(f"{str(folder)!r} is not a folder of cfn-lint rules", field="--append-rules")
    rule_dirs = tuple(str(Path(folder).resolve()) for folder in append_rules)
    if rule_dirs:
        user_rules(rule_dirs)  # a bad folder is the user's mistake: reported here, before any worker starts
    given = list(dict.fromkeys(str(path) for path in paths))
    keys = {path: _cache_key(path, rule_dirs) for path in given}
    results: dict[str, list[Finding]] = {}
    if cache_dir is not None:
        for path in given:
            cached = _cache_read(Path(cache_dir), keys[path], path) if keys[path] else None
            if cached is not None:
                results[path] = cached
    # One template per distinct content (a path that cannot be read is its own)
    first_with: dict[str, str] = {}
    for path in given:
        if path not in results:
            first_with.setdefault(keys[path] or path, path)
    linted = _lint_many(list(first_with.values()), jobs, rule_dirs)
    for path in given:
        if path in results:
            continue
        key = keys[path]
        first = first_with[key or path]
        results[path] = linted[first] if first == path else _placed(_portable(linted[first], first), path)
        # store only if the file did not change while it was linted
        if cache_dir is not None and key and first == path and _cache_key(path, rule_dirs) == key:
            _cache_write(Path(cache_dir), key, path, results[path])
    return [finding for path in given for finding in results[path]]


class BackgroundLint:
    """``lint_paths`` in a forked process, so the caller can do something else meanwhile (``check``
    renders and compares while the templates on disk are linted). Where processes cannot be forked,
    the lint runs in ``findings()``, in this process."""

    def __init__(self, paths: list[str | Path] | Callable[[], list[str | Path]], *, cache_dir: Path | None = None,
                 jobs: int | None = None, append_rules: Iterable[str | Path] = ()) -> None:
        # `paths` may be a function, called where the lint runs: the caller then forks before it
        # has even read its input, and the lint process holds none of it.
        self.arguments = (paths, cache_dir, jobs, tuple(append_rules))
        self.process = None
        if "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self.receiver, sender = context.Pipe(duplex=False)
            # not a daemon: a daemon process may not start the worker processes
            self.process = context.Process(target=_lint_in_background, args=(sender, *self.arguments))
            self.process.start()
            sender.close()

    def findings(self) -> list[Finding]:
        if self.process is None:
            paths, cache_dir, jobs, append_rules = self.arguments
            return lint_paths(paths() if callable(paths) else paths, cache_dir=cache_dir, jobs=jobs, append_rules=append_rules)
        try:
            kind, payload = self.receiver.recv()
        except EOFError:
            kind, payload = "crash", f"the lint process ended without a result (exit code {self.process.exitcode})"
        finally:
            self.process.join()
        if kind == "error":
            raise LintEngineError(payload)
        if kind == "user error":
            message, stack, field = payload
            raise UserError(message, stack=stack, field=field)
        if kind == "crash":
            raise RuntimeError(f"lint failed:\n{payload}")
        return [Finding(*fields) for fields in payload]

    def cancel(self) -> None:
        """Stop linting (the caller found no reason to): the process and its workers end now."""
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join()


_POOLS: list[Any] = []  # this process's worker pools, for BackgroundLint.cancel


def _lint_in_background(sender: Any, paths: Any, cache_dir: Path | None, jobs: int | None, append_rules: tuple) -> None:
    def stop(signum: int, frame: Any) -> None:
        for pool in _POOLS:
            for worker in list(getattr(pool, "_processes", {}).values()):
                worker.terminate()
        os._exit(1)

    signal.signal(signal.SIGTERM, stop)
    try:
        findings = lint_paths(paths() if callable(paths) else paths, cache_dir=cache_dir, jobs=jobs, append_rules=append_rules)
        sender.send(("ok", [dataclasses.astuple(finding) for finding in findings]))
    except LintEngineError as error:
        sender.send(("error", str(error)))
    except UserError as error:
        sender.send(("user error", (error.message, error.stack, error.field)))
    except BaseException:  # noqa: BLE001  a bug: the caller shows it
        sender.send(("crash", traceback.format_exc()))
    finally:
        sender.close()


def lint_text(text: str, name: str = "template.yaml", files: dict[str, str] | None = None,
              append_rules: Iterable[str | Path] = ()) -> list[Finding]:
    """Lint a template given as text (for tests), with `files` (relative path → text) beside it;
    findings on the template carry ``name`` as their path."""
    with tempfile.TemporaryDirectory(prefix="lint-") as directory:
        path = Path(directory) / (Path(name).name or "template.yaml")
        path.write_text(text, encoding="utf-8")
        for relative, content in (files or {}).items():
            (Path(directory) / relative).parent.mkdir(parents=True, exist_ok=True)
            (Path(directory) / relative).write_text(content, encoding="utf-8")
        return [replace(finding, path=name) if finding.path == str(path) else finding
                for finding in _lint_batch([str(path)], tuple(str(Path(folder).resolve()) for folder in append_rules))[str(path)]]
