"""What each stack rendered to, remembered between runs, so `check` and `render` of a large manifest
build only the stacks whose inputs changed.

A stack's entry is keyed by everything its files and samconfig sections are made from: the stack as
the manifest specifies it (name, blueprint, description, every option, every environment, its hand
overrides), the manifest's file name (in the header), the output folder and samconfig path (in
`template_file`), and the code fingerprint: every file of generator/ and blueprints/, the package a
blueprint from elsewhere (an entry point, a module path) comes from, the versions of Python,
troposphere, awacs and jinja2, and the version of the time zone database the README's local run
times come from. A blueprint may also read the other stacks of the manifest (StackContext.manifest,
e.g. deploy_role grants deploying them): the stack's build is watched, and if it read them, they
are part of its key too. The entry holds a SHA-256 of each file the stack renders and its samconfig
sections (whose parameter values were checked when it was rendered). A stack whose files on disk
have exactly those digests is up to date without being built; any other stack is rendered, as
without the memo. The samconfig is remembered the same way: for the same existing text and the same
sections, whether it is already what a render writes.

One file per code fingerprint, holding the last entry of each stack name (so it does not grow with
history), written atomically after the command's work; a missing, unreadable or foreign file is an
empty memo. Nothing here decides an output: a wrong or stale memo could only make a stack be built
again, or, if its key missed an input, be taken as up to date — which is why the key covers the
code and not only the manifest.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from generator.core.contract import StackContext
from generator.core.samconfig import DeploySection

FORMAT = 2
SAMCONFIG_ENTRIES = 8
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # generator/
_VERSIONED = ("troposphere", "awacs", "jinja2", "tzdata")


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


@functools.cache
def code_fingerprint() -> str:
    hasher = hashlib.sha256(f"format={FORMAT}\0python={sys.version}\0".encode())
    for name in _VERSIONED:
        try:
            hasher.update(f"{name}={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            hasher.update(f"{name}=absent\0".encode())
    hasher.update(_tz_database_version().encode() + b"\0")
    files = set(_source_files(_PACKAGE_ROOT)) | set(_source_files(_PACKAGE_ROOT.parent / "blueprints"))
    for file in sorted(files):
        hasher.update(str(file).encode() + b"\0" + file.read_bytes() + b"\0")
    return hasher.hexdigest()


def _source_files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found += [Path(root, name).resolve() for name in names if not name.endswith((".pyc", ".tmp"))]
    return found


def _tz_database_version() -> str:
    """The IANA release of the system time zone database (zoneinfo reads it before the tzdata
    package); the tzdata package's version is in the fingerprint too."""
    import zoneinfo

    for root in zoneinfo.TZPATH:
        try:
            with open(os.path.join(root, "tzdata.zi"), encoding="utf-8") as handle:
                return f"{root}:{handle.readline().strip()}"
        except OSError:
            continue
    return "no tzdata.zi"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__qualname__,
                **{field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {"__dict__": [[_plain(k), _plain(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [_plain(v) for v in value]]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return {"__repr__": repr(value)}


@functools.cache
def _outside_code(module_name: str, file: str | None) -> str:
    """For a blueprint module from outside generator/ and blueprints/ (already in code_fingerprint):
    the digest of every file of its top-level package (or of the module, when it is not in one)."""
    if not file:
        return "no file"
    path = Path(file).resolve()
    if any(path.is_relative_to(root) for root in (_PACKAGE_ROOT, _PACKAGE_ROOT.parent / "blueprints")):
        return ""
    top_file = getattr(sys.modules.get(module_name.split(".")[0]), "__file__", None)
    files = _source_files(Path(top_file).resolve().parent) if top_file and Path(top_file).name == "__init__.py" else [path]
    hasher = hashlib.sha256()
    for source in sorted(files):
        hasher.update(str(source).encode() + b"\0" + source.read_bytes() + b"\0")
    return hasher.hexdigest()


@dataclasses.dataclass
class StackKeys:
    """A stack's key without the other stacks (`own`), and with them (`with_manifest`, computed
    only for an entry whose build read them)."""

    own: str
    manifest: tuple

    @functools.cached_property
    def with_manifest(self) -> str:
        return digest(self.own + "\0" + _manifest_digest(self.manifest))


_manifest_digests: dict[int, tuple[tuple, str]] = {}


def _manifest_digest(manifest: tuple) -> str:
    # one manifest per plan: its digest is computed once, not once per stack
    known = _manifest_digests.get(id(manifest))
    if known is None or known[0] is not manifest:
        _manifest_digests.clear()
        known = _manifest_digests[id(manifest)] = (manifest, digest(json.dumps(_plain(manifest), sort_keys=True)))
    return known[1]


def stack_keys(spec: Any, manifest: tuple, *, manifest_name: str, out_dir: Path, samconfig_path: Path) -> StackKeys:
    module = getattr(spec.implementation, "module", spec.implementation)
    module_name = getattr(module, "__name__", "")
    description = [spec.name, spec.blueprint, module_name, _outside_code(module_name, getattr(module, "__file__", None)),
                   spec.description, _plain(spec.options), _plain(list(spec.environments.values())),
                   _plain(tuple(getattr(spec, "overrides", ()))), manifest_name, str(out_dir.resolve()), str(samconfig_path.resolve())]
    return StackKeys(digest(code_fingerprint() + "\0" + json.dumps(description, sort_keys=True)), manifest)


class WatchedContext(StackContext):
    """The StackContext a blueprint builds with, noting whether it read `manifest` (the other stacks)."""

    @classmethod
    def of(cls, context: StackContext) -> "WatchedContext":
        watched = cls(**{field.name: getattr(context, field.name) for field in dataclasses.fields(context)})
        object.__setattr__(watched, "_read_manifest", False)
        return watched

    def __getattribute__(self, name: str) -> Any:
        if name == "manifest":
            object.__setattr__(self, "_read_manifest", True)
        return super().__getattribute__(name)

    @property
    def read_manifest(self) -> bool:
        return bool(object.__getattribute__(self, "__dict__").get("_read_manifest", True))


def samconfig_key(existing: str | None, sections: list[DeploySection], *, config_envs: set[str], only: list[str] | None,
                  out_dir: Path, samconfig_path: Path) -> str:
    description = [existing, [_plain(section) for section in sections], sorted(config_envs), sorted(only or []),
                   str(out_dir.resolve()), str(samconfig_path.resolve())]
    return digest(code_fingerprint() + "\0" + json.dumps(description, sort_keys=True))


@dataclasses.dataclass(frozen=True)
class Remembered:
    digests: dict[str, str]  # path relative to the output folder → SHA-256 of the rendered text
    sections: list[DeploySection]


class RenderMemo:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.file = folder / f"render-{code_fingerprint()[:16]}.json" if folder is not None else None
        self.stacks: dict[str, Any] = {}
        self.samconfig: dict[str, Any] = {}
        self.dirty = False
        if self.file is not None:
            try:
                data = json.loads(self.file.read_text(encoding="utf-8"))
                if data.get("fingerprint") == code_fingerprint():
                    self.stacks, self.samconfig = dict(data["stacks"]), dict(data["samconfig"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                pass  # missing or unreadable: an empty memo

    def keys(self, spec: Any, manifest: tuple, **where: Any) -> StackKeys:
        return stack_keys(spec, manifest, **where)

    def stack(self, name: str, keys: StackKeys) -> Remembered | None:
        entry = self.stacks.get(name)
        try:
            if entry is None or entry["key"] != keys.own:
                return None
            if entry["manifest"] is not None and entry["manifest"] != keys.with_manifest:
                return None  # its build read the other stacks, and they changed
            sections = [DeploySection(**{**section, "capabilities": tuple(section["capabilities"])})
                        for section in entry["sections"]]
            return Remembered(dict(entry["digests"]), sections)
        except (KeyError, TypeError):
            return None

    def remember_stack(self, name: str, keys: StackKeys, files: dict[str, str], sections: list[DeploySection], *,
                       read_manifest: bool) -> None:
        entry = {"key": keys.own, "manifest": keys.with_manifest if read_manifest else None,
                 "digests": {rel: digest(text) for rel, text in files.items()},
                 "sections": [dataclasses.asdict(section) for section in sections]}
        if self.stacks.get(name) != entry:
            self.stacks[name] = entry
            self.dirty = True

    def samconfig_result(self, key: str) -> tuple[str, tuple[str, ...]] | None:
        """(SHA-256 of what a render writes, the stale sections it drops) for this key."""
        try:
            entry = self.samconfig.get(key)
            return None if entry is None else (str(entry["digest"]), tuple(entry["stale"]))
        except (KeyError, TypeError, AttributeError):
            return None

    def remember_samconfig(self, key: str, text: str, stale: tuple[str, ...]) -> None:
        entry = {"digest": digest(text), "stale": list(stale)}
        if self.samconfig.get(key) != entry:
            self.samconfig.pop(key, None)
            self.samconfig[key] = entry  # the latest last; a render of some stacks has its own key
            for old in list(self.samconfig)[:-SAMCONFIG_ENTRIES]:
                del self.samconfig[old]
            self.dirty = True

    def save(self) -> None:
        if self.file is None or not self.dirty:
            return
        data = {"fingerprint": code_fingerprint(), "stacks": self.stacks, "samconfig": self.samconfig}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.file.parent, suffix=".tmp", delete=False) as tmp:
                json.dump(data, tmp, separators=(",", ":"))
            os.replace(tmp.name, self.file)
            self.dirty = False
            for other in self.file.parent.glob("render-*.json"):
                if other != self.file:
                    other.unlink(missing_ok=True)  # another code's memo: only its own code could use it
        except OSError:
            pass  # a memo that cannot be written only costs time
