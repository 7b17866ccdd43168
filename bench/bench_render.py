"""Benchmark: render, check and lint at scale, against troposphere's own to_yaml() on the same templates.

First, a cold `python -m generator render` of the repository's stacks.toml (empty user cache, then
warm). Then synthetic manifests of N stacks, made by repeating the example stacks of stacks.toml
(every blueprint) under new names. For each N it measures:
  render, cold process   `python -m generator render` in a fresh process (imports counted), wall time and peak RSS
  render, in process     plan + write in this process (imports already paid), fresh output folder
  plan, in process       the same without writing: what the file system does not account for
  check, unchanged       `python -m generator check` on the rendered output, lint cache warm
  to_yaml baseline       troposphere Template.to_yaml() on the same templates (serialisation only)
  lint, cold / cached    generator.checks.engine.lint_paths over the rendered templates, empty cache then warm
and fits fixed cost + per-stack slope. Results go to bench/results.json and a table on stdout.

Then, for the lint at scale (issue 16): a cold `check` (empty cache) beside cfn-lint's command line over
the same rendered templates, one process and one process per core, for 100 and 500 stacks, alternated
in the same run; and a repository of 1,000 stacks: cold render against the naive troposphere render
(whole processes), then `render` and `check` with nothing changed and with one stack changed, with
each process's peak RSS.

Usage: python bench/bench_render.py [--sizes 1,10,50,200,500] [--lint-max 200] [--cold-check 100,500]
       [--rounds 1] [--repository 1000]
Stdlib and the project only. Run it by hand on a quiet machine; nothing in the test suite times anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADER = re.compile(r"^\[stacks\.([a-z0-9-]+)((?:\.[A-Za-z0-9_.-]+)?)\]", re.MULTILINE)
HEADER_STACKS = re.compile(r"^\[stacks\.([a-z0-9-]+)\]", re.MULTILINE)
ANY_TABLE = re.compile(r"^\[", re.MULTILINE)


def synthetic_manifest(size: int) -> str:
    """`size` stacks cycling through the examples; stack names get a numeric suffix."""
    source = (REPO / "stacks.toml").read_text(encoding="utf-8")
    blocks: dict[str, list[str]] = {}
    tables = list(ANY_TABLE.finditer(source))  # a stack's block ends at the next table, [pipeline] included
    for match, nxt in zip(tables, tables[1:] + [None]):
        stack = HEADER.match(source, match.start())
        if stack:
            blocks.setdefault(stack.group(1), []).append(source[match.start(): nxt.start() if nxt else len(source)])
    names = list(blocks)
    out = []
    for index in range(size):
        seed = names[index % len(names)]
        name = f"{seed}-{index // len(names)}"[:63]
        text = "".join(blocks[seed])
        text = re.sub(rf"^\[stacks\.{re.escape(seed)}(\.|\])", lambda m: f"[stacks.{name}{m.group(1)}", text, flags=re.MULTILINE)
        # A stack that names another (import_from) names the copy of it in its own round of the
        # examples (each round holds every example stack, the named one before the one naming it).
        text = re.sub(r'^(import_from\s*=\s*")([a-z0-9-]+)"', lambda m: f'{m.group(1)}{m.group(2)}-{index // len(names)}"', text, flags=re.MULTILINE)
        out.append(text)
    return "".join(out)


def run_process(args: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one child process. Output goes to a file, not a pipe:
    a child that fills a pipe nobody reads until it exits would never exit."""
    elapsed, peak_mb, _, output = run_processes([args], cwd, env)
    return elapsed, peak_mb, output


def run_processes(commands: list[list[str]], cwd: Path, env: dict | None = None) -> tuple[float, float, float, str]:
    """Wall seconds until the last of these processes (started together) ends, the peak RSS (MB) of
    the largest process among them and their descendants (wait4's ru_maxrss covers the children a
    process reaped), their CPU seconds (user + system, descendants included), and their output."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output_file:
        start = time.perf_counter()
        processes = [subprocess.Popen(args, cwd=cwd, env=env, stdout=output_file, stderr=subprocess.STDOUT, text=True)
                     for args in commands]
        peak, cpu, failed = 0.0, 0.0, []
        for process, args in zip(processes, commands):
            _, status, usage = os.wait4(process.pid, 0)
            peak = max(peak, usage.ru_maxrss / 1024)
            cpu += usage.ru_utime + usage.ru_stime
            if os.waitstatus_to_exitcode(status) != 0:
                failed.append(" ".join(args[:4]))
        elapsed = time.perf_counter() - start
        output_file.seek(0)
        output = output_file.read()
    if failed:
        raise SystemExit(f"{failed[0]} failed:\n{output[-2000:]}")
    return elapsed, peak, cpu, output


def cpu_reference() -> float:
    """Seconds for a fixed pure-Python loop (best of five): how fast this machine was during this
    run, to compare runs on a machine whose speed varies (a shared VM)."""
    def spin() -> float:
        start = time.perf_counter()
        sum(range(10_000_000))
        return time.perf_counter() - start
    return min(spin() for _ in range(5))


def best_of(repeat: int, function):
    return min(function() for _ in range(repeat))


def _paths(folder: Path) -> list[str]:
    return ["--manifest", str(folder / "stacks.toml"), "--out", str(folder / "out"), "--samconfig", str(folder / "samconfig.toml")]


def measure_processes(size: int, work: Path) -> dict:
    """Cold `render` processes. Run before this process imports the generator: a forked child's peak
    RSS counts the parent's pages until exec, so a large parent would inflate it."""
    folder = work / f"n{size}"
    folder.mkdir()
    (folder / "stacks.toml").write_text(synthetic_manifest(size), encoding="utf-8")
    paths = _paths(folder)
    result: dict = {"stacks": size}

    def cold_render():
        shutil.rmtree(folder / "out", ignore_errors=True)
        (folder / "samconfig.toml").unlink(missing_ok=True)
        return run_process([sys.executable, "-m", "generator", "render", *paths], REPO)

    runs = [cold_render() for _ in range(3)]
    result["render_cold_s"] = min(r[0] for r in runs)
    result["render_peak_rss_mb"] = max(r[1] for r in runs)
    return result


def measure_example(work: Path) -> dict:
    """Cold `render` of the repository's own stacks.toml into a scratch folder: first with an empty
    user cache (a fresh CI machine: the README template is compiled), then the best of five with
    the cache warm (a developer's machine)."""
    folder = work / "example"
    folder.mkdir()
    shutil.copy(REPO / "stacks.toml", folder / "stacks.toml")
    args = [sys.executable, "-m", "generator", "render", *_paths(folder)]
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "xdg")}

    def cold_render():
        shutil.rmtree(folder / "out", ignore_errors=True)
        (folder / "samconfig.toml").unlink(missing_ok=True)
        return run_process(args, REPO, env)[0]

    first = cold_render()
    return {"stacks": len(HEADER_STACKS.findall((folder / "stacks.toml").read_text(encoding="utf-8"))),
            "render_cold_empty_cache_s": first, "render_cold_s": best_of(5, cold_render)}


def measure_in_process(result: dict, work: Path) -> dict:
    from generator.core.manifest import load_manifest
    from generator.core.render import plan, write

    size = result["stacks"]
    folder = work / f"n{size}"
    manifest = folder / "stacks.toml"
    specs = load_manifest(manifest)

    def in_process():
        out = work / f"inproc{size}"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        write(plan(specs, only=None, manifest_path=manifest, out_dir=out, samconfig_path=out / "samconfig.toml"))
        return time.perf_counter() - start

    result["render_in_process_s"] = best_of(3, in_process)

    def plan_only():
        # The same without the writes: what is left of render when the file system is free.
        out = work / f"plan{size}"
        start = time.perf_counter()
        plan(specs, only=None, manifest_path=manifest, out_dir=out, samconfig_path=out / "samconfig.toml")
        return time.perf_counter() - start

    result["plan_in_process_s"] = best_of(3, plan_only)

    def baseline():
        # The same templates as render builds them, serialised by troposphere (cfn-flip): the
        # reference the render path is measured against.
        from generator.core.render import stack_context
        templates = [spec.implementation.build(spec.options, stack_context(spec)).template for spec in specs.values()]
        start = time.perf_counter()
        for template in templates:
            template.to_yaml()
        return time.perf_counter() - start

    result["troposphere_to_yaml_s"] = best_of(2, baseline)
    result["render_vs_to_yaml"] = result["render_in_process_s"] / result["troposphere_to_yaml_s"]

    return result


def measure_lint(result: dict, work: Path) -> dict:
    """Lint and check, after every render is measured: cfn-lint's modules and caches make this
    process's heap many times larger, and a larger heap slows the garbage collector in whatever
    is timed next."""
    from generator.checks.engine import lint_paths
    from generator.core.manifest import load_manifest
    from generator.core.render import TEMPLATE_FILE

    size = result["stacks"]
    folder = work / f"n{size}"
    paths = _paths(folder)
    specs = load_manifest(folder / "stacks.toml")
    templates = [folder / "out" / name / TEMPLATE_FILE for name in specs]
    cache = folder / "lint-cache"
    start = time.perf_counter()
    findings = lint_paths(templates, cache_dir=cache)
    result["lint_cold_s"] = time.perf_counter() - start
    start = time.perf_counter()
    lint_paths(templates, cache_dir=cache)
    result["lint_cached_s"] = time.perf_counter() - start
    result["lint_findings"] = len(findings)
    env_cache = {**os.environ, "XDG_CACHE_HOME": str(folder / "xdg")}
    subprocess.run([sys.executable, "-m", "generator", "check", *paths], cwd=REPO, env=env_cache, capture_output=True)
    start = time.perf_counter()
    check = subprocess.run([sys.executable, "-m", "generator", "check", *paths], cwd=REPO, env=env_cache, capture_output=True, text=True)
    result["check_unchanged_s"] = time.perf_counter() - start
    result["check_exit"] = check.returncode
    return result


# --- lint at scale: cold `check` beside cfn-lint, and 1,000 stacks with one changed --------------------

GENERATOR = [sys.executable, "-m", "generator"]


def repo_env() -> dict:
    """This checkout's generator first (the children run in scratch folders, where `-m generator`
    would otherwise find whatever is installed)."""
    return {**os.environ, "PYTHONPATH": str(REPO)}
CFN_LINT = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"]


def render_into(folder: Path, size: int) -> list[str]:
    """A synthetic manifest of `size` stacks rendered into folder/out; the template paths (relative)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stacks.toml").write_text(synthetic_manifest(size), encoding="utf-8")
    run_process([*GENERATOR, "render", *_paths(folder), "--no-cache"], REPO, repo_env())
    return sorted(str(path.relative_to(folder)) for path in (folder / "out").glob("*/template.yaml"))


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def measure_cold_check(size: int, work: Path, rounds: int) -> dict:
    """`python -m generator check` with an empty cache (lint and render), beside cfn-lint's command
    line over the same templates: one process, and one process per core (the templates dealt
    round-robin), alternated `rounds` times in this run so that each sees the same machine."""
    folder = work / f"cold{size}"
    templates = render_into(folder, size)
    cores = os.cpu_count() or 1
    commands = {
        "cfn_lint_one_process": lambda: [[*CFN_LINT, *templates]],
        "cfn_lint_per_core": lambda: [[*CFN_LINT, *templates[index::cores]] for index in range(cores)],
        "check_cold": lambda: [[*GENERATOR, "check", *_paths(folder), "--cache-dir", str(fresh_cache(folder))]],
    }
    runs: dict[str, list[dict]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            before = load_average()
            elapsed, peak, cpu, _ = run_processes(command(), folder, repo_env())
            runs[name].append({"s": round(elapsed, 2), "cpu_s": round(cpu, 2), "peak_rss_mb": round(peak),
                               "load_before": before, "load_after": load_average()})
    result = {"stacks": size, "templates": len(templates), "cores": cores, "rounds": runs}
    for name, values in runs.items():
        result[f"{name}_s"] = min(run["s"] for run in values)
        result[f"{name}_cpu_s"] = min(run["cpu_s"] for run in values)
    result["check_vs_per_core"] = result["check_cold_s"] / result["cfn_lint_per_core_s"]
    result["check_vs_per_core_cpu"] = result["check_cold_cpu_s"] / result["cfn_lint_per_core_cpu_s"]
    return result


def fresh_cache(folder: Path) -> Path:
    cache = folder / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    return cache


def naive_troposphere_render(folder: Path) -> list[str]:
    """The naive way, in a fresh process: build each stack's troposphere template and write
    Template.to_yaml() to out/<stack>/template.yaml (no README, no samconfig)."""
    script = (
        "import sys; from pathlib import Path\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from generator.core.manifest import load_manifest, manifest_stacks\n"
        "from generator.core.render import stack_context\n"
        "specs = load_manifest(Path('stacks.toml'))\n"
        "manifest = manifest_stacks(specs.values())\n"
        "for spec in specs.values():\n"
        "    template = spec.implementation.build(spec.options, stack_context(spec, manifest)).template\n"
        "    out = Path('naive') / spec.name\n"
        "    out.mkdir(parents=True, exist_ok=True)\n"
        "    (out / 'template.yaml').write_text(template.to_yaml(), encoding='utf-8')\n"
    )
    return [sys.executable, "-c", script]


def measure_thousand(size: int, work: Path) -> dict:
    """A repository of `size` stacks: cold render (whole process, READMEs and samconfig) against the
    naive troposphere render; then, with warm caches, `check` with nothing changed, and with one
    stack changed and rendered (its template is the one not in the lint cache)."""
    folder = work / f"repo{size}"
    folder.mkdir()
    (folder / "stacks.toml").write_text(synthetic_manifest(size), encoding="utf-8")
    cache = ["--cache-dir", str(folder / "cache")]
    result: dict = {"stacks": size}

    def clean_output():
        shutil.rmtree(folder / "out", ignore_errors=True)
        shutil.rmtree(folder / "naive", ignore_errors=True)
        (folder / "samconfig.toml").unlink(missing_ok=True)

    clean_output()
    result["render_cold_s"], result["render_cold_peak_rss_mb"], _ = run_process(
        [*GENERATOR, "render", *_paths(folder), "--no-cache"], folder, repo_env())
    result["naive_troposphere_s"], result["naive_troposphere_peak_rss_mb"], _ = run_process(naive_troposphere_render(folder), folder, repo_env())
    result["render_vs_naive"] = result["render_cold_s"] / result["naive_troposphere_s"]
    # Fill the caches (lint results of every template, the render memo): a CI cache after a run.
    result["check_fill_caches_s"], result["check_fill_caches_peak_rss_mb"], _ = run_process(
        [*GENERATOR, "check", *_paths(folder), *cache], folder, repo_env())
    result["render_unchanged_s"], result["render_unchanged_peak_rss_mb"], _ = run_process(
        [*GENERATOR, "render", *_paths(folder), *cache], folder, repo_env())
    result["check_unchanged_s"], result["check_unchanged_peak_rss_mb"], _ = run_process(
        [*GENERATOR, "check", *_paths(folder), *cache], folder, repo_env())
    # One stack changed: a new command for the first scheduled_task stack.
    manifest = (folder / "stacks.toml").read_text(encoding="utf-8")
    changed = re.search(r"^\[stacks\.(nightly-report-\d+)\.options\]", manifest, re.MULTILINE).group(1)
    start = manifest.index(f"[stacks.{changed}.options]")
    position = manifest.index("command = [", start)
    (folder / "stacks.toml").write_text(manifest[:position] + 'command = ["echo", "changed", ' + manifest[position + len("command = ["):],
                                        encoding="utf-8")
    result["changed_stack"] = changed
    result["render_one_changed_s"], result["render_one_changed_peak_rss_mb"], _ = run_process(
        [*GENERATOR, "render", *_paths(folder), *cache], folder, repo_env())
    result["check_one_changed_s"], result["check_one_changed_peak_rss_mb"], _ = run_process(
        [*GENERATOR, "check", *_paths(folder), *cache], folder, repo_env())
    # That template's lint alone, in a fresh process (cfn-lint's import and set-up included), and the
    # cfn-lint command line on it.
    result["lint_that_template_s"], _, _ = run_process([*GENERATOR, "lint", *_paths(folder), "--no-cache", changed], folder, repo_env())
    result["cfn_lint_that_template_s"], _, _, _ = run_processes([[*CFN_LINT, f"out/{changed}/template.yaml"]], folder, repo_env())
    result["check_one_changed_minus_that_lint_s"] = result["check_one_changed_s"] - result["lint_that_template_s"]
    return result


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares fixed cost and per-stack slope."""
    n = len(points)
    if n < 2:
        return (points[0][1], 0.0) if points else (0.0, 0.0)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    return mean_y - slope * mean_x, slope


COLUMNS = [
    ("stacks", "N", "{:d}"),
    ("render_cold_s", "render cold s", "{:.3f}"),
    ("render_in_process_s", "render in-proc s", "{:.3f}"),
    ("plan_in_process_s", "of which not writing s", "{:.3f}"),
    ("troposphere_to_yaml_s", "to_yaml s", "{:.3f}"),
    ("render_vs_to_yaml", "render/to_yaml", "{:.2f}"),
    ("render_peak_rss_mb", "peak RSS MB", "{:.0f}"),
    ("lint_cold_s", "lint cold s", "{:.2f}"),
    ("lint_cached_s", "lint cached s", "{:.3f}"),
    ("check_unchanged_s", "check unchanged s", "{:.2f}"),
]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [fmt.format(row[key]) if key in row else "–" for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,50,200,500", help="stack counts (default: 1,10,50,200,500)")
    parser.add_argument("--lint-max", type=int, default=200, help="lint/check only up to this many stacks (default: 200)")
    parser.add_argument("--cold-check", default="100,500", help="stack counts for cold check beside cfn-lint (default: 100,500; '' skips)")
    parser.add_argument("--rounds", type=int, default=1, help="alternations of the cold-check runs (default: 1)")
    parser.add_argument("--repository", type=int, default=1000, help="stacks of the one-changed repository (default: 1000; 0 skips)")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results.json")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    assert "generator" not in sys.modules
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        # Children keep lint results and the compiled README template here, not in the user's cache.
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "xdg")
        os.environ.pop("ECS_BATCH_TEMPLATES_CACHE_DIR", None)
        reference_before = cpu_reference()
        load_before = load_average()
        example = measure_example(Path(tmp))
        rows = [measure_processes(size, Path(tmp)) for size in sizes]
        cold = [measure_cold_check(int(size), Path(tmp), args.rounds) for size in args.cold_check.split(",") if size]
        repository = measure_thousand(args.repository, Path(tmp)) if args.repository else None
        rows = [measure_in_process(row, Path(tmp)) for row in rows]
        rows = [measure_lint(row, Path(tmp)) if row["stacks"] <= args.lint_max else row for row in rows]
    fits = {}
    for key in ("render_cold_s", "render_in_process_s", "plan_in_process_s", "troposphere_to_yaml_s", "lint_cold_s"):
        points = [(row["stacks"], row[key]) for row in rows if key in row]
        fixed, slope = fit(points)
        fits[key] = {"fixed_s": round(fixed, 4), "per_stack_ms": round(slope * 1000, 3)}
    from generator import __version__
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "generator_version": __version__,
        "cpu_reference_s": {"before": round(reference_before, 4), "after": round(cpu_reference(), 4)},
        "load_average": {"before": load_before, "after": load_average()},
        "example_manifest": example,
        "rows": rows,
        "fits": fits,
        "cold_check": cold,
        "repository": repository,
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"CPU reference (sum(range(10**7)), best of 5): {results['cpu_reference_s']['before']:.3f} s before, "
          f"{results['cpu_reference_s']['after']:.3f} s after")
    print(f"example manifest ({example['stacks']} stacks), cold render: {example['render_cold_s']:.3f} s "
          f"({example['render_cold_empty_cache_s']:.3f} s with an empty user cache)")
    print()
    print(table(rows))
    print()
    for key, value in fits.items():
        print(f"{key}: {value['fixed_s']:.3f} s + {value['per_stack_ms']:.2f} ms/stack")
    print(f"\nload average (1 min): {results['load_average']['before']} before, {results['load_average']['after']} after")
    if cold:
        print()
        print(cold_table(cold))
    if repository:
        print()
        print(repository_table(repository))
    return 0


def cold_table(cold: list[dict]) -> str:
    lines = ["| stacks | check, empty cache s | cfn-lint, one process per core s | cfn-lint, one process s | check / per core | "
             "CPU s: check / per core / one process | peak RSS MB: check / per core / one | load before |",
             "|---|---|---|---|---|---|---|---|"]
    for row in cold:
        peak = {name: max(run["peak_rss_mb"] for run in row["rounds"][name]) for name in row["rounds"]}
        loads = ", ".join(str(run["load_before"]) for name in row["rounds"] for run in row["rounds"][name])
        lines.append(
            f"| {row['stacks']} | {row['check_cold_s']:.1f} | {row['cfn_lint_per_core_s']:.1f} | {row['cfn_lint_one_process_s']:.1f} | "
            f"{row['check_vs_per_core']:.2f} | {row['check_cold_cpu_s']:.1f} / {row['cfn_lint_per_core_cpu_s']:.1f} / "
            f"{row['cfn_lint_one_process_cpu_s']:.1f} | {peak['check_cold']} / {peak['cfn_lint_per_core']} / "
            f"{peak['cfn_lint_one_process']} | {loads} |")
    return "\n".join(lines)


def repository_table(repo: dict) -> str:
    rows = [
        ("render, cold (no cache)", "render_cold_s", "render_cold_peak_rss_mb"),
        ("naive troposphere render (build + to_yaml, no README/samconfig)", "naive_troposphere_s", "naive_troposphere_peak_rss_mb"),
        ("check filling the caches (every template linted)", "check_fill_caches_s", "check_fill_caches_peak_rss_mb"),
        ("render, nothing changed", "render_unchanged_s", "render_unchanged_peak_rss_mb"),
        ("check, nothing changed", "check_unchanged_s", "check_unchanged_peak_rss_mb"),
        (f"render, one stack changed ({repo['changed_stack']})", "render_one_changed_s", "render_one_changed_peak_rss_mb"),
        ("check, one stack changed (its template linted)", "check_one_changed_s", "check_one_changed_peak_rss_mb"),
        ("`lint --no-cache` of that one template, fresh process", "lint_that_template_s", None),
        ("cfn-lint command line on that one template", "cfn_lint_that_template_s", None),
    ]
    lines = [f"| {repo['stacks']} stacks | s | peak RSS MB |", "|---|---|---|"]
    for title, key, peak in rows:
        lines.append(f"| {title} | {repo[key]:.2f} | {repo[peak]:.0f} |" if peak else f"| {title} | {repo[key]:.2f} | – |")
    lines.append(f"\nrender cold / naive troposphere: {repo['render_vs_naive']:.2f}; check with one changed minus that "
                 f"template's lint: {repo['check_one_changed_minus_that_lint_s']:.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
