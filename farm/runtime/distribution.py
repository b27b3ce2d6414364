"""Pyodide runtime distributions: fetched from npm, verified, unpacked into the page tree, served from there.

``<www>/pyodide/<version>/`` holds the npm package's files (with ``.gz``/``.br`` variants), ``wasmfarm-runtime.json``
(the package's files with their sizes and sha256, so a client can copy and verify them: ``wasmfarm runtime fetch``)
and, once the lock is generated, ``pyodide-lock.json`` and a link per locked wheel. The package's own lock, which
points at the CDN, is kept aside in ``<runtimes>/<version>/upstream-lock.json``: only the mirror's generated lock is
ever served.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import brotli

from farm.errors import InvalidDistribution, NotFound
from farm.runtime.manifest import InstalledRuntime, manifest_path, read_manifest, write_manifest
from farm.runtime.npm import NpmRegistry
from farm.runtime.target import (
    TARGETS,
    RuntimeTarget,
    disagreement,
    runtime_version,
    series_target,
    target_from_info,
)
from farm.store.blobs import BlobStore, atomic_write, process_alive

log = logging.getLogger(__name__)

MANIFEST = "wasmfarm-runtime.json"
REQUIRED = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")


def is_runtime_file(name: str) -> bool:
    """A name the runtime's folder holds as the runtime's own file (``pyodide.asm.wasm``, ``python_stdlib.zip``, its
    manifest, its lock): never a package file's name, or its link would replace the runtime."""
    return name in (*REQUIRED, MANIFEST) or name.startswith(("pyodide.", "python_stdlib", "."))


COMPRESSIBLE = (".js", ".mjs", ".wasm", ".json", ".zip", ".html", ".ts", ".map")


class RuntimeStore:
    def __init__(self, www_dir: Path, runtime_dir: Path, blobs: BlobStore) -> None:
        self.root = www_dir / "pyodide"
        self.meta = runtime_dir
        self.blobs = blobs

    def path(self, version: str) -> Path:
        return self.root / version

    def _manifest(self, version: str) -> Path:
        return manifest_path(self.meta, version)

    def upstream_lock(self, version: str) -> dict[str, Any]:
        path = self.meta / version / "upstream-lock.json"
        if not path.is_file() or not self.is_installed(version):
            raise NotFound(
                f"runtime {version} is not installed; add it with `wasmfarm runtime add {version}`"
            )
        return dict(json.loads(path.read_text()))

    def is_installed(self, version: str) -> bool:
        return self._manifest(version).is_file() and (self.path(version) / "pyodide.asm.wasm").is_file()

    def installed(self) -> list[InstalledRuntime]:
        found = []
        for manifest in sorted(self.meta.glob("*/manifest.json")) if self.meta.is_dir() else []:
            version = manifest.parent.name
            if self.is_installed(version):
                found.append(read_manifest(self.meta, version))
        return found

    def add(self, version: str, registry: NpmRegistry) -> InstalledRuntime:
        """Fetch ``pyodide@version``, verify its integrity, unpack it; a no-op when it is installed already."""
        runtime_version(version)  # it names directories: a normalised version only
        if self.is_installed(version):
            return read_manifest(self.meta, version)
        self._sweep_staging()
        tarball = registry.tarball("pyodide", version)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".staging-{version}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            with self.blobs.writer() as writer:
                registry.download(tarball, writer)  # raises on an integrity mismatch: nothing unpacked
                writer.finish()
                _extract(writer.path, staging, f"pyodide@{version}")
            upstream_lock = _check_runtime(staging, f"pyodide@{version}")
            target = target_from_info(version, upstream_lock.get("info"), f"pyodide@{version}")
            _compare_with_table(target, f"pyodide@{version}")
            meta_dir = self.meta / version
            meta_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(meta_dir / "upstream-lock.json", (staging / "pyodide-lock.json").read_bytes())
            (staging / "pyodide-lock.json").unlink()  # never served: it points at the CDN
            _write_file_manifest(staging, version, tarball.integrity, upstream_lock["info"])
            _precompress(staging)
            installed = InstalledRuntime(
                version,
                tarball.integrity,
                datetime.now(UTC).isoformat(timespec="seconds"),
                upstream_lock["info"],
            )
            write_manifest(self.meta, installed)
            if self.path(version).exists():
                shutil.rmtree(self.path(version))
            os.replace(staging, self.path(version))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        TARGETS.record(target)
        log.info(
            "runtime %s installed (%s): Python %s, ABI %s, Emscripten %s",
            version,
            tarball.integrity,
            target.python,
            target.abi,
            target.emscripten,
        )
        return installed

    def ensure_file_manifest(self, version: str) -> None:
        """Write ``wasmfarm-runtime.json`` for a runtime installed before wasmfarm wrote one (once)."""
        directory = self.path(version)
        if (directory / MANIFEST).is_file() or not self.is_installed(version):
            return
        data = json.loads(self._manifest(version).read_text())
        _write_file_manifest(directory, version, data["integrity"], data["info"])

    def remove(self, version: str) -> None:
        if not self._manifest(version).is_file() and not self.path(version).exists():
            raise NotFound(f"runtime {version} is not installed; `wasmfarm runtime list` shows what is")
        self._manifest(version).unlink(missing_ok=True)
        shutil.rmtree(self.path(version), ignore_errors=True)
        shutil.rmtree(self.meta / version, ignore_errors=True)
        TARGETS.forget(version)

    def _sweep_staging(self) -> None:
        for staging in self.root.glob(".staging-*") if self.root.is_dir() else []:
            pid = staging.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(staging, ignore_errors=True)


def _extract(tarball: Path, target: Path, display: str) -> None:
    """Unpack the npm tarball's ``package/`` folder: regular files only, no absolute or escaping paths."""
    target.mkdir(parents=True)
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive.getmembers():
                parts = PurePosixPath(member.name).parts
                if not parts or parts[0] != "package" or ".." in parts or member.name.startswith("/"):
                    raise InvalidDistribution(
                        f"{display}: unexpected path {member.name!r} in the npm tarball"
                    )
                if member.isdir():
                    continue
                if not member.isfile():
                    raise InvalidDistribution(f"{display}: {member.name!r} is not a regular file")
                dest = target.joinpath(*parts[1:])
                dest.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                with source, dest.open("wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidDistribution(f"{display}: unreadable npm tarball ({exc})") from exc


def _check_runtime(staging: Path, display: str) -> dict[str, Any]:
    missing = [name for name in REQUIRED if not (staging / name).is_file()]
    if missing:
        raise InvalidDistribution(f"{display}: not a Pyodide distribution, missing {', '.join(missing)}")
    try:
        lock = json.loads((staging / "pyodide-lock.json").read_bytes())
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidDistribution(f"{display}: its pyodide-lock.json is not JSON ({exc})") from exc
    if not isinstance(lock, dict):
        raise InvalidDistribution(f"{display}: its pyodide-lock.json is not a JSON object")
    packages = lock.get("packages")
    if not isinstance(packages, dict) or not all(isinstance(p, dict) for p in packages.values()):
        raise InvalidDistribution(
            f"{display}: its pyodide-lock.json has no packages object of package entries"
        )
    return lock


def _compare_with_table(target: RuntimeTarget, display: str) -> None:
    """The runtime's own lock wins over the table; a disagreement is worth a warning (the table is out of date)."""
    table = series_target(target.version)
    differences = disagreement(target, table) if table is not None else None
    if differences:
        log.warning(
            "%s: its lock says %s; its own facts are used (farm/runtime/target.py's table is out of date)",
            display,
            differences,
        )


def _write_file_manifest(directory: Path, version: str, integrity: str, info: dict[str, Any]) -> None:
    """``wasmfarm-runtime.json``: every file of the npm package as served (before compression), size and sha256."""
    files = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.name.startswith("."):
            continue  # locked wheels are links, temporary files hidden
        if path.name in (MANIFEST, "pyodide-lock.json"):
            continue  # the generated lock changes with the catalog: clients check it by its info
        if path.name.endswith((".gz", ".br")) and path.with_name(path.name[:-3]).is_file():
            continue  # a precompressed variant, not a file of the package
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        name = path.relative_to(directory).as_posix()
        files.append({"name": name, "size": path.stat().st_size, "sha256": digest.hexdigest()})
    manifest = {"version": version, "npm_integrity": integrity, "info": info, "files": files}
    atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1).encode())


def _precompress(directory: Path) -> None:
    """``.gz`` and ``.br`` beside each compressible file, kept only where they are smaller."""
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or not path.name.endswith(COMPRESSIBLE):
            continue
        data = path.read_bytes()
        quality = 11 if len(data) < 1 << 20 else 9  # q11 on the 9.6 MB wasm takes most of a minute
        for suffix, packed in (
            (".gz", gzip.compress(data, 9, mtime=0)),
            (".br", brotli.compress(data, quality=quality)),
        ):
            if len(packed) < len(data) * 0.95:
                with contextlib.suppress(OSError):
                    path.with_name(path.name + suffix).write_bytes(packed)
