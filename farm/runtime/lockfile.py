"""``pyodide-lock.json`` for a runtime: generated from what the mirror serves, never hand-edited.

The runtime's ``info`` is kept as upstream wrote it; ``packages`` lists exactly the wheels the mirror holds that
install on the runtime, one per project, each pointing at the mirror's copy by file name (the runtime resolves it
against its own folder, in Node and in the browser alike). Per project the origin decides first, in the order of the
setting ``lock_precedence`` (built here, uploaded, Pyodide's distribution, mirrored), then the newest installable
version and the best tag. Files of an imported Pyodide distribution carry what its lock says about them (imports,
depends, package type, unvendored tests), and its shared libraries are listed too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from farm.dist.requirement import applies
from farm.runtime.target import RuntimeTarget
from farm.store.models import DistFile, Origin

DEFAULT_PRECEDENCE = (Origin.BUILT.value, Origin.UPLOADED.value, Origin.PYODIDE.value, Origin.MIRRORED.value)


@dataclass(frozen=True)
class Choice:
    """Why a file is (or is not) the lock's entry for its project."""

    filename: str
    chosen: bool
    reason: str
    origin: str = ""


@dataclass
class LockBuild:
    lock: dict[str, Any]
    choices: dict[str, list[Choice]] = field(default_factory=dict)  # project -> every candidate considered


# A stored file's metadata never changes (the file is content-addressed), so what is parsed from it is kept per
# sha256: regenerating a lock of 1,000 wheels parsed every METADATA again (a third of its time) before. Hand-rolled
# rather than functools.lru_cache, which keys on every argument and so would keep each METADATA text alive (tens of KB
# each with a long description: gigabytes at 100,000 entries); this keeps only the sha256 and the parsed names.
PARSED_CACHE = 100_000


class _ParsedBySha:
    """A bounded map from a key naming a stored file (its sha256 first) to what was parsed from it; the oldest
    entry goes first when full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], parse: Callable[[], tuple[str, ...]]) -> tuple[str, ...]:
        found = self._items.get(key)
        if found is None:
            found = parse()
            with self._lock:
                if len(self._items) >= self.size:
                    del self._items[next(iter(self._items))]
                self._items[key] = found
        return found


_REQUIRES_DIST = _ParsedBySha(PARSED_CACHE)
_RUNTIME_DEPENDS = _ParsedBySha(PARSED_CACHE)


def requires_dist(row: DistFile) -> list[str]:
    if not row.core_metadata:
        return []
    return list(_requires_dist(row.sha256, row.core_metadata))


def _requires_dist(sha256: str, core_metadata: str) -> tuple[str, ...]:
    def parse() -> tuple[str, ...]:
        fields, _ = parse_email(core_metadata)
        return tuple(str(r) for r in fields.get("requires_dist") or [])

    return _REQUIRES_DIST.get((sha256,), parse)


def runtime_depends(row: DistFile, target: RuntimeTarget) -> list[str]:
    """Requires-Dist with markers evaluated inside the runtime (no extras), as normalised names."""
    metadata = row.core_metadata or ""

    def parse() -> tuple[str, ...]:
        environment = {**target.marker_environment, "extra": ""}
        names = []
        for line in _requires_dist(row.sha256, metadata) if metadata else ():
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if applies(requirement.marker, environment):  # one nothing can evaluate: refused at ingest since
                names.append(canonicalize_name(requirement.name))
        return tuple(sorted(set(names)))

    return list(
        _RUNTIME_DEPENDS.get(
            (row.sha256, target.version, target.python, target.abi, target.emscripten), parse
        )
    )


def entry(row: DistFile, target: RuntimeTarget, upstream: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The lock entry of a wheel; ``upstream``: what an imported distribution's lock says about this very file
    (same sha256), which wins over what the wheel's metadata implies."""
    name = canonicalize_name(row.filename.split("-", 1)[0])
    if upstream is not None and upstream.get("sha256") == row.sha256:
        return {**distribution_entry(upstream), "name": name, "version": row.version}
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


def distribution_entry(upstream: Mapping[str, Any]) -> dict[str, Any]:
    """A lock entry from a recorded distribution entry (``farm.runtime.release``), at the mirror's file name."""
    return {
        "name": canonicalize_name(str(upstream["name"])),
        "version": str(upstream["version"]),
        "file_name": str(upstream["file_name"]),
        "install_dir": str(upstream.get("install_dir") or "site"),
        "sha256": str(upstream["sha256"]),
        "package_type": str(upstream.get("package_type") or "package"),
        "imports": list(upstream.get("imports") or []),
        "depends": sorted(canonicalize_name(d) for d in upstream.get("depends") or []),
        "unvendored_tests": bool(upstream.get("unvendored_tests")),
        "tool": {},
    }


def _version(text: object) -> Version:
    """A version to order by; one that does not parse (or has more digits than int() takes, as a hostile lock's
    entry may) orders first."""
    try:
        return Version(str(text))
    except ValueError:  # InvalidVersion included
        return Version("0")


def _python_ok(row: DistFile, target: RuntimeTarget) -> bool:
    if not row.requires_python:
        return True
    try:
        return SpecifierSet(row.requires_python).contains(target.python, prereleases=True)
    except ValueError:
        return True


def precedence_text(precedence: Sequence[str]) -> str:
    return " > ".join(precedence)


def choose(
    rows: Iterable[DistFile], target: RuntimeTarget, precedence: Sequence[str] = DEFAULT_PRECEDENCE
) -> tuple[dict[str, DistFile], dict[str, list[Choice]]]:
    """Per project, among the wheels that install (not yanked, Requires-Python met): the first origin in
    ``precedence`` (origins it does not name come after), then the newest version, then the best tag."""

    def rank(row: DistFile) -> int:
        return precedence.index(row.origin) if row.origin in precedence else len(precedence)

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
                notes.append(
                    Choice(row.filename, False, f"does not install on Pyodide {target.version}", row.origin)
                )
            elif row.yanked:
                notes.append(
                    Choice(
                        row.filename, False, f"yanked ({row.yanked_reason or 'no reason given'})", row.origin
                    )
                )
            elif not _python_ok(row, target):
                notes.append(
                    Choice(
                        row.filename,
                        False,
                        f"Requires-Python {row.requires_python} excludes {target.python}",
                        row.origin,
                    )
                )
            else:
                usable.append(row)
        usable.sort(
            key=lambda r: (-rank(r), _version(r.version), -(target.wheel_rank(r.filename) or 0)), reverse=True
        )
        origins = {r.origin for r in usable}
        order = f"setting lock_precedence: {precedence_text(precedence)}"
        for index, row in enumerate(usable):
            best = usable[0]
            if index == 0:
                chosen[project] = row
                reason = "newest installable version, best tag for the runtime"
                if len(origins) > 1:
                    others = ", ".join(sorted(origins - {row.origin}))
                    reason = f"{row.origin} comes before {others} ({order}); its {reason}"
                notes.append(Choice(row.filename, True, reason, row.origin))
            elif row.origin != best.origin:
                notes.append(
                    Choice(
                        row.filename,
                        False,
                        f"{row.origin} comes after {best.origin} ({order}), which has {best.filename}",
                        row.origin,
                    )
                )
            elif row.version == best.version:
                notes.append(
                    Choice(
                        row.filename,
                        False,
                        f"same version, a less specific tag than {best.filename}",
                        row.origin,
                    )
                )
            else:
                notes.append(Choice(row.filename, False, f"older than {best.version}", row.origin))
        choices[project] = notes
    return chosen, choices


def build_lock(
    upstream_lock: Mapping[str, Any],
    rows: Sequence[DistFile],
    target: RuntimeTarget,
    *,
    precedence: Sequence[str] = DEFAULT_PRECEDENCE,
    distribution: Mapping[str, Mapping[str, Any]] | None = None,
    roots: Iterable[str] | None = None,
) -> LockBuild:
    """The runtime's lock: every project of ``rows`` the mirror can serve whose dependencies it can serve too; with
    ``roots``, only those projects and their dependencies (the setting ``runtime_lock = own``).
    ``distribution``: an imported Pyodide distribution's recorded entries by file name, whose files the mirror holds
    (its wheels are rows of origin ``pyodide``; its other files, shared libraries and test archives, are listed as
    they are, as roots)."""
    distribution = distribution or {}
    chosen, choices = choose(rows, target, precedence)
    packages = {name: entry(row, target, distribution.get(row.filename)) for name, row in chosen.items()}

    def rank(recorded: Mapping[str, Any]) -> int:
        origin = _recorded_origin(recorded)
        return precedence.index(origin) if origin in precedence else len(precedence)

    others = (
        sorted(  # files that are not wheels (shared libraries, test archives), per name: first origin, newest
            ((f, u) for f, u in distribution.items() if not f.endswith(".whl")),
            key=lambda item: (
                canonicalize_name(str(item[1]["name"])),
                -rank(item[1]),
                _version(item[1].get("version")),
                item[0],
            ),
            reverse=True,
        )
    )
    for file_name, upstream in others:
        listed = distribution_entry(upstream)
        origin = _recorded_origin(upstream)
        if listed["name"] in packages:
            reason = "a wheel of the same name is listed"
            if listed["name"] not in chosen:
                first = choices[listed["name"]][0]
                reason = (
                    f"{first.filename} is newer"
                    if first.origin == origin
                    else f"{origin} comes after {first.origin} (setting lock_precedence: "
                    f"{precedence_text(precedence)}), which has {first.filename}"
                )
            choices.setdefault(listed["name"], []).append(Choice(file_name, False, reason, origin))
            continue
        packages[listed["name"]] = listed
        kind = listed["package_type"].replace("_", " ")
        by = upstream.get("listed_by") or "the Pyodide distribution"
        choices[listed["name"]] = [
            Choice(file_name, True, f"the {kind} listed by {by} (not a wheel)", origin)
        ]
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
                        c.origin,
                    )
                    if c.chosen
                    else c
                    for c in choices[name]
                ]
                changed = True
    if roots is not None:
        names = {canonicalize_name(r) for r in roots}
        names |= {distribution_entry(u)["name"] for f, u in distribution.items() if not f.endswith(".whl")}
        kept = closure({"packages": packages}, names)
        for name in sorted(set(packages) - kept):
            del packages[name]
            choices[name] = [
                Choice(c.filename, False, OUT_OF_SCOPE, c.origin) if c.chosen else c for c in choices[name]
            ]
    lock = {"info": dict(upstream_lock["info"]), "packages": dict(sorted(packages.items()))}
    return LockBuild(lock, choices)


def _recorded_origin(recorded: Mapping[str, Any]) -> str:
    """The origin shown for a recorded file that is not a wheel: the distribution's, or mirrored (a trusted lock)."""
    return str(recorded.get("origin") or Origin.PYODIDE.value)


OUT_OF_SCOPE = (
    "installable, but only mirrored: the runtime's own lock lists the runtime's packages, what is built here, uploaded "
    "or from a Pyodide distribution, and their dependencies (setting runtime_lock = own); micropip and server-side "
    "locks (POST /r/VERSION/lock) get it from the index"
)


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
