"""Memory snapshots of a freshly booted runtime, kept on disk: a verification (or a compatibility check) restores
Pyodide from one in about 0.5 s instead of booting it in 3-5 s.

A snapshot is Pyodide's own (``loadPyodide({_makeSnapshot: true})`` then ``makeMemorySnapshot()``; restored with
``_loadSnapshot``): the interpreter's memory right after start-up and the standard-library imports micropip makes,
before any package is loaded. Restoring it works
with a newer lock of the same runtime (the lock is read again), so the key is what the interpreter is made of: the
runtime's ``pyodide.asm.wasm``, ``pyodide.asm.mjs``, ``pyodide.mjs`` and ``python_stdlib.zip`` (their sha256), the
Node binary that made it, and ``FORMAT``.

Trust: a snapshot decides what every later wheel runs in, so it is made by a sandboxed run of Node that runs nothing
but the runtime (``runner_assets/node/snapshot_runtime.mjs``: no wheel, no test, no index), moved into the cache by
the farm (temp name, fsync, rename), named after its key and recorded with its own sha256, which is checked before
every use; verifications get the cache read-only. A snapshot that cannot be made or does not check out is not used:
the verification boots as before (and a damaged one is made again).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from farm.errors import FarmError
from farm.store.blobs import atomic_write, sha256_file

log = logging.getLogger(__name__)

FORMAT = 2  # bump when what goes into a snapshot changes (2: micropip's standard-library imports done)
RUNTIME_FILES = ("pyodide.asm.wasm", "pyodide.asm.mjs", "pyodide.mjs", "python_stdlib.zip")
SUFFIX = ".snapshot"

# Makes a snapshot of the runtime in a directory at a path (``farm.build.verify`` runs it in the sandbox).
Maker = Callable[[Path, Path], None]


class SnapshotCache:
    """``<root>/<runtime>-<key>.snapshot`` beside ``<...>.sha256``; safe for threads and for several processes
    (the last rename wins, and every candidate is a valid snapshot of the same inputs)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._inputs: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256

    def key(self, runtime_dir: Path, node: str) -> str:
        digest = hashlib.sha256(f"wasmfarm-snapshot-{FORMAT}\n".encode())
        for name in RUNTIME_FILES:
            digest.update(f"{name} {self._file_digest(runtime_dir / name)}\n".encode())
        binary = Path(node).resolve()
        stat = binary.stat()
        digest.update(f"node {binary} {stat.st_size} {stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    def path_for(self, runtime: str, key: str) -> Path:
        return self.root / f"{runtime}-{key[:32]}{SUFFIX}"

    def get(self, runtime: str, runtime_dir: Path, node: str, make: Maker) -> Path | None:
        """The snapshot of ``runtime`` (made first if there is none, or if the one kept is damaged); ``None`` when
        none can be had (the caller boots instead)."""
        try:
            key = self.key(runtime_dir, node)
        except OSError as exc:
            log.warning("no runtime snapshot for %s: %s", runtime, exc)
            return None
        path = self.path_for(runtime, key)
        with self._lock(path.name):
            if self._sound(path):
                return path
            try:
                self._make(runtime_dir, path, make)
            except (OSError, FarmError, RuntimeError) as exc:  # the verification still runs, booting instead
                log.warning(
                    "could not make a snapshot of runtime %s (verifications boot instead): %s", runtime, exc
                )
                return None
            return path

    def _make(self, runtime_dir: Path, path: Path, make: Maker) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            make(runtime_dir, part)
            if not part.is_file() or part.stat().st_size == 0:
                raise RuntimeError("the snapshot run wrote no snapshot")
            with part.open("rb") as handle:
                os.fsync(handle.fileno())
            digest = sha256_file(part)
            atomic_write(_digest_path(path), f"{digest}\n".encode())
            part.replace(path)
        finally:
            part.unlink(missing_ok=True)
        log.info("runtime snapshot %s made (%d bytes)", path.name, path.stat().st_size)

    def _sound(self, path: Path) -> bool:
        if not path.is_file():
            return False
        try:
            expected = _digest_path(path).read_text().strip()
        except OSError:
            expected = ""
        if expected and sha256_file(path) == expected:
            return True
        log.warning("runtime snapshot %s does not match its recorded sha256: making it again", path.name)
        return False

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def _file_digest(self, path: Path) -> str:
        stat = path.stat()
        marker = (str(path), stat.st_size, stat.st_mtime_ns)
        if marker not in self._inputs:
            self._inputs[marker] = sha256_file(path)
        return self._inputs[marker]


def _digest_path(path: Path) -> Path:
    return path.with_suffix(".sha256")
