"""Built artifacts kept by build key, outside any one farm: a farm that meets a key another farm (or an earlier data
directory) built already takes the artifact from here instead of compiling it again, then checks and verifies it in
Pyodide as if it had just been built. Nothing is trusted blindly: an entry's files are checked against the sha256
recorded when it was kept, and a mismatch removes the entry and builds again.

Layout: ``<dir>/<key>/entry.json`` beside the artifact (a wheel, or a library's install tree as ``.tar.gz``) and,
when the recipe unvendors its tests, the tests wheel. An entry appears by renaming a finished temporary directory
into place, so a reader never sees half of one; a crash leaves only a ``.tmp-*`` directory, removed by the next
``keep``. The key (``farm.build.key``) covers the recipe, its sources, patches and tests, the builder image, the
runtime and the keys of its dependencies, so a changed flag of one library misses for it and its dependents only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from farm.store.blobs import sha256_file

ENTRY = "entry.json"
_STALE_TMP_SECONDS = 6 * 3600


@dataclass(frozen=True)
class CachedBuild:
    artifact: Path
    unvendored_tests: Path | None
    native: list[str]  # the source's native files, for the pure-fallback check
    build_seconds: float  # what the build took when it was made
    built_at: float


class ArtifactCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def lookup(self, key: str, log: Callable[[str], None]) -> CachedBuild | None:
        entry_dir = self.root / key
        try:
            entry = json.loads((entry_dir / ENTRY).read_text())
            files = dict(entry["files"])
            artifact = entry_dir / str(entry["artifact"])
            tests = entry_dir / str(entry["unvendored_tests"]) if entry.get("unvendored_tests") else None
            named = {str(entry["artifact"]), str(entry.get("unvendored_tests") or entry["artifact"])}
            if any(Path(n).name != n for n in named) or named - set(files):
                raise ValueError("the artifact is not a plain file name among the entry's hashed files")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log(f"# build cache: entry {entry_dir} is unreadable ({exc}); removed, building instead")
            shutil.rmtree(entry_dir, ignore_errors=True)
            return None
        for name, sha in files.items():
            path = entry_dir / name
            if Path(name).name != name or not path.is_file() or sha256_file(path) != sha:
                log(
                    f"# build cache: {path} is missing or does not hash to {sha}; entry removed, building instead"
                )
                shutil.rmtree(entry_dir, ignore_errors=True)
                return None
        return CachedBuild(
            artifact,
            tests,
            list(entry.get("native", [])),
            float(entry["build_seconds"]),
            float(entry["built_at"]),
        )

    def keep(
        self, key: str, artifact: Path, unvendored_tests: Path | None, native: list[str], build_seconds: float
    ) -> None:
        """Keep a build's artifact under its key (first writer wins; an existing entry is left alone)."""
        final = self.root / key
        if final.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            files = {}
            for path in (artifact, unvendored_tests):
                if path is not None:
                    shutil.copyfile(path, tmp / path.name)
                    files[path.name] = sha256_file(tmp / path.name)
            entry = {
                "artifact": artifact.name,
                "unvendored_tests": unvendored_tests.name if unvendored_tests else None,
                "files": files,
                "native": native,
                "build_seconds": round(build_seconds, 2),
                "built_at": time.time(),
            }
            (tmp / ENTRY).write_text(json.dumps(entry, indent=1))
            for child in tmp.iterdir():
                with child.open("rb") as handle:
                    os.fsync(handle.fileno())
            tmp.rename(final)
        except OSError:
            if final.exists():  # another farm kept the same key first
                return
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _remove_stale_temporaries(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        for tmp in self.root.glob(".tmp-*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    shutil.rmtree(tmp, ignore_errors=True)
            except OSError:
                continue
