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

Usage: python bench/bench_render.py [--sizes 1,10,50,200,500] [--lint-max 200]
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


def synthetic_manifest(size: int) -> str:
    """`size` stacks cycling through the examples; stack names get a numeric suffix."""
    source = (REPO / "stacks.toml").read_text(encoding="utf-8")
    blocks: dict[str, list[str]] = {}
    for match, nxt in zip(HEADER.finditer(source), list(HEADER.finditer(source))[1:] + [None]):
        blocks.setdefault(match.group(1), []).append(source[match.start(): nxt.start() if nxt else len(source)])
    names = list(blocks)
    out = []
    for index in range(size):
        seed = names[index % len(names)]
        name = f"{seed}-{index // len(names)}"[:63]
        text = "".join(blocks[seed])
        out.append(re.sub(rf"^\[stacks\.{re.escape(seed)}(\.|\])", lambda m: f"[stacks.{name}{m.group(1)}", text, flags=re.MULTILINE))
    return "".join(out)


def run_process(args: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one child process. Output goes to a file, not a pipe:
    a child that fills a pipe nobody reads until it exits would never exit."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output_file:
        start = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=output_file, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        output_file.seek(0)
        output = output_file.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{output[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, output


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
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results.json")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    assert "generator" not in sys.modules
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        # Children keep lint results and the compiled README template here, not in the user's cache.
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "xdg")
        reference_before = cpu_reference()
        example = measure_example(Path(tmp))
        rows = [measure_processes(size, Path(tmp)) for size in sizes]
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
        "example_manifest": example,
        "rows": rows,
        "fits": fits,
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
