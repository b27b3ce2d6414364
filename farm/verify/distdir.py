"""The dist directory a verification's pytest-pyodide run boots from (its ``--dist-dir``).

pytest-pyodide's Node driver ``require``s ``<dist>/pyodide.js`` and Pyodide reads ``pyodide-lock.json`` beside it, so
``run_in_pyodide(packages=[...])`` and ``selenium.load_package(...)`` load packages by name from that lock. The
directory holds:

- the runtime's files as symlinks to ``<www>/pyodide/<runtime>/`` (the 9.6 MB wasm is never copied), except the
  entry points ``pyodide.js``/``pyodide.mjs`` (18 KB each), which are copied: Node resolves a required module's
  symlinks, and Pyodide takes its ``indexURL`` (hence its lock) from where the entry point really is;
- ``pyodide-lock.json``: the runtime's lock as the farm serves it, plus entries for the wheel under test and the
  wheels micropip installed for it from the farm's index (its run-time dependency closure), made with ``pyodide-lock``;
- a symlink per locked wheel: to the runtime's own links, the blob store, or the wheel under test.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pyodide_lock import PackageSpec, PyodideLockSpec

from farm.dist.requirement import applies
from farm.dist.wheel import top_level_names
from farm.errors import InvalidDistribution

LOCK = "pyodide-lock.json"
ENTRY_POINTS = ("pyodide.js", "pyodide.mjs")


@dataclass(frozen=True)
class Fetched:
    """A wheel micropip installed from the farm's index for the wheel under test (a blob of the store)."""

    name: str
    version: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class _Wheel:
    name: str
    version: str
    requires: tuple[str, ...]
    imports: tuple[str, ...]


def _read_wheel(path: Path) -> _Wheel:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        top = [n for n in names if n.endswith(".dist-info/METADATA") and len(PurePosixPath(n).parts) == 2]
        if len(top) != 1:
            raise InvalidDistribution(f"{path.name}: expected one *.dist-info/METADATA, found {len(top)}")
        fields, _ = parse_email(archive.read(top[0]))
    if "name" not in fields or "version" not in fields:
        raise InvalidDistribution(f"{path.name}: its METADATA lacks Name or Version")
    return _Wheel(
        canonicalize_name(fields["name"]),
        fields["version"],
        tuple(fields.get("requires_dist") or ()),
        top_level_names(names),
    )


def _requirements(
    requires: Iterable[str], environment: Mapping[str, str], extras: Iterable[str]
) -> Iterator[Requirement]:
    """The requirements that apply in the runtime, with ``extras`` requested (markers evaluated per extra)."""
    for line in requires:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        for extra in ("", *extras):
            if applies(requirement.marker, {**environment, "extra": extra}):
                yield requirement
                break


def _depends(
    root: str, wheels: Mapping[str, _Wheel], environment: Mapping[str, str], available: set[str]
) -> list[str]:
    """``root``'s run-time dependencies present in the lock; a requirement with extras (``b[x]``) brings ``b``'s
    dependencies for ``x`` in as ``root``'s own (a lock has no extras)."""
    found: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(root, ())]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen or name not in wheels:
            continue
        seen.add((name, extras))
        for requirement in _requirements(wheels[name].requires, environment, extras):
            dependency = canonicalize_name(requirement.name)
            if dependency in available and dependency != root:
                found.add(dependency)
            if requirement.extras:
                todo.append((dependency, tuple(sorted(requirement.extras))))
    return sorted(found)


def _spec(wheel: _Wheel, filename: str, sha256: str, depends: list[str]) -> PackageSpec:
    return PackageSpec(
        name=wheel.name,
        version=wheel.version,
        file_name=filename,
        install_dir="site",
        sha256=sha256,
        imports=list(wheel.imports),
        depends=depends,
    )


def _link(source: Path, link: Path) -> None:
    link.unlink(missing_ok=True)
    link.symlink_to(source)


def lay_out(
    dist: Path,
    runtime_dir: Path,
    wheel: Path,
    wheel_sha256: str,
    fetched: Sequence[Fetched],
    blob_path: Mapping[str, Path],
    environment: Mapping[str, str],
) -> PyodideLockSpec:
    """Make ``dist`` for ``wheel`` (whose dependencies micropip fetched as ``fetched``; ``blob_path`` maps their
    sha256 to the stored file); ``environment`` is the runtime's PEP 508 marker environment."""
    dist.mkdir(parents=True)
    for path in sorted(runtime_dir.iterdir()):
        if path.is_symlink() or not path.is_file() or path.name.startswith((LOCK, ".")):
            continue  # locked wheels (linked below), the lock (written below), temporaries
        if path.suffix in (".gz", ".br"):
            continue
        if path.name in ENTRY_POINTS:
            shutil.copyfile(path, dist / path.name)
        else:
            _link(path, dist / path.name)
    lock = PyodideLockSpec.from_json(runtime_dir / LOCK)
    sources = {p.file_name: runtime_dir / p.file_name for p in lock.packages.values()}
    wheels = {f.name: _read_wheel(blob_path[f.sha256]) for f in fetched}
    under_test = _read_wheel(wheel)
    wheels[under_test.name] = under_test
    available = set(lock.packages) | set(wheels)
    for item in fetched:
        name = canonicalize_name(item.name)
        spec = _spec(wheels[name], item.filename, item.sha256, _depends(name, wheels, environment, available))
        lock.packages[name] = spec
        sources[item.filename] = blob_path[item.sha256]
    # The wheel under test depends on everything micropip installed for it, so that loading it by name loads the
    # closure micropip resolved (whatever extras and markers chose).
    depends = set(_depends(under_test.name, wheels, environment, available))
    depends |= {canonicalize_name(f.name) for f in fetched}
    lock.packages[under_test.name] = _spec(under_test, wheel.name, wheel_sha256, sorted(depends))
    sources[wheel.name] = wheel
    lock.check_wheel_filenames()
    for spec in lock.packages.values():
        source = sources.get(spec.file_name)
        if source is not None and os.path.lexists(source):
            _link(source, dist / spec.file_name)
    lock.to_json(dist / LOCK)
    return lock
