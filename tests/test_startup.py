"""`render` stays light: the heavy libraries (cfn-lint, moto, boto, the SAM translator, PyYAML via
cfn-flip, tomlkit) are imported only by the commands that need them."""

from __future__ import annotations

import json
import subprocess
import sys

from support.paths import REPO

HEAVY = ("yaml", "cfnlint", "moto", "samtranslator", "botocore", "boto3", "tomlkit")

PROBE = """
import json, runpy, sys
sys.argv = ["generator", "render"]
try:
    runpy.run_module("generator", run_name="__main__")
except SystemExit as exit_:
    assert not exit_.code, exit_.code
print(json.dumps(sorted(name for name in %r if name in sys.modules)))
"""


def test_render_imports_none_of_the_heavy_libraries(project):
    result = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,)], cwd=project, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_troposphere_to_yaml_still_works_behind_the_deferred_cfn_flip():
    from generator.commands.startup import defer_import
    import troposphere

    defer_import("cfn_flip")  # what the CLI's main() does first

    assert troposphere.Template().to_yaml() == "Resources: {}\n"
