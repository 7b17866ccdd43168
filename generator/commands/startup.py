"""Start-up of the command line: keep libraries it never uses from being imported."""

import importlib
import sys
import types


def defer_import(name: str) -> None:
    """Stand a stub in for module `name` that imports the real module on first attribute use.

    troposphere imports cfn_flip (and with it PyYAML) at import time only for Template.to_yaml(),
    which this project never calls: it has its own YAML emitter. Deferring it keeps ~30 ms off
    every command's start-up; code that does call to_yaml() (the benchmark's baseline) still works.
    (importlib's LazyLoader does not help: the import system itself reads __spec__, which loads it.)
    """
    if name in sys.modules:
        return
    stub = types.ModuleType(name, f"stand-in for {name}, imported on first use")

    def load(attribute: str):
        if sys.modules.get(name) is stub:
            del sys.modules[name]
        real = importlib.import_module(name)
        return getattr(real, attribute)

    stub.__getattr__ = load  # PEP 562: called for attributes the stub does not have
    sys.modules[name] = stub

