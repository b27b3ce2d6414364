"""What upstream Pyodide locks say about files the mirror holds, kept per runtime for its generated lock.

Two sources, both matched to a file by its name and sha256 (``farm.runtime.lockfile.entry``):
- an imported Pyodide release distribution (``distribution.json``, written by ``farm.runtime.release``);
- the locks of Pyodide package indexes an operator trusts (``index-locks.json``, written here when
  ``wasmfarm mirror --pyodide-lock URL`` mirrors from such an index: ``farm.mirror.trusted_lock``).

Each entry is recorded as the upstream lock has it (imports, depends, package type, install dir, unvendored
tests), plus ``listed_by`` (which lock said so, for ``wasmfarm explain``) and ``origin`` (``pyodide`` or
``mirrored``). The trusted locks' entries are
kept by file name, so the metadata of every mirrored version (and every shared library a lock ever named) stays with
its file; the runtime's lock lists one file per name (``farm.runtime.lockfile.build_lock``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from farm.errors import InvalidDistribution
from farm.runtime.release import RECORD, read_record
from farm.store.blobs import atomic_write
from farm.store.models import Origin

log = logging.getLogger(__name__)

INDEX_RECORD = "index-locks.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
DISTRIBUTION = "the Pyodide distribution"


def read_index_record(runtime_dir: Path, version: str) -> dict[str, Any]:
    """``index-locks.json`` of a runtime: ``locks`` (URL -> sha256, time) and ``packages`` (file name -> entry)."""
    path = runtime_dir / version / INDEX_RECORD
    if not path.is_file():
        return {"locks": {}, "packages": {}}
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), dict) for k in ("locks", "packages")
        ):
            raise ValueError("no locks and packages objects")
    except (OSError, ValueError) as exc:
        raise InvalidDistribution(
            f"{path}: unreadable ({exc}); remove it and mirror again with `wasmfarm mirror --pyodide-lock URL`"
        ) from exc
    usable = {f: e for f, e in data["packages"].items() if _usable(f, e)}
    if len(usable) < len(data["packages"]):  # written only from checked entries: someone edited it
        log.warning("%s: %d malformed entries ignored", path, len(data["packages"]) - len(usable))
    return {"locks": data["locks"], "packages": usable}


def _usable(file_name: str, entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("file_name") == file_name
        and isinstance(entry.get("name"), str)
        and isinstance(entry.get("version"), str)
        and isinstance(entry.get("sha256"), str)
        and _SHA256.match(entry["sha256"]) is not None
        and isinstance(entry.get("depends", []), list)
        and isinstance(entry.get("imports", []), list)
    )


def record_index_entries(
    runtime_dir: Path, version: str, lock_url: str, lock_sha256: str, entries: Iterable[Mapping[str, Any]]
) -> bool:
    """Merge entries of the trusted lock at ``lock_url`` into the runtime's record; True when it changed."""
    data = read_index_record(runtime_dir, version)
    packages: dict[str, Any] = dict(data["packages"])
    for item in entries:
        recorded = {**item, "listed_by": f"the trusted lock {lock_url}", "origin": Origin.MIRRORED.value}
        packages[str(recorded["file_name"])] = recorded
    if packages == data["packages"] and lock_url in data["locks"]:
        return False
    locks = {**data["locks"], lock_url: {"sha256": lock_sha256, "read_at": _now()}}
    document = {"locks": dict(sorted(locks.items())), "packages": dict(sorted(packages.items()))}
    (runtime_dir / version).mkdir(parents=True, exist_ok=True)
    atomic_write(runtime_dir / version / INDEX_RECORD, json.dumps(document, indent=1).encode())
    return True


def recorded_entries(runtime_dir: Path, version: str) -> dict[str, dict[str, Any]]:
    """Every recorded upstream lock entry of a runtime, by file name; the distribution's win over a trusted
    lock's for the same file name (the distribution was verified whole)."""
    found = {
        str(file_name): {**entry, "listed_by": str(entry.get("listed_by") or "")}
        for file_name, entry in read_index_record(runtime_dir, version)["packages"].items()
    }
    for entry in read_record(runtime_dir, version)["packages"].values():
        found[str(entry["file_name"])] = {**entry, "listed_by": DISTRIBUTION, "origin": Origin.PYODIDE.value}
    return found


def index_roots(runtime_dir: Path, version: str) -> set[NormalizedName]:
    """Names of the wheels a trusted lock described: listed in the runtime's own lock (setting runtime_lock = own)
    like the distribution's packages, since a page may ``loadPackage`` them by name."""
    packages = read_index_record(runtime_dir, version)["packages"]
    return {canonicalize_name(str(e["name"])) for f, e in packages.items() if f.endswith(".whl")}


def recorded_blobs(runtime_dir: Path) -> dict[str, str]:
    """sha256 -> what refers to it, for the recorded files that are not wheels (shared libraries, test archives)
    of every runtime: fsck's orphan check."""
    found: dict[str, str] = {}
    if not runtime_dir.is_dir():
        return found
    versions = {p.parent.name for p in runtime_dir.glob(f"*/{RECORD}")}
    versions |= {p.parent.name for p in runtime_dir.glob(f"*/{INDEX_RECORD}")}
    for version in sorted(versions):
        with contextlib.suppress(InvalidDistribution):
            for file_name, entry in recorded_entries(runtime_dir, version).items():
                if not file_name.endswith(".whl"):
                    found[str(entry["sha256"])] = f"Pyodide {version}: {entry['listed_by']}"
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
