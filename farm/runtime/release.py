"""Importing Pyodide's own release distribution (``pyodide-<version>.tar.bz2``): its packages, verified, served by
the mirror.

The archive is read once (``release_archive``), every file its ``pyodide-lock.json`` lists is checked against the
lock's sha256, and only when all of them are there and intact is anything published: wheels go into the catalog with
the origin ``pyodide`` (one transaction), the other files (shared libraries as ``.zip``, unvendored test archives)
into the blob store, from where the runtime's folder links them like locked wheels. What the upstream lock says about
each file (imports, depends, package type, install dir, unvendored tests) is recorded in
``<runtimes>/<version>/distribution.json``, from which the runtime's generated lock takes it. A refused archive leaves
the store as it was. The runtime files themselves come from the npm package (``runtime add`` as without
``--distribution``); those the archive holds too are checked against it byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from packaging.utils import canonicalize_name
from pyodide_lock import PyodideLockSpec
from pyodide_lock.spec import PackageSpec

from farm.errors import InvalidDistribution, NotFound, UpstreamIntegrityError, UpstreamUnavailable
from farm.runtime.distribution import REQUIRED, RuntimeStore, is_runtime_file
from farm.runtime.release_archive import ReleaseContents, ReleaseLimits, read_release
from farm.store.blobs import BlobStore, atomic_write, sha256_file
from farm.store.ingest import Ingestor, StagedDist
from farm.store.models import Origin

log = logging.getLogger(__name__)

RECORD = "distribution.json"
LOCK = "pyodide-lock.json"
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INFO_KEYS = ("abi_version", "platform", "python", "arch")


@dataclass
class ImportReport:
    source: str
    archive_sha256: str
    archive_bytes: int
    verified: int = 0  # files of the lock checked against its sha256
    wheels_added: list[str] = field(default_factory=list)
    wheels_present: list[str] = field(default_factory=list)  # same name and content in the store already
    kept_existing: list[str] = field(default_factory=list)  # the name is taken by other content: not imported
    other_files: list[str] = field(default_factory=list)  # shared libraries, unvendored test archives
    runtime_files_checked: list[str] = field(default_factory=list)
    seconds: float = 0.0


def record_path(runtime_dir: Path, version: str) -> Path:
    return runtime_dir / version / RECORD


def read_record(runtime_dir: Path, version: str) -> dict[str, Any]:
    """``distribution.json`` of a runtime (empty when no distribution was imported)."""
    path = record_path(runtime_dir, version)
    if not path.is_file():
        return {"packages": {}}
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or not isinstance(data.get("packages"), dict):
            raise ValueError("no packages object")
        return data
    except (OSError, ValueError) as exc:
        raise InvalidDistribution(
            f"{path}: unreadable ({exc}); import the distribution again with `wasmfarm runtime add {version} "
            "--distribution ...`"
        ) from exc


def import_distribution(
    source: str,
    version: str,
    *,
    expected_sha256: str | None,
    runtimes: RuntimeStore,
    ingestor: Ingestor,
    blobs: BlobStore,
    timeout: float = 60.0,
    limits: ReleaseLimits | None = None,
) -> ImportReport:
    """Import the release archive at ``source`` (a path or an http(s) URL) into runtime ``version`` (installed)."""
    started = time.monotonic()
    if expected_sha256 is not None and not _SHA256.match(expected_sha256.lower()):
        raise InvalidDistribution(f"--sha256 {expected_sha256!r}: expected 64 hexadecimal digits")
    upstream = runtimes.upstream_lock(version)  # NotFound unless the runtime is installed
    display = f"distribution {source}"
    with _open_source(source, timeout) as stream:
        contents = read_release(stream, blobs, display, limits)
    try:
        if expected_sha256 is not None and contents.archive_sha256 != expected_sha256.lower():
            raise UpstreamIntegrityError(
                f"{display}: sha256 mismatch: --sha256 says {expected_sha256.lower()}, the archive hashes to "
                f"{contents.archive_sha256}; nothing was imported. Check where the archive came from"
            )
        report = ImportReport(source, contents.archive_sha256, contents.archive_bytes)
        lock = _read_lock(contents, display)
        _check_info(lock, upstream, version, display)
        packages = _verified_packages(lock, contents, display)
        report.verified = len(packages)
        report.runtime_files_checked = _check_runtime_files(contents, runtimes.path(version), display)
        recorded = _publish(packages, contents, ingestor, blobs, report)
        _write_record(runtimes.meta, version, report, recorded)
    finally:
        contents.discard()  # what was published was moved out; the rest goes
    report.seconds = time.monotonic() - started
    log.info(
        "Pyodide %s distribution %s: %d files verified, %d wheels added, %d present, %d other files",
        version,
        source,
        report.verified,
        len(report.wheels_added),
        len(report.wheels_present),
        len(report.other_files),
    )
    return report


class _ResponseStream:
    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.iter_bytes(1 << 20)
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, b"")
            if not chunk:
                break
            self.buffer += chunk
        size = len(self.buffer) if size < 0 else size
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


@contextlib.contextmanager
def _open_source(source: str, timeout: float) -> Iterator[BinaryIO]:
    if source.startswith(("http://", "https://")):
        try:
            with (
                httpx.Client(timeout=timeout, follow_redirects=True) as client,
                client.stream("GET", source) as response,
            ):
                if response.status_code == 404:
                    raise NotFound(f"{source}: HTTP 404; check the URL of the release archive")
                if response.status_code >= 400:
                    raise UpstreamUnavailable(f"{source}: HTTP {response.status_code}; retry later")
                yield _ResponseStream(response)  # type: ignore[misc]  # it has read(), all the reader needs
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"{source}: {exc}; check the URL and the network") from exc
        return
    if "://" in source:
        raise InvalidDistribution(f"--distribution {source!r}: give a file path or an http(s) URL")
    path = Path(source)
    if not path.is_file():
        raise NotFound(f"--distribution {source}: no such file")
    with path.open("rb") as handle:
        yield handle


def _read_lock(contents: ReleaseContents, display: str) -> PyodideLockSpec:
    staged = contents.files.get(LOCK)
    if staged is None:
        raise InvalidDistribution(f"{display}: no pyodide/{LOCK}; not a Pyodide release archive")
    if staged.size > 64 * 1024**2:
        raise InvalidDistribution(f"{display}: its {LOCK} is {staged.size} bytes; refusing to parse it")
    try:
        return PyodideLockSpec.from_dict(json.loads(staged.path.read_bytes()))
    except Exception as exc:  # JSON errors, cattrs' validation groups: all mean one thing here
        raise InvalidDistribution(
            f"{display}: its {LOCK} is not a valid Pyodide lock ({exc}); nothing was imported"
        ) from exc


def _check_info(lock: PyodideLockSpec, upstream: Mapping[str, Any], version: str, display: str) -> None:
    ours = lock.info.to_dict()
    theirs = upstream.get("info") or {}
    differences = [
        f"{key} {ours.get(key)!r} (runtime {version}: {theirs.get(key)!r})"
        for key in _INFO_KEYS
        if str(ours.get(key)) != str(theirs.get(key))
    ]
    if differences:
        raise InvalidDistribution(
            f"{display}: its lock is for another runtime: {', '.join(differences)}; import the archive of "
            f"Pyodide {version}; nothing was imported"
        )


def _verified_packages(
    lock: PyodideLockSpec, contents: ReleaseContents, display: str
) -> dict[str, PackageSpec]:
    """Every lock entry whose file the archive holds with the lock's sha256; any other entry refuses the archive."""
    problems: list[str] = []
    for key, spec in sorted(lock.packages.items()):
        if not _FILE_NAME.match(spec.file_name) or is_runtime_file(spec.file_name):
            problems.append(f"{key}: file name {spec.file_name!r} is not a plain file name of a package")
            continue
        staged = contents.files.get(spec.file_name)
        if staged is None:
            problems.append(f"{spec.file_name} is missing from the archive")
        elif staged.sha256 != spec.sha256.lower():
            problems.append(
                f"{spec.file_name} is tampered: its sha256 is {staged.sha256}, the lock says {spec.sha256}"
            )
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise UpstreamIntegrityError(
            f"{display}: {'; '.join(problems[:5])}{more}; nothing was imported. Fetch the release archive again "
            "from where Pyodide publishes it"
        )
    return dict(lock.packages)


def _check_runtime_files(contents: ReleaseContents, runtime_path: Path, display: str) -> list[str]:
    """The runtime files the archive holds must be the npm package's, which the mirror serves."""
    checked = []
    for name in REQUIRED:
        staged = contents.files.get(name)
        served = runtime_path / name
        if name == LOCK or staged is None or not served.is_file():
            continue
        if sha256_file(served) != staged.sha256:
            raise UpstreamIntegrityError(
                f"{display}: its {name} differs from the one of the npm package pyodide the mirror serves; "
                "the archive is not the same release; nothing was imported"
            )
        checked.append(name)
    return checked


def _publish(
    packages: Mapping[str, PackageSpec],
    contents: ReleaseContents,
    ingestor: Ingestor,
    blobs: BlobStore,
    report: ImportReport,
) -> dict[str, dict[str, Any]]:
    """Wheels into the catalog (validated all first), other files into the blob store; the entries to record."""
    wheels = {k: s for k, s in packages.items() if s.file_name.endswith(".whl")}
    staged = [
        StagedDist(
            contents.files[s.file_name].path, s.file_name, s.sha256.lower(), contents.files[s.file_name].size
        )
        for s in wheels.values()
    ]
    results = {r.row.filename: r for r in ingestor.ingest_all(staged, Origin.PYODIDE.value)}
    recorded: dict[str, dict[str, Any]] = {}
    for key, spec in sorted(packages.items()):
        name = canonicalize_name(key)
        if spec.file_name in results:
            result = results[spec.file_name]
            if result.row.sha256 != spec.sha256.lower():
                report.kept_existing.append(f"{spec.file_name} ({result.row.origin})")
                continue
            (report.wheels_added if result.created else report.wheels_present).append(spec.file_name)
        else:
            file = contents.files[spec.file_name]
            blobs.adopt(file.path, file.sha256)
            report.other_files.append(spec.file_name)
        recorded[name] = recorded_entry(name, spec)
    return recorded


def recorded_entry(key: str, spec: PackageSpec) -> dict[str, Any]:
    """What a Pyodide lock says about one file (its entry ``key``), as recorded for the runtime's generated lock."""
    return {
        "name": canonicalize_name(key),
        "version": spec.version,
        "file_name": spec.file_name,
        "sha256": spec.sha256.lower(),
        "package_type": spec.package_type,
        "install_dir": spec.install_dir,
        "imports": list(spec.imports),
        "depends": sorted({canonicalize_name(d) for d in spec.depends}),
        "unvendored_tests": spec.unvendored_tests,
    }


def _write_record(
    runtime_dir: Path, version: str, report: ImportReport, recorded: dict[str, dict[str, Any]]
) -> None:
    """Merged over an earlier import's: a package the new archive lists replaces the old entry."""
    previous = read_record(runtime_dir, version)["packages"]
    data = {
        "source": report.source,
        "archive_sha256": report.archive_sha256,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "packages": dict(sorted({**previous, **recorded}.items())),
    }
    atomic_write(record_path(runtime_dir, version), json.dumps(data, indent=1).encode())
