"""templates_out/<stack>/README.md: what the stack does, its flow, parameters, IAM and deploy commands,
derived from the rendered template so it cannot drift from it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from generator.review import describe
from generator.core.cache import user_cache_dir


@lru_cache(maxsize=1)
def _template():
    # jinja2 is imported here, not at module import, to keep it off the path of commands that
    # do not write READMEs.
    import jinja2

    class QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
        def dump_bytecode(self, bucket):
            try:
                super().dump_bytecode(bucket)
            except OSError:
                pass  # a cache that cannot be written only costs time

    # Compiling the template costs about as much as rendering every example stack, so the compiled
    # code is kept in the user cache. jinja2 keys it by the template's source and the Python
    # version; its own version goes in the folder name because its compiled code is not stable.
    cache_dir = user_cache_dir(f"jinja2-{jinja2.__version__}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        bytecode_cache = QuietBytecodeCache(str(cache_dir))
    except OSError:
        bytecode_cache = None

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        bytecode_cache=bytecode_cache,
        undefined=jinja2.StrictUndefined,  # a missing value fails the render, never prints ""
        autoescape=False,                  # Markdown, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return environment.get_template("stack_readme.md.j2")


def _mermaid_label(label: str) -> str:
    """A label inside ["..."]: Mermaid reads it as HTML, so `<export X>` would vanish as an unknown
    tag and a `"` would end it; its entity codes (#60; …) show the characters. <br/> stays a break."""
    parts = label.split("<br/>")
    escaped = [part.replace("<", "#60;").replace(">", "#62;").replace('"', "#34;") for part in parts]
    return "<br/>".join(escaped)


def stack_readme(spec, template: dict, *, summary: str, notes: list[str], extra_files: list[str], manifest: str) -> str:
    nodes, edges = describe.flow(template)
    nodes = {node: _mermaid_label(label) for node, label in nodes.items()}
    schedules = [
        {**schedule, "runs": [(f"{utc:%Y-%m-%d %H:%M %a}", f"{local:%Y-%m-%d %H:%M %a}") for utc, local in
                              describe.run_times(schedule["expression"], schedule["timezone"])]}
        for schedule in describe.schedules(template)
    ]
    return _template().render(
        manifest=manifest,
        stack=spec,
        summary=summary,
        notes=notes,
        extra_files=extra_files,
        nodes=nodes,
        edges=edges,
        schedules=schedules,
        anchor=f"{describe.RUNS_ANCHOR:%Y-%m-%d %H:%M} UTC",
        parameters=template.get("Parameters", {}),
        environments=list(spec.environments),
        values={name: spec.parameter_values(name) for name in spec.environments},
        roles=describe.iam_in_words(template),
        alerts=describe.alerts_in_words(template, spec.name),
    )
