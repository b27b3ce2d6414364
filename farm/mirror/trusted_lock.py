"""The ``pyodide-lock.json`` published with a PEP 503 index of Pyodide wheels that the operator trusts.

pyodide-recipes publishes its wheels as a simple index and its lock beside it. The index gives files and hashes;
only the lock says how Pyodide loads each wheel: its import names, its dependencies as ``loadPackage`` follows
them, the shared libraries it needs (which are not wheels and are not on the index) and its unvendored tests.
``wasmfarm mirror --pyodide-lock URL`` (or the setting ``upstream_pyodide_lock``) keeps that:

- the lock is read once, validated with ``pyodide-lock``, and its ``info`` must describe one of the runtimes
  mirrored for (ABI, Python X.Y, architecture), else nothing is mirrored;
- a selected wheel the lock lists must have the lock's sha256 on the index too, else it is refused: the two
  disagree about what the file is;
- what such a wheel depends on in the lock is selected as well: other wheels from the index (the very files the lock
  names) and shared libraries from beside the lock (``file_name`` joined to the lock's URL, as Pyodide resolves a
  lock's files), each checked against the lock's sha256;
- once the wheels are in the catalog, their entries and the shared libraries are recorded for the matching runtimes
  (``farm.runtime.lock_records``), whose own locks then list them with that metadata.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from pyodide_lock import PyodideLockSpec

from farm.errors import InvalidDistribution, NotFound
from farm.mirror.upstream import UpstreamFile, UpstreamIndex
from farm.runtime.release import recorded_entry
from farm.runtime.target import RuntimeTarget

MAX_LOCK_BYTES = 64 * 1024**2
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class TrustedLock:
    url: str
    sha256: str
    runtimes: tuple[str, ...]  # the runtime versions mirrored for that the lock describes
    entries: Mapping[
        NormalizedName, Mapping[str, Any]
    ]  # recorded entries (``release.recorded_entry``) by name
    skipped: Mapping[NormalizedName, str] = field(default_factory=dict)  # entries not usable here: why

    def for_file(self, filename: str) -> Mapping[str, Any] | None:
        """The lock's entry for a file of this very name, if any."""
        entry = self.entries.get(canonicalize_name(filename.split("-", 1)[0]))
        return entry if entry is not None and entry["file_name"] == filename else None

    def location(self, entry: Mapping[str, Any]) -> UpstreamFile:
        """Where a file the lock lists but the index does not (a shared library) is: beside the lock."""
        name = str(entry["file_name"])
        return UpstreamFile(
            name, urljoin(self.url, name), str(entry["sha256"]), None, False, None, None, False
        )


@dataclass
class LockPlan:
    """What the trusted lock adds to a mirror run: wheels its ``depends`` need, shared libraries, refusals."""

    wheels: dict[str, tuple[NormalizedName, UpstreamFile]] = field(default_factory=dict)  # file name -> file
    libraries: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # file name -> entry
    refused: dict[str, str] = field(default_factory=dict)  # file name -> why it is not mirrored
    problems: list[str] = field(default_factory=list)


def read_trusted_lock(url: str, index: UpstreamIndex, targets: Sequence[RuntimeTarget]) -> TrustedLock:
    """Fetch and check the lock at ``url`` (http or https) for the runtimes of ``targets``."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise InvalidDistribution(f"--pyodide-lock {url!r}: give the http(s) URL of a pyodide-lock.json")
    body = index.document(url, MAX_LOCK_BYTES)
    if body is None:
        raise NotFound(f"{url}: HTTP 404; give the URL of the pyodide-lock.json published with the index")
    try:
        spec = PyodideLockSpec.from_dict(json.loads(body))
    except Exception as exc:  # JSON errors, cattrs' validation groups: all mean one thing here
        raise InvalidDistribution(f"{url}: not a valid Pyodide lock ({exc}); nothing was mirrored") from exc
    info = spec.info.to_dict()
    runtimes = tuple(t.version for t in targets if _describes(info, t))
    if not runtimes:
        described = ", ".join(f"{t.version} (ABI {t.abi}, Python {t.python})" for t in targets)
        raise InvalidDistribution(
            f"{url}: the lock is for ABI {info.get('abi_version')!r}, Python {info.get('python')!r}, arch "
            f"{info.get('arch')!r}, none of the runtimes mirrored for: {described}; give the lock published for "
            "one of them (or --runtime); nothing was mirrored"
        )
    entries: dict[NormalizedName, Mapping[str, Any]] = {}
    skipped: dict[NormalizedName, str] = {}
    for key, package in sorted(spec.packages.items()):
        if not _FILE_NAME.match(package.file_name):  # never joined to the lock's URL
            skipped[canonicalize_name(key)] = f"its file name {package.file_name!r} is not a plain file name"
            continue
        entries[canonicalize_name(key)] = recorded_entry(key, package)
    return TrustedLock(url, hashlib.sha256(body).hexdigest(), runtimes, entries, skipped)


def trusted_lock_for(
    url: str | None, index: UpstreamIndex, targets: Sequence[RuntimeTarget]
) -> TrustedLock | None:
    """The trusted lock at ``url`` (the setting ``upstream_pyodide_lock`` or ``--pyodide-lock``), if one is given."""
    return read_trusted_lock(url, index, targets) if url else None


def _describes(info: Mapping[str, Any], target: RuntimeTarget) -> bool:
    try:
        python = Version(str(info.get("python"))).release[:2]
    except InvalidVersion:
        return False
    return (
        str(info.get("abi_version")) == target.abi
        and str(info.get("arch", "wasm32")) == "wasm32"
        and python == target.python_xy
    )


def plan_lock_depends(
    lock: TrustedLock, selected: Mapping[str, UpstreamFile], index: UpstreamIndex
) -> LockPlan:
    """Check the selected files (by file name) against the lock and add what their lock ``depends`` need."""
    plan = LockPlan()
    todo = [f for f in selected.values() if lock.for_file(f.filename) is not None]
    seen = {f.filename for f in todo}
    while todo:
        file = todo.pop()
        entry = lock.for_file(file.filename)
        assert entry is not None
        if (file.sha256 or "").lower() != entry["sha256"]:
            plan.wheels.pop(file.filename, None)
            plan.refused[file.filename] = (
                f"{file.filename}: the index gives sha256 {file.sha256}, the trusted lock {lock.url} says "
                f"{entry['sha256']}; not mirrored: find out which one changed"
            )
            continue
        for dependency in entry["depends"]:
            needed = lock.entries.get(canonicalize_name(dependency))
            if needed is None:
                why = lock.skipped.get(canonicalize_name(dependency), "the lock does not list it")
                plan.problems.append(
                    f"{file.filename}: the trusted lock {lock.url} says it needs {dependency}, which is not "
                    f"usable: {why}"
                )
                continue
            name = str(needed["file_name"])
            if name in seen:
                continue
            seen.add(name)
            if not name.endswith(".whl"):
                plan.libraries[name] = needed
                continue
            found = _on_index(index, canonicalize_name(str(needed["name"])), name)
            if found is None:
                plan.problems.append(
                    f"{file.filename} needs {name} (trusted lock {lock.url}), which {index.base_url} does not list"
                )
                continue
            plan.wheels[name] = (canonicalize_name(str(needed["name"])), found)
            todo.append(found)
    return plan


def _on_index(index: UpstreamIndex, project: NormalizedName, filename: str) -> UpstreamFile | None:
    page = index.project(project)
    return next((f for f in page.files if f.filename == filename), None) if page is not None else None
