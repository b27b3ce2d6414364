"""What a runtime's published lock offers a program: project names to complete a requirement with, and which project
provides an import name.

``LockIndex`` is pure: built from a lock (as ``farm.runtime.publish`` makes them, of every project the mirror serves
for the runtime, each wheel with its top-level import names) and the runtime's standard library module names.
``PublishedLocks`` makes it once per change of the catalog, so a query costs a dictionary lookup or a binary search,
whatever the size of the mirror.
"""

from __future__ import annotations

import bisect
import re
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from farm.errors import BadRequest, NotFound
from farm.runtime.distribution import RuntimeStore
from farm.runtime.lockfile import closure

LOCK = "pyodide-lock.json"
STDLIB = "python_stdlib.zip"
MAX_LIMIT = 50  # completions in one answer
MAX_MODULES = 100  # import names in one question
MAX_TEXT = 100
BOOT = ("micropip",)  # every lock the server makes carries micropip's closure (farm.runtime.locking)
# Modules every Pyodide has that are neither in its stdlib archive nor in a lock: its FFI.
RUNTIME_MODULES = frozenset({"js", "pyodide_js", "_pyodide_core"})
IMPORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_PREFIX = re.compile(r"[A-Za-z0-9._-]*")
_SEPARATORS = re.compile(r"[-_.]+")


class Provision(StrEnum):
    """Where an import comes from in the runtime."""

    STDLIB = "stdlib"  # the runtime's standard library or its FFI: nothing to require
    INCLUDED = "included"  # a project every lock carries (micropip's closure): nothing to require
    MIRRORED = "mirrored"  # a project this mirror serves for the runtime: require it
    UNKNOWN = "unknown"  # nothing here provides it


@dataclass(frozen=True)
class Provider:
    module: str
    provision: Provision
    project: str | None = None  # the best of the projects that provide it (its own name first)
    version: str | None = None
    others: tuple[str, ...] = ()  # other projects of the lock that provide it too

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "provision": self.provision.value,
            "project": self.project,
            "version": self.version,
            "others": list(self.others),
        }


def name_prefix(text: str) -> str:
    """The start of a project name as typed, normalised as PEP 503 names are (``Color_N`` -> ``color-n``); a
    character no project name has is refused (the editor sends the name part of a requirement line only)."""
    if len(text) > MAX_TEXT or not _NAME_PREFIX.fullmatch(text):
        raise BadRequest(
            f"{text[:MAX_TEXT]!r} is not the start of a project name (ASCII letters, digits, '.', '_' and '-', "
            f"at most {MAX_TEXT} characters)"
        )
    return _SEPARATORS.sub("-", text.lower())


def import_names(values: Sequence[str]) -> list[str]:
    """Import names as asked: top-level module names (``yaml``, not ``yaml.loader``), each once, at most
    ``MAX_MODULES``; anything else is refused with what was wrong."""
    if len(values) > MAX_MODULES:
        raise BadRequest(f"{len(values)} import names asked; ask for at most {MAX_MODULES} at once")
    bad = [v for v in values if len(v) > MAX_TEXT or not IMPORT_NAME.fullmatch(v)]
    if bad:
        raise BadRequest(
            f"{bad[0][:MAX_TEXT]!r} is not a top-level module name (a Python identifier, such as 'yaml' for "
            "'import yaml.loader')"
        )
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class LockIndex:
    names: tuple[str, ...]  # the projects a requirement can name, sorted
    versions: Mapping[str, str]
    providers: Mapping[str, tuple[str, ...]]  # import name -> projects, best first
    included: frozenset[str]  # projects every lock carries
    stdlib: frozenset[str]

    @classmethod
    def of(cls, lock: Mapping[str, Any], stdlib: Iterable[str]) -> LockIndex:
        packages: Mapping[str, Mapping[str, Any]] = lock.get("packages") or {}
        versions: dict[str, str] = {}
        providing: dict[str, set[str]] = {}
        for key, entry in packages.items():
            if (entry.get("package_type") or "package") != "package":
                continue  # a shared library or a test archive: not something to require
            name = canonicalize_name(str(entry.get("name") or key))
            versions[name] = str(entry.get("version") or "")
            imports = [str(i) for i in entry.get("imports") or [] if IMPORT_NAME.fullmatch(str(i))]
            for module in imports or [name.replace("-", "_")]:  # no imports recorded: its own name
                providing.setdefault(module, set()).add(name)
        providers = {
            module: tuple(sorted(names, key=lambda n: (n != canonicalize_name(module), n)))
            for module, names in providing.items()
        }
        return cls(
            names=tuple(sorted(versions)),
            versions=versions,
            providers=providers,
            included=frozenset(closure(lock, BOOT)) if packages else frozenset(),
            stdlib=frozenset(stdlib) | RUNTIME_MODULES,
        )

    def complete(self, prefix: str, limit: int = 10) -> list[tuple[str, str]]:
        """Up to ``limit`` projects whose normalised name starts with ``prefix`` (already ``name_prefix``ed), in
        name order, with the version the lock has."""
        limit = max(1, min(limit, MAX_LIMIT))
        start = bisect.bisect_left(self.names, prefix)
        found = []
        for name in self.names[start : start + limit]:
            if not name.startswith(prefix):
                break
            found.append((name, self.versions[name]))
        return found

    def provide(self, modules: Sequence[str]) -> list[Provider]:
        """Where each of ``modules`` (top-level import names) comes from on this runtime."""
        return [self._provider(m) for m in modules]

    def _provider(self, module: str) -> Provider:
        projects = self.providers.get(module, ())
        if module in self.stdlib and not projects:
            return Provider(module, Provision.STDLIB)
        if module in self.stdlib:  # a backport shadowing the stdlib (``typing``): the runtime's own wins
            return Provider(module, Provision.STDLIB, others=projects)
        if not projects:
            return Provider(module, Provision.UNKNOWN)
        included = [p for p in projects if p in self.included]
        best = included[0] if included else projects[0]
        provision = Provision.INCLUDED if included else Provision.MIRRORED
        others = tuple(p for p in projects if p != best)
        return Provider(module, provision, best, self.versions[best], others)


def stdlib_names(archive: Path | None) -> frozenset[str]:
    """The top-level modules of a runtime's ``python_stdlib.zip`` (its own Python's), with the names this Python
    knows to be standard (the C modules built into Pyodide are not in the archive)."""
    names = set(sys.stdlib_module_names)
    if archive is not None:
        with zipfile.ZipFile(archive) as stdlib:
            for member in stdlib.namelist():
                top = member.split("/", 1)[0]
                module = top.removesuffix(".py") if "/" not in member else top
                if IMPORT_NAME.fullmatch(module):
                    names.add(module)
    return frozenset(names)


def servable_index(lock: Mapping[str, Any], stdlib: Path | None) -> LockIndex:
    """The ``LockIndex`` of a lock of everything the mirror serves for a runtime, with its stdlib's names."""
    return LockIndex.of(lock, stdlib_names(stdlib))


class PublishedLocks:
    """The ``LockIndex`` of each installed runtime, made from what the mirror can serve for it (``servable``: a lock
    of every such project, ``farm.runtime.publish.LockPublisher.build`` with ``scope="all"``; the runtime's own
    ``pyodide-lock.json`` lists fewer, see the setting ``runtime_lock``) and remade when the catalog changes
    (``marker``, asked at most once per ``recheck`` seconds: a completion may lag a change by that much). The work
    of a remake grows with the catalog, but it is done on a question after a change, never on the write path;
    ``make`` (version, stdlib archive) does all of it elsewhere, e.g. in a lock worker process, so a server's pages
    are not stalled by it."""

    def __init__(
        self,
        runtimes: RuntimeStore,
        marker: Callable[[], Hashable],
        servable: Callable[[str], Mapping[str, Any]] | None = None,
        recheck: float = 2.0,
        *,
        make: Callable[[str, Path | None], LockIndex] | None = None,
    ) -> None:
        if make is None:
            assert servable is not None, "PublishedLocks needs servable or make"
            make = lambda version, stdlib: servable_index(servable(version), stdlib)  # noqa: E731
        self.runtimes = runtimes
        self.marker = marker
        self.make = make
        self.recheck = recheck
        self._cache: dict[str, tuple[Hashable, LockIndex]] = {}
        self._checked: tuple[float, Hashable] | None = None
        self._lock = threading.Lock()

    def _marker(self) -> Hashable:
        now = time.monotonic()
        if self._checked is None or now - self._checked[0] >= self.recheck:
            self._checked = (now, self.marker())
        return self._checked[1]

    def index(self, version: str) -> LockIndex:
        directory = self.runtimes.path(version)
        lock_path, stdlib_path = directory / LOCK, directory / STDLIB
        if not lock_path.is_file():
            raise NotFound(
                f"runtime {version} has no published lock here; `wasmfarm runtime add {version}` installs it"
            )
        stdlib = stdlib_path if stdlib_path.is_file() else None
        key = (self._marker(), stdlib.stat().st_mtime_ns if stdlib else 0)
        cached = self._cache.get(version)
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._lock:
            cached = self._cache.get(version)
            if cached is not None and cached[0] == key:
                return cached[1]
            made = self.make(version, stdlib)
            self._cache[version] = (key, made)
            return made
