"""The oracle's answer for one requirement on one runtime: a status, the reason in words, and the evidence.

Frozen values, JSON in and out through one pydantic ``TypeAdapter`` (which also gives the JSON Schema documented in
``docs/compat.md``): what the CLI prints with ``--json``, what the store keeps, what pages and badges are made from.
Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from farm.mirror.offer import Shortfall

PROCEDURE = 1  # bumped whenever the rules change what a verdict says: every kept check is then re-decided


class Status(StrEnum):
    WORKS = "works"  # a wheel of this mirror installed with micropip and imported in Pyodide
    AVAILABLE = "available-upstream"  # a wheel the runtime installs is upstream, not (all) mirrored
    BUILDABLE = "buildable"  # only an sdist, which the build farm has a toolchain for
    FAILS = "fails"  # with the reason in words
    UNKNOWN = "unknown"  # could not be decided now (upstream unreachable, no runner): never kept

    @property
    def kept(self) -> bool:
        return self is not Status.UNKNOWN


class Code(StrEnum):
    """Why, for programs (the reason says it in words)."""

    # works
    IMPORTED = "imported"
    NOT_APPLICABLE = "not-applicable"  # the requirement's marker excludes the runtime: nothing to install
    # available-upstream
    WHEEL_UPSTREAM = "wheel-upstream"
    DEPENDENCIES_UPSTREAM = "dependencies-upstream"
    # buildable
    SDIST_COMPILED = "sdist-compiled"
    SDIST_PURE = "sdist-pure"
    BUILDING = "building"
    DEPENDENCY_BUILDABLE = "dependency-buildable"
    # fails: what the index offers (the words of ``farm.mirror.offer``)
    NO_SUCH_PROJECT = Shortfall.NO_SUCH_PROJECT.value
    NO_SUCH_VERSION = Shortfall.NO_SUCH_VERSION.value
    NO_FILE_FOR_TAGS = Shortfall.NO_FILE_FOR_TAGS.value
    REQUIRES_PYTHON = Shortfall.REQUIRES_PYTHON.value
    YANKED = Shortfall.YANKED.value
    # fails: what the source needs, what a build or a run showed
    NO_TOOLCHAIN = "no-toolchain"
    UNREADABLE_SDIST = "unreadable-sdist"
    BUILD_FAILED = "build-failed"
    INSTALL_FAILED = "install-failed"
    IMPORT_FAILED = "import-failed"
    DEPENDENCY_FAILS = "dependency-fails"
    DEPENDENCY_MISSING = "dependency-missing"
    CONFLICT = "conflict"
    # unknown
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class FileRef:
    """A distribution file the verdict rests on."""

    filename: str
    sha256: str | None
    url: str  # upstream: its absolute URL; this mirror: its path under the public URL (files/<aa>/<sha256>/<name>)
    origin: str  # mirrored | uploaded | built (this mirror's catalog) | upstream (not mirrored)


@dataclass(frozen=True)
class Node:
    """One project of the requirement's closure, resolved with the runtime's markers."""

    name: str
    version: str
    filename: str
    sha256: str | None
    mirrored: bool
    depends: tuple[str, ...] = ()  # the names of the closure it requires (the edges of the dependency tree)


@dataclass(frozen=True)
class BuildRef:
    """A build of the project's recipe for the runtime (``/builds/<id>``)."""

    id: int
    state: str  # queued | running | succeeded | failed | cancelled
    step: str
    url: str
    recipe: str  # the meta.yaml built
    error: str | None = None
    log_tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    wheel: FileRef | None = None  # the wheel installed (works, import fails) or to be mirrored (available)
    sdist: FileRef | None = None  # the source looked into (buildable, no toolchain)
    closure: tuple[Node, ...] = ()  # everything installed with it, the requirement's own project first
    missing: tuple[str, ...] = ()  # projects of the closure this mirror lacks: "works if they are mirrored"
    newer_upstream: str | None = None  # a newer version the runtime installs is upstream, not mirrored
    platforms: tuple[str, ...] = ()  # what the only wheels there are were built for
    sources: tuple[str, ...] = ()  # compiled sources found in the sdist (the first few)
    languages: tuple[str, ...] = ()  # C, C++, Cython, Rust, Fortran
    imports: dict[str, str] = field(default_factory=dict)  # module -> "ok" or the traceback's last lines
    installed: dict[str, str] = field(default_factory=dict)  # what micropip installed: name -> version
    build: BuildRef | None = None
    recipe: str | None = None  # a recipe that builds it (hand-written or generated), if there is one
    dependency: Verdict | None = None  # the failing (or buildable) dependency's own verdict
    detail: str | None = None  # longer words: a resolution's explanation, an install error
    log: tuple[str, ...] = ()  # the run's last lines of output


@dataclass(frozen=True)
class Verdict:
    requirement: str  # as asked ("rich>=13")
    project: str  # normalised name
    version: str | None  # the version judged (None when there is none: no such project or version)
    runtime: str
    status: Status
    code: Code
    reason: str
    evidence: Evidence = field(default_factory=Evidence)
    input_key: str = ""  # sha256 of every input: same key, same verdict (see ``farm.compat.oracle``)
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0  # what deciding took (the Pyodide run, when there was one)
    ran: bool = False  # whether Pyodide ran for this check
    check_id: int | None = None  # the kept check (``compat_check`` row)
    from_store: bool = False  # answered from a kept check with the same input key, nothing ran

    @property
    def works(self) -> bool:
        return self.status is Status.WORKS

    def replace(self, **changes: Any) -> Verdict:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _ADAPTER.dump_python(self, mode="json")
        return data

    @classmethod
    def from_json(cls, data: Any) -> Verdict:
        return _ADAPTER.validate_python(data)


_ADAPTER: TypeAdapter[Verdict] = TypeAdapter(Verdict)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``Verdict.to_json()`` (``wasmfarm check --schema`` prints it)."""
    return _ADAPTER.json_schema()
