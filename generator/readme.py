"""templates_out/<stack>/README.md: what the stack does, its flow, parameters, IAM and deploy commands,
derived from the rendered template so it cannot drift from it."""

from __future__ import annotations

from functools import lru_cache

from generator import describe


@lru_cache(maxsize=1)
def _template():
    # jinja2 is imported here, not at module import, to keep it off the path of commands that
    # do not write READMEs.
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("generator", "templates"),
        undefined=jinja2.StrictUndefined,  # a missing value fails the render, never prints ""
        autoescape=False,                  # Markdown, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return environment.get_template("stack_readme.md.j2")


def stack_readme(spec, template: dict, *, summary: str, notes: list[str], extra_files: list[str], manifest: str) -> str:
    nodes, edges = describe.flow(template)
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
    )
