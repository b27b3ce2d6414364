"""``pyodide-lock.json`` for a runtime: generated from what the mirror serves, never hand-edited.

The runtime's ``info`` is kept as upstream wrote it; ``packages`` lists exactly the wheels the mirror holds that
install on the runtime, one version per project (the newest installable one), each pointing at the mirror's copy by
file name (the runtime resolves it against its own folder, in Node and in the browser alike).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from farm.runtime.target import RuntimeTarget
from farm.store.models import DistFile


@dataclass(frozen=True)
class Choice:
    """Why a file is (or is not) the lock's entry for its project."""

    filename: str
    chosen: bool
    reason: str


@dataclass
class LockBuild:
    lock: dict[str, Any]
    choices: dict[str, list[Choice]] = field(default_factory=dict)  # project -> every candidate considered


# A stored file's metadata never changes (the file is content-addressed), so what is parsed from it is kept per
# sha256: regenerating a lock of 1,000 wheels parsed every METADATA again (a third of its time) before.
PARSED_CACHE = 100_000


def requires_dist(row: DistFile) -> list[str]:
    if not row.core_metadata:
        return []
    return list(_requires_dist(row.sha256, row.core_metadata))


@functools.lru_cache(maxsize=PARSED_CACHE)
def _requires_dist(sha256: str, core_metadata: str) -> tuple[str, ...]:
    fields, _ = parse_email(core_metadata)
    return tuple(str(r) for r in fields.get("requires_dist") or [])


def runtime_depends(row: DistFile, target: RuntimeTarget) -> list[str]:
    """Requires-Dist with markers evaluated inside the runtime (no extras), as normalised names."""
    return list(_runtime_depends(row.sha256, row.core_metadata or "", target))


@functools.lru_cache(maxsize=PARSED_CACHE)
def _runtime_depends(sha256: str, core_metadata: str, target: RuntimeTarget) -> tuple[str, ...]:
    environment = {**target.marker_environment, "extra": ""}
    names = []
    for line in _requires_dist(sha256, core_metadata) if core_metadata else ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate(environment):
            names.append(canonicalize_name(requirement.name))
    return tuple(sorted(set(names)))


def entry(row: DistFile, target: RuntimeTarget) -> dict[str, Any]:
    name = canonicalize_name(row.filename.split("-", 1)[0])
    return {
        "name": name,
        "version": row.version,
        "file_name": row.filename,
        "install_dir": "site",
        "sha256": row.sha256,
        "package_type": "package",
        "imports": json.loads(row.import_names) if row.import_names else [],
        "depends": runtime_depends(row, target),
        "unvendored_tests": False,
        "tool": {},
    }


def _version(row: DistFile) -> Version:
    try:
        return Version(row.version)
    except InvalidVersion:
        return Version("0")


def _python_ok(row: DistFile, target: RuntimeTarget) -> bool:
    if not row.requires_python:
        return True
    try:
        return SpecifierSet(row.requires_python).contains(target.python, prereleases=True)
    except ValueError:
        return True


def choose(
    rows: Iterable[DistFile], target: RuntimeTarget
) -> tuple[dict[str, DistFile], dict[str, list[Choice]]]:
    """Per project: the newest version that installs (not yanked, Requires-Python met), its best-tagged wheel."""
    by_project: dict[str, list[DistFile]] = {}
    for row in rows:
        by_project.setdefault(canonicalize_name(row.filename.split("-", 1)[0]), []).append(row)
    chosen: dict[str, DistFile] = {}
    choices: dict[str, list[Choice]] = {}
    for project, candidates in by_project.items():
        notes: list[Choice] = []
        usable = []
        for row in candidates:
            if row.kind != "wheel" or not target.accepts(row.filename):
                notes.append(Choice(row.filename, False, f"does not install on Pyodide {target.version}"))
            elif row.yanked:
                notes.append(
                    Choice(row.filename, False, f"yanked ({row.yanked_reason or 'no reason given'})")
                )
            elif not _python_ok(row, target):
                notes.append(
                    Choice(
                        row.filename, False, f"Requires-Python {row.requires_python} excludes {target.python}"
                    )
                )
            else:
                usable.append(row)
        usable.sort(key=lambda r: (_version(r), -(target.wheel_rank(r.filename) or 0)), reverse=True)
        for index, row in enumerate(usable):
            if index == 0:
                chosen[project] = row
                notes.append(
                    Choice(row.filename, True, "newest installable version, best tag for the runtime")
                )
            elif row.version == usable[0].version:
                notes.append(
                    Choice(
                        row.filename, False, f"same version, a less specific tag than {usable[0].filename}"
                    )
                )
            else:
                notes.append(Choice(row.filename, False, f"older than {usable[0].version}"))
        choices[project] = notes
    return chosen, choices


def build_lock(
    upstream_lock: Mapping[str, Any], rows: Sequence[DistFile], target: RuntimeTarget
) -> LockBuild:
    """The runtime's lock: every project the mirror can serve whose dependencies it can serve too."""
    chosen, choices = choose(rows, target)
    packages = {name: entry(row, target) for name, row in chosen.items()}
    changed = True
    while changed:  # drop entries with a dependency the lock cannot satisfy (Pyodide would fail to load them)
        changed = False
        for name in sorted(packages):
            missing = [d for d in packages[name]["depends"] if d not in packages]
            if missing:
                del packages[name]
                choices[name] = [
                    Choice(
                        c.filename,
                        False,
                        f"needs {', '.join(missing)}, which the mirror cannot serve for "
                        f"Pyodide {target.version}",
                    )
                    if c.chosen
                    else c
                    for c in choices[name]
                ]
                changed = True
    lock = {"info": dict(upstream_lock["info"]), "packages": dict(sorted(packages.items()))}
    return LockBuild(lock, choices)


def closure(lock: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    """Names reachable from ``roots`` through the lock's ``depends``."""
    packages = lock["packages"]
    seen: set[str] = set()
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name not in packages:
            continue
        seen.add(name)
        todo.extend(packages[name]["depends"])
    return seen
