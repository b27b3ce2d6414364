"""Server-side locking: resolve requirements against what the mirror holds for a runtime, return a lock.

The result holds exactly the resolved closure plus what the runtime needs to boot micropip, so a page or a Node
program can ``loadPackage`` it whole, with no resolution in the browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import tomli_w
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from farm.errors import FarmError, NotFound
from farm.index.simple_index import file_path
from farm.mirror.resolver import resolve
from farm.mirror.upstream import UpstreamFile, UpstreamProject
from farm.runtime.lockfile import closure, entry, requires_dist
from farm.runtime.publish import LockPublisher, validate_lock
from farm.runtime.target import RuntimeTarget, target_for
from farm.store.blobs import BlobStore
from farm.store.catalog import Catalog
from farm.store.models import DistFile


class CatalogSource:
    """The catalog's wheels seen as an index, for the resolver: all of them given at once, or (``of_catalog``) each
    project's read when the resolver first asks for it, so a resolution reads only its candidates' rows."""

    label = "this mirror"

    def __init__(
        self, rows: Sequence[DistFile], load: Callable[[str], Sequence[DistFile]] | None = None
    ) -> None:
        self.rows: dict[str, DistFile] = {}
        self.projects: dict[str, list[DistFile]] = {}
        self._load = load
        self._add(rows)

    @classmethod
    def of_catalog(cls, catalog: Catalog) -> CatalogSource:
        return cls((), catalog.wheels_of)

    def _add(self, rows: Sequence[DistFile]) -> None:
        for row in rows:
            self.rows[row.filename] = row
            self.projects.setdefault(canonicalize_name(row.filename.split("-", 1)[0]), []).append(row)

    def project(self, name: str) -> UpstreamProject | None:
        normalized = canonicalize_name(name)
        if self._load is not None and normalized not in self.projects:
            self._add(self._load(normalized))
            self.projects.setdefault(normalized, [])
        rows = self.projects.get(normalized)
        if not rows:
            return None
        files = tuple(
            UpstreamFile(
                filename=r.filename,
                url=r.filename,
                sha256=r.sha256,
                requires_python=r.requires_python,
                yanked=r.yanked,
                yanked_reason=r.yanked_reason,
                metadata_sha256=r.metadata_sha256,
                has_metadata=r.core_metadata is not None,
            )
            for r in rows
        )
        return UpstreamProject(normalized, "", files)

    def requires_dist(self, file: UpstreamFile) -> list[str]:
        return requires_dist(self.rows[file.filename])


def lock_requirements(
    requirements: Sequence[Requirement], version: str, locks: LockPublisher
) -> tuple[dict[str, Any], list[DistFile]]:
    """A pyodide-lock.json for the closure of ``requirements`` on runtime ``version``, and the files it selects."""
    target = target_for(version)
    # What only the runtime's lock knows of (its shared libraries, an imported distribution's entries): its own
    # scope, whatever the setting, so a lock reads the rows of its candidates and of the lock's roots, never the
    # whole catalog (also checks the runtime is installed).
    full = locks.build(version, scope="own").lock
    source = CatalogSource.of_catalog(locks.catalog)
    candidates = resolve(requirements, source, target, source.requires_dist)
    selected = {c.name: source.rows[c.files[0].filename] for c in candidates}
    listed = full["packages"]
    packages: dict[str, Any] = {
        # The runtime's own entry where it lists this very file: an imported distribution's metadata with it.
        name: listed[name] if listed.get(name, {}).get("file_name") == row.filename else entry(row, target)
        for name, row in selected.items()
    }
    wanted = {d for p in packages.values() for d in p["depends"]} - set(packages)
    for name in closure(full, ["micropip", *wanted]):  # and what only the lock knows of: shared libraries
        packages.setdefault(name, listed[name])
    lock = {"info": full["info"], "packages": dict(sorted(packages.items()))}
    validate_lock(lock, f"lock for {', '.join(str(r) for r in requirements)}")
    for name in packages:
        source.project(name)  # the rows of what the runtime adds (micropip's closure) too
    files = [source.rows[p["file_name"]] for p in lock["packages"].values() if p["file_name"] in source.rows]
    return lock, files


def runtime_wheel(catalog: Catalog, blobs: BlobStore, version: str, filename: str) -> tuple[str, str] | None:
    """``/pyodide/<version>/<wheel>`` for a wheel the runtime's own lock does not list (links there are only the
    lock's: setting ``runtime_lock``): the path of its blob and its sha256, if it is a published wheel that installs
    on the runtime. Server-side locks name their wheels by bare file name (Node joins ``file_name`` to its package
    base URL and cache directory), so every wheel they can select is found beside the runtime this way."""
    try:
        target = target_for(version)
    except FarmError:
        return None
    row = catalog.published_wheel(filename)
    if row is None or not target.accepts(filename):
        return None
    return str(blobs.path_for(row.sha256)), row.sha256


def canonical(lock: dict[str, Any]) -> bytes:
    return json.dumps(lock, sort_keys=True, separators=(",", ":")).encode()


def keep_lock(lock: dict[str, Any], blobs: BlobStore) -> str:
    """Keep a lock under its sha256, so a shared app can load exactly it later (its files never change)."""
    return blobs.put_bytes(canonical(lock))


MAX_KEPT_LOCK = 64 * 1024**2


def kept_lock(digest: str, blobs: BlobStore, target: RuntimeTarget | None = None) -> bytes:
    """A lock this server kept (``keep_lock``), by its sha256; ``target``: the runtime it must be for."""
    try:
        path = blobs.path_for(digest)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        raise NotFound(f"no lock with digest {digest[:80]!r} is kept here; resolve the requirements again")
    if path.stat().st_size > MAX_KEPT_LOCK:  # any stored file has a digest: a big one is no lock made here
        raise NotFound(f"{digest!r} is not a lock")
    data = path.read_bytes()
    try:
        lock = json.loads(data)
        if not isinstance(lock.get("packages"), dict) or not isinstance(lock.get("info"), dict):
            raise ValueError("not a pyodide-lock.json")
    except (ValueError, AttributeError, RecursionError):  # RecursionError: "[[[[..." from a stored file
        raise NotFound(f"{digest!r} is not a lock") from None
    info = lock["info"]
    if target is not None and (info.get("abi_version"), info.get("python")) != (target.abi, target.python):
        raise NotFound(
            f"{digest!r} is a lock for another runtime (ABI {str(info.get('abi_version'))[:20]!r}, Python "
            f"{str(info.get('python'))[:20]!r}); ask the server of that runtime"
        )
    return data


def pylock_toml(files: Sequence[DistFile], target: RuntimeTarget, base_url: str) -> str:
    """The same selection as a PEP 751 ``pylock.toml`` (wheels with URLs, sizes and hashes)."""
    document = {
        "lock-version": "1.0",
        "environments": [
            f'sys_platform == "emscripten" and platform_machine == "wasm32" '
            f'and python_full_version == "{target.python}"'
        ],
        "requires-python": f"=={target.python}",
        "created-by": "wasmfarm",
        "packages": [
            {
                "name": canonicalize_name(row.filename.split("-", 1)[0]),
                "version": row.version,
                "wheels": [
                    {
                        "name": row.filename,
                        "url": base_url + file_path(row.sha256, row.filename),
                        "size": row.size,
                        "hashes": {"sha256": row.sha256},
                    }
                ],
            }
            for row in sorted(files, key=lambda r: r.filename)
        ],
    }
    return tomli_w.dumps(document)
