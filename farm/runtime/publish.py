"""Keeping each installed runtime's ``pyodide-lock.json`` in step with the catalog (regenerated on change)."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name
from pyodide_lock import PyodideLockSpec

from farm.errors import InvalidDistribution
from farm.index.pages import write_page
from farm.index.render_lock import RenderLock
from farm.runtime.distribution import RuntimeStore
from farm.runtime.lock_records import index_roots, recorded_entries
from farm.runtime.lockfile import DEFAULT_PRECEDENCE, LockBuild, build_lock, choose, entry
from farm.runtime.target import target_for
from farm.store.blobs import BlobStore
from farm.store.catalog import Catalog
from farm.store.models import Origin

log = logging.getLogger(__name__)
LOCK = "pyodide-lock.json"


def validate_lock(lock: dict[str, object], where: str) -> None:
    """The lock must be one the ``pyodide-lock`` package accepts, with file names that match their entries."""
    try:
        spec = PyodideLockSpec.from_dict(lock)
        spec.check_wheel_filenames()
    except Exception as exc:
        raise InvalidDistribution(
            f"{where}: generated lock does not validate with pyodide-lock: {exc}"
        ) from exc


class LockPublisher:
    def __init__(
        self,
        runtimes: RuntimeStore,
        catalog: Catalog,
        blobs: BlobStore,
        render_lock: RenderLock,
        precedence: Sequence[str] = DEFAULT_PRECEDENCE,
        scope: Literal["own", "all"] = "own",
    ) -> None:
        self.runtimes = runtimes
        self.catalog = catalog
        self.blobs = blobs
        self.render_lock = render_lock  # the page tree's: a lock is written by one render at a time
        self.precedence = tuple(precedence)
        self.scope = scope  # the setting runtime_lock

    def build(
        self, version: str, also: Iterable[str] = (), scope: Literal["own", "all"] | None = None
    ) -> LockBuild:
        """The runtime's lock (``scope``: see the setting ``runtime_lock``). With ``own``, only the rows of the
        lock's roots and of their dependencies are read, a round of queries per level of depth, so the work does
        not grow with the number of mirrored projects; ``also``: projects whose rows are read anyway, so that
        ``choices`` says why they are or are not listed (``wasmfarm explain``); ``scope`` overrides the setting."""
        target = target_for(version)
        upstream = self.runtimes.upstream_lock(version)
        distribution = {
            file_name: recorded
            for file_name, recorded in recorded_entries(self.runtimes.meta, version).items()
            if file_name.endswith(".whl") or self.blobs.has(str(recorded["sha256"]))
        }
        if (scope or self.scope) == "all":
            rows = self.catalog.wheels()
            return build_lock(upstream, rows, target, precedence=self.precedence, distribution=distribution)
        roots = {canonicalize_name(str(name)) for name in upstream["packages"]}
        roots |= {
            canonicalize_name(name)
            for name in self.catalog.projects_with_origins(
                o.value for o in Origin if o is not Origin.MIRRORED
            )
        }
        roots |= index_roots(self.runtimes.meta, version)  # mirrored with a trusted lock's metadata
        loaded = roots | {canonicalize_name(name) for name in also}
        rows = self.catalog.wheels_of_projects(loaded)
        while True:  # the dependencies of what is chosen so far, level by level
            chosen, _ = choose(rows, target, self.precedence)
            wanted = {
                dependency
                for row in chosen.values()
                for dependency in entry(row, target, distribution.get(row.filename))["depends"]
            } - loaded
            if not wanted:
                break
            loaded |= wanted
            rows += self.catalog.wheels_of_projects(wanted)
        return build_lock(
            upstream, rows, target, precedence=self.precedence, distribution=distribution, roots=roots
        )

    def refresh(self, versions: Sequence[str] | None = None) -> None:
        """Regenerate the lock of every installed runtime (or of ``versions``) and link its wheels."""
        with self.render_lock.held():
            self._refresh(versions)

    def _refresh(self, versions: Sequence[str] | None) -> None:
        for installed in self.runtimes.installed():
            if versions is not None and installed.version not in versions:
                continue
            self.runtimes.ensure_file_manifest(installed.version)
            built = self.build(installed.version)
            validate_lock(built.lock, f"Pyodide {installed.version}")
            directory = self.runtimes.path(installed.version)
            self._link_wheels(directory, built.lock)
            write_page(directory / LOCK, json.dumps(built.lock, indent=1, sort_keys=False).encode())
            log.info("lock of Pyodide %s: %d packages", installed.version, len(built.lock["packages"]))

    def _link_wheels(self, directory: Path, lock: dict[str, object]) -> None:
        """``<runtime>/<wheel>`` links to the blob of each locked wheel; stale links go."""
        packages = lock["packages"]
        assert isinstance(packages, dict)
        wanted = {p["file_name"]: p["sha256"] for p in packages.values()}
        links = {}  # one directory scan, not a stat per locked wheel
        files = set()  # the runtime's own files: never replaced by a link
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_symlink():
                    links[entry.name] = os.readlink(entry.path)  # noqa: PTH115 - strings: pathlib is the cost here
                else:
                    files.add(entry.name)
        for name in links.keys() - wanted.keys():
            (directory / name).unlink()
        blobs = os.path.relpath(self.blobs.root, directory)
        root = (
            len(str(self.blobs.root)) + 1
        )  # string slicing: pathlib's relative_to was most of this loop's time
        for filename, sha256 in wanted.items():
            target = os.path.join(blobs, str(self.blobs.path_for(sha256))[root:])  # noqa: PTH118 - as above
            if links.get(filename) == target:
                continue
            if filename in files:  # refused where entries come in; a lock naming one is not linked over it
                log.error(
                    "%s: the lock lists %s, a file of the runtime itself; not linked", directory, filename
                )
                continue
            link = directory / filename
            temp = directory / f".link-{os.getpid()}-{threading.get_ident()}"  # a 255-byte name has no room
            temp.unlink(missing_ok=True)
            temp.symlink_to(target)
            os.replace(temp, link)


def essential_requirements(upstream_lock: dict[str, object]) -> list[str]:
    """What a runtime needs from the mirror to boot micropip: micropip, packaging and their lock dependencies."""
    packages = upstream_lock["packages"]
    assert isinstance(packages, dict)
    names: set[str] = set()
    todo = ["micropip", "packaging"]
    while todo:
        name = todo.pop()
        if name in names or name not in packages:
            continue
        names.add(name)
        todo.extend(packages[name].get("depends", []))
    return sorted(f"{packages[n]['name']}=={packages[n]['version']}" for n in names)
