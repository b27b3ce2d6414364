"""The ``pyodide-lock.json`` published with a PEP 503 index of Pyodide wheels that the operator trusts.

pyodide-recipes publishes its wheels as a simple index and its lock beside it. The index gives files and hashes;
only the lock says how Pyodide loads each wheel: its import names, its dependencies as ``loadPackage`` follows
them, the shared libraries it needs (which are not wheels and are not on the index) and its unvendored tests.
``wasmfarm mirror --pyodide-lock URL`` (or the setting ``upstream_pyodide_lock``) keeps that:

- the lock is read once (at most 64 MiB; an https URL is not followed to plain http; ``--pyodide-lock-sha256`` pins
  it), validated with ``pyodide-lock``, and its ``info`` must describe one of the runtimes mirrored for (ABI, Python
  X.Y, architecture), else nothing is mirrored;
- an entry is usable only with a plain file name that is no runtime file's (``pyodide.asm.wasm``,
  ``python_stdlib.zip``, ...), a wheel or a ``.zip``/``.tar``/``.tgz`` archive, and a sha256 of 64 hex digits;
  the others are skipped, with the reason;
- a selected wheel the lock lists must have the lock's sha256 on the index too, else it is refused: the two
  disagree about what the file is;
- what such a wheel depends on in the lock is selected as well: other wheels from the index (the very files the lock
  names, through the requirements' ``--hash`` pins if any) and shared libraries from beside the lock
  (``file_name`` joined to the lock's URL, as Pyodide resolves a lock's files), each checked against the lock's
  sha256;
- once the wheels are in the catalog, their entries and the shared libraries are recorded for every configured
  runtime the lock describes (``farm.runtime.lock_records``), whose own locks then list them with that metadata.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from pyodide_lock import PyodideLockSpec

from farm.errors import InvalidDistribution, NotFound, UpstreamIntegrityError
from farm.mirror.resolver import ProjectSource
from farm.mirror.upstream import UpstreamFile, UpstreamIndex
from farm.runtime.distribution import is_runtime_file
from farm.runtime.release import recorded_entry
from farm.runtime.target import RuntimeTarget

log = logging.getLogger(__name__)

MAX_LOCK_BYTES = 64 * 1024**2
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*\.(whl|zip|tar|tgz|tar\.gz|tar\.bz2)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TrustedLock:
    url: str
    sha256: str
    info: Mapping[str, Any]
    by_name: Mapping[
        NormalizedName, Mapping[str, Any]
    ]  # recorded entries (``release.recorded_entry``), by key
    by_file: Mapping[str, Mapping[str, Any]]  # the same, by file name
    skipped: Mapping[NormalizedName, str] = field(default_factory=dict)  # entries not usable here: why
    runtimes: tuple[str, ...] = ()  # the configured runtime versions it describes: where its metadata is kept

    def for_file(self, filename: str) -> Mapping[str, Any] | None:
        """The lock's entry for a file of this very name, if any (whatever the entry's key)."""
        return self.by_file.get(filename)

    def location(self, entry: Mapping[str, Any]) -> UpstreamFile:
        """Where a file the lock lists but the index does not (a shared library) is: beside the lock."""
        name = str(entry["file_name"])
        return UpstreamFile(
            name, urljoin(self.url, name), str(entry["sha256"]), None, False, None, None, False
        )

    def describing(self, targets: Sequence[RuntimeTarget]) -> TrustedLock | None:
        """This lock for those of ``targets`` it describes (ABI, Python X.Y, wasm32); None for none of them."""
        runtimes = tuple(t.version for t in targets if _describes(self.info, t))
        return dataclasses.replace(self, runtimes=runtimes) if runtimes else None


@dataclass
class LockPlan:
    """What the trusted lock adds to a mirror run: wheels its ``depends`` need, shared libraries, refusals."""

    wheels: dict[str, tuple[NormalizedName, UpstreamFile]] = field(default_factory=dict)  # file name -> file
    libraries: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # file name -> entry
    refused: dict[str, str] = field(default_factory=dict)  # file name -> why it is not mirrored
    problems: list[str] = field(default_factory=list)


def fetch_trusted_lock(url: str, index: UpstreamIndex, expected_sha256: str | None = None) -> TrustedLock:
    """Fetch and validate the lock at ``url`` (http or https); ``expected_sha256`` pins its bytes."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidDistribution(f"--pyodide-lock {url!r}: give the http(s) URL of a pyodide-lock.json")
    if expected_sha256 is not None and not _SHA256.match(expected_sha256.lower()):
        raise InvalidDistribution(
            f"--pyodide-lock-sha256 {expected_sha256!r}: expected 64 hexadecimal digits"
        )
    body = index.document(url, MAX_LOCK_BYTES)
    if body is None:
        raise NotFound(f"{url}: HTTP 404; give the URL of the pyodide-lock.json published with the index")
    digest = hashlib.sha256(body).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise UpstreamIntegrityError(
            f"{url}: sha256 {digest}, --pyodide-lock-sha256 says {expected_sha256.lower()}; nothing was mirrored. "
            "Check where the lock came from, or pin the new one"
        )
    try:
        spec = PyodideLockSpec.from_dict(json.loads(body))
    except Exception as exc:  # JSON errors, cattrs' validation groups: all mean one thing here
        raise InvalidDistribution(f"{url}: not a valid Pyodide lock ({exc}); nothing was mirrored") from exc
    by_name: dict[NormalizedName, Mapping[str, Any]] = {}
    skipped: dict[NormalizedName, str] = {}
    for key, package in sorted(spec.packages.items()):
        name = canonicalize_name(key)
        if not _FILE_NAME.match(package.file_name):  # never joined to the lock's URL
            skipped[name] = (
                f"its file name {package.file_name!r} is not a plain file name of a wheel or an archive"
            )
        elif is_runtime_file(package.file_name):  # its link would replace the runtime's own file
            skipped[name] = f"its file name {package.file_name!r} is one of the runtime's own files"
        elif not _SHA256.match(package.sha256.lower()):
            skipped[name] = f"its sha256 {package.sha256!r} is not 64 hexadecimal digits"
        else:
            by_name[name] = recorded_entry(key, package)
    by_file = {str(e["file_name"]): e for e in by_name.values()}
    return TrustedLock(url, digest, spec.info.to_dict(), by_name, by_file, skipped)


def read_trusted_lock(
    url: str, index: UpstreamIndex, targets: Sequence[RuntimeTarget], expected_sha256: str | None = None
) -> TrustedLock:
    """The lock at ``url`` for the runtimes of ``targets``; refused when it describes none of them."""
    lock = fetch_trusted_lock(url, index, expected_sha256)
    described = lock.describing(targets)
    if described is None:
        info = lock.info
        runtimes = ", ".join(f"{t.version} (ABI {t.abi}, Python {t.python})" for t in targets)
        raise InvalidDistribution(
            f"{url}: the lock is for ABI {info.get('abi_version')!r}, Python {info.get('python')!r}, arch "
            f"{info.get('arch')!r}, none of the runtimes mirrored for: {runtimes}; give the lock published for "
            "one of them (or --runtime); nothing was mirrored"
        )
    return described


def trusted_lock_source(
    url: str | None, index: UpstreamIndex, configured: Sequence[RuntimeTarget]
) -> Callable[[], TrustedLock | None]:
    """For jobs made one runtime at a time (``check --mirror``, the compat page's "mirror it"): the lock at
    ``url`` read once, on first use, for the configured runtimes it describes (None: no lock, or one for none)."""

    @functools.cache
    def lock() -> TrustedLock | None:
        if not url:
            return None
        described = fetch_trusted_lock(url, index).describing(configured)
        if described is None:
            log.warning("upstream_pyodide_lock %s describes none of the configured runtimes: not used", url)
        return described

    return lock


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
    lock: TrustedLock, selected: Mapping[str, UpstreamFile], source: ProjectSource, where: str
) -> LockPlan:
    """Check the selected files (by file name) against the lock and add what their lock ``depends`` need: wheels
    as ``source`` offers them (the index, through any pins), shared libraries from beside the lock."""
    plan = LockPlan()
    todo = [f for f in selected.values() if lock.for_file(f.filename) is not None]
    seen = {f.filename for f in todo}
    while todo:
        file = todo.pop()
        entry = lock.for_file(file.filename)
        assert entry is not None  # only files the lock lists are queued
        if (file.sha256 or "").lower() != entry["sha256"]:
            plan.wheels.pop(file.filename, None)
            given = f"sha256 {file.sha256}" if file.sha256 else "no sha256"
            plan.refused[file.filename] = (
                f"{file.filename}: {where} gives {given}, the trusted lock {lock.url} says {entry['sha256']}; "
                "not mirrored: find out which one changed"
            )
            continue
        for dependency in entry["depends"]:
            needed = lock.by_name.get(canonicalize_name(dependency))
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
            project = canonicalize_name(name.split("-", 1)[0])
            page = source.project(project)
            found = next((f for f in page.files if f.filename == name), None) if page is not None else None
            if found is None:
                plan.problems.append(f"{file.filename} needs {name} (trusted lock {lock.url}), which {where} "
                                     "does not offer")  # fmt: skip
                continue
            plan.wheels[name] = (project, found)
            todo.append(found)
    return plan
