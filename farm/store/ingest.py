"""Adding a file to the store and catalog: the one path every upload, mirrored file and built wheel takes.

Order matters for crash safety: validate everything first, then publish the blob (atomic rename), then its
metadata sidecar, then the catalog row. A crash leaves at most an unreferenced blob, which the next attempt reuses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from farm.dist.archive import ArchiveLimits
from farm.dist.filename import DistKind, parse_dist_filename
from farm.dist.metadata import CoreMetadata
from farm.dist.sdist import read_sdist_metadata
from farm.dist.wheel import read_core_metadata
from farm.errors import FileConflict, InvalidDistribution, UpstreamIntegrityError
from farm.store.blobs import BlobStore, BlobWriter
from farm.store.catalog import Catalog, NewFile
from farm.store.models import DistFile, Origin


def verify_sha256(digest: str, expected: str, source: str) -> None:
    """The one check of a download against the hash its index advertised."""
    if digest != expected.lower():
        raise UpstreamIntegrityError(
            f"sha256 mismatch for {source}: the index advertises {expected}, the downloaded file hashes to {digest}; "
            "nothing was stored. Something altered the file between the upstream and this machine, or the upstream "
            "index is wrong: check it (and any proxy), then run again"
        )


@dataclass(frozen=True)
class Provenance:
    """Where a file comes from (``Origin``) and, for a mirrored one, what its upstream index says of it."""

    origin: str
    upstream_url: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    upload_time: datetime | None = None  # upstream's (PEP 700); None: now


def _provenance(given: Provenance | str) -> Provenance:
    return given if isinstance(given, Provenance) else Provenance(given)


def _finished(writer: BlobWriter, expected_sha256: str | None, source: str) -> str:
    """Finish a written file and check it against the hash its index advertised, if any: its sha256."""
    writer.finish()
    if expected_sha256 is not None:
        verify_sha256(writer.sha256, expected_sha256, source)
    return writer.sha256


@dataclass(frozen=True)
class IngestResult:
    row: DistFile
    created: bool


class Ingestor:
    def __init__(self, catalog: Catalog, blobs: BlobStore, limits: ArchiveLimits) -> None:
        self.catalog = catalog
        self.blobs = blobs
        self.limits = limits

    def ingest(
        self,
        writer: BlobWriter,
        filename: str,
        provenance: Provenance | str,
        *,
        expected_sha256: str | None = None,
        source: str | None = None,
    ) -> IngestResult:
        """Validate the written file and publish it. ``writer`` must be finished; it is consumed. ``provenance``: an
        ``Origin`` value, or a ``Provenance`` with what the upstream index says of a mirrored file."""
        digest = _finished(writer, expected_sha256, source or filename)
        return self._publish(
            writer.path, filename, digest, writer.size, _provenance(provenance), writer.commit
        )

    def ingest_blob(
        self,
        sha256: str,
        filename: str,
        provenance: Provenance | str,
    ) -> IngestResult:
        """Publish a file whose blob is in the store already (left by an interrupted run, or prefetched)."""
        path = self.blobs.path_for(sha256)
        return self._publish(
            path, filename, sha256, path.stat().st_size, _provenance(provenance), lambda: sha256
        )

    def stage(
        self,
        writer: BlobWriter,
        filename: str,
        provenance: Provenance | str,
        *,
        expected_sha256: str | None = None,
        source: str | None = None,
    ) -> NewFile:
        """``ingest`` without the catalog: validate the written file (its sha256 streamed while it was written),
        publish its blob and metadata sidecar, and return the catalog row for the caller to record with others
        (``farm.store.ingest_batch.record``). A crash before the row is recorded leaves an unreferenced blob, which
        the next attempt reuses (``stage_blob``); a file refused here leaves nothing."""
        digest = _finished(writer, expected_sha256, source or filename)
        new, metadata = self._prepare(writer.path, filename, digest, writer.size, _provenance(provenance))
        writer.commit()
        if metadata is not None:
            self.blobs.put_metadata(digest, metadata)
        return new

    def stage_blob(
        self,
        sha256: str,
        filename: str,
        provenance: Provenance | str,
    ) -> NewFile:
        """``stage`` for a file whose blob is in the store already (left by an interrupted run, or prefetched)."""
        path = self.blobs.path_for(sha256)
        new, metadata = self._prepare(path, filename, sha256, path.stat().st_size, _provenance(provenance))
        if metadata is not None:
            self.blobs.put_metadata(sha256, metadata)
        return new

    def _publish(
        self,
        path: Path,
        filename: str,
        digest: str,
        size: int,
        provenance: Provenance,
        commit_blob: Callable[[], str],
    ) -> IngestResult:
        new, metadata = self._prepare(path, filename, digest, size, provenance)
        existing = self.catalog.file(filename)
        if existing is not None:
            # Same content again is a no-op; other content is a FileConflict. Nothing new is stored either way.
            if existing.sha256 != digest:
                raise FileConflict(
                    f"{filename!r} exists already with sha256 {existing.sha256} (this one has {digest}); published "
                    "files never change: release a new version or add a build number instead"
                )
            return IngestResult(existing, created=False)
        commit_blob()
        if metadata is not None:
            self.blobs.put_metadata(digest, metadata)
        row, created = self.catalog.add_file(new)
        return IngestResult(row, created)

    def _prepare(
        self,
        path: Path,
        filename: str,
        digest: str,
        size: int,
        provenance: Provenance,
    ) -> tuple[NewFile, bytes | None]:
        """Validate a written file (name, archive, metadata): the catalog row it makes and its wheel metadata."""
        dist = parse_dist_filename(filename)
        metadata: CoreMetadata | None
        if dist.kind is DistKind.WHEEL:
            metadata = read_core_metadata(path, dist, self.limits)
        else:
            metadata = read_sdist_metadata(path, dist, self.limits)
            if metadata is None and provenance.origin == Origin.UPLOADED:
                raise InvalidDistribution(
                    f"{filename}: the sdist has no top-level PKG-INFO; build it with a current build backend "
                    "(python -m build --sdist)"
                )
        wheel_metadata = metadata if dist.kind is DistKind.WHEEL else None
        new = NewFile(
            project=dist.name,
            display_name=metadata.name if metadata else dist.name,
            filename=filename,
            version=str(dist.version),
            kind=dist.kind.value,
            tags=dist.tag_string,
            sha256=digest,
            size=size,
            origin=provenance.origin,
            requires_python=metadata.requires_python if metadata else None,
            core_metadata=wheel_metadata.raw.decode("utf-8", "replace") if wheel_metadata else None,
            metadata_sha256=hashlib.sha256(wheel_metadata.raw).hexdigest() if wheel_metadata else None,
            upstream_url=provenance.upstream_url,
            yanked=provenance.yanked,
            yanked_reason=provenance.yanked_reason,
            import_names=json.dumps(list(wheel_metadata.imports)) if wheel_metadata else None,
            upload_time=provenance.upload_time,
        )
        return new, wheel_metadata.raw if wheel_metadata else None

    def ingest_all(self, files: Sequence[StagedDist], origin: str) -> list[IngestResult]:
        """Publish several written files as one: every one validated first (an invalid one refuses them all,
        nothing published), then their blobs, then their catalog rows in one transaction. A file whose name is
        taken by other content is not published (published files never change): its result is the existing row,
        ``created`` False, and the caller tells it by its sha256."""
        prepared = [
            (
                staged,
                *self._prepare(staged.path, staged.filename, staged.sha256, staged.size, Provenance(origin)),
            )
            for staged in files
        ]
        existing = self.catalog.stored_files(filenames=[staged.filename for staged in files])
        fresh = [(s, new, meta) for s, new, meta in prepared if s.filename not in existing]
        for staged, _new, metadata in fresh:
            self.blobs.adopt(staged.path, staged.sha256)
            if metadata is not None:
                self.blobs.put_metadata(staged.sha256, metadata)
        self.catalog.add_files([new for _s, new, _m in fresh])
        rows = {row.filename: row for row in self.catalog.files_named([s.filename for s in files])}
        return [IngestResult(rows[s.filename], s.filename not in existing) for s in files]


@dataclass(frozen=True)
class StagedDist:
    """A complete file in the blob store's temporary area, hashed, to be published by ``Ingestor.ingest_all``."""

    path: Path
    filename: str
    sha256: str
    size: int
