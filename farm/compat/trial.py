"""A trial: a wheel of this mirror installed with micropip into a fresh Pyodide and its top-level modules imported.

``PyodideTrials`` runs them with the farm's verification machinery (``farm.build.verify.verify_many``: one sandbox,
one Node process and one runtime boot per batch, each wheel in a Pyodide of its own, its dependencies from the
farm's own index over the page tree and blob store). ``Trials`` is the interface the oracle sees.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from farm.build.verify import VerifyItem, verify_many
from farm.store.blobs import BlobStore
from farm.verify.snapshot import SnapshotCache

LOG_LINES = 30


@dataclass(frozen=True)
class TrialItem:
    wheel: Path  # the stored file
    filename: str  # its name (micropip needs it: the tags are in it)
    imports: tuple[str, ...]


@dataclass(frozen=True)
class TrialResult:
    imports: dict[str, str]  # module -> "ok" or its traceback
    installed: dict[str, str]
    error: str | None  # the wheel could not be installed, or the run did not finish
    crashed: bool  # the verifier itself failed (not the wheel's doing): nothing to keep
    log: tuple[str, ...]
    seconds: float


class Trials(Protocol):
    def run(self, runtime: str, items: Sequence[TrialItem]) -> list[TrialResult]: ...


class PyodideTrials:
    """Trials in the real runtime under Node, restored from the runtime's kept snapshot (``snapshots``) when there
    is one. ``boots`` counts the batches run (each starts Node and a Pyodide once)."""

    def __init__(
        self,
        www: Path,
        blobs: BlobStore,
        runner_assets: Path,
        seconds_per_wheel: float,
        snapshots: SnapshotCache | None = None,
    ) -> None:
        self.www = www
        self.blobs = blobs
        self.runner_assets = runner_assets
        self.seconds_per_wheel = seconds_per_wheel
        self.snapshots = snapshots
        self.boots = 0

    def run(self, runtime: str, items: Sequence[TrialItem]) -> list[TrialResult]:
        if not items:
            return []
        with tempfile.TemporaryDirectory(prefix="wasmfarm-check-") as tmp:
            named = []
            for index, item in enumerate(items):
                link = Path(tmp) / str(index) / item.filename  # the verifier copies the wheel under this name
                link.parent.mkdir()
                link.symlink_to(item.wheel)
                named.append(VerifyItem(link, list(item.imports)))
            self.boots += 1
            verifications = verify_many(
                named,
                runtime=runtime,
                www=self.www,
                blobs=self.blobs,
                runner_assets=self.runner_assets,
                timeout=self.seconds_per_wheel * len(items),
                snapshots=self.snapshots,
            )
        return [_result(v.report) for v in verifications]


_CRASHES = ("the verifier crashed",)


def _result(report: dict[str, Any]) -> TrialResult:
    error = report.get("error")
    return TrialResult(
        imports={str(k): str(v) for k, v in (report.get("imports") or {}).items()},
        installed={str(k): str(v) for k, v in (report.get("installed") or {}).items()},
        error=str(error) if error else None,
        crashed=bool(error) and str(error).startswith(_CRASHES),
        log=tuple(str(line) for line in (report.get("log") or [])[-LOG_LINES:]),
        seconds=float(report.get("import_seconds") or 0.0),
    )
