"""A runtime's install manifest, ``<runtimes>/<version>/manifest.json``: its integrity, when it was installed, and its
own lock's ``info``, from which every process (server, CLI, workers) builds the runtime's target.

The settings load the recorded targets of their data directory once (``use_recorded_targets``), so that
``target_for`` answers from them in pure code; ``RuntimeStore.add``/``remove`` keep them current in the process that
runs them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.errors import FarmError, InvalidDistribution
from farm.runtime.target import TARGETS, RuntimeTarget, runtime_version, target_from_info
from farm.store.blobs import atomic_write

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class InstalledRuntime:
    version: str
    integrity: str
    installed_at: str
    info: dict[str, Any]  # the upstream lock's info

    @property
    def target(self) -> RuntimeTarget:
        return target_from_info(self.version, self.info, f"runtime {self.version}")


def manifest_path(runtime_dir: Path, version: str) -> Path:
    return runtime_dir / version / MANIFEST


def write_manifest(runtime_dir: Path, installed: InstalledRuntime) -> None:
    data = {"integrity": installed.integrity, "installed_at": installed.installed_at, "info": installed.info}
    atomic_write(manifest_path(runtime_dir, installed.version), json.dumps(data, indent=2).encode())


def read_manifest(runtime_dir: Path, version: str) -> InstalledRuntime:
    """The manifest of ``version``; a ``FarmError`` saying what is wrong when it is unreadable."""
    path = manifest_path(runtime_dir, version)
    try:
        data = json.loads(path.read_bytes())
        return InstalledRuntime(
            version, str(data["integrity"]), str(data["installed_at"]), dict(data["info"])
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidDistribution(
            f"{path}: unreadable install manifest ({exc}); reinstall with `wasmfarm runtime remove {version}` "
            f"and `wasmfarm runtime add {version}`"
        ) from exc


def recorded_targets(runtime_dir: Path) -> list[RuntimeTarget]:
    """The targets of the runtimes installed in a data directory, from their recorded lock info. A manifest that is
    unreadable or holds unusable info is logged and skipped: the table's answer (if any) stands for that version."""
    found = []
    for path in sorted(runtime_dir.glob(f"*/{MANIFEST}")) if runtime_dir.is_dir() else []:
        try:
            version = runtime_version(path.parent.name)
            found.append(read_manifest(runtime_dir, version).target)
        except FarmError as exc:
            log.error("runtime %s: its recorded facts are not used: %s", path.parent.name, exc)
    return found


def use_recorded_targets(runtime_dir: Path) -> None:
    """Make this process's targets the ones recorded in ``runtime_dir`` (called when the settings are built)."""
    TARGETS.use(recorded_targets(runtime_dir))
