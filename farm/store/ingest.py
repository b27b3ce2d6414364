"""Adding a file to the store and catalog: the one path every upload, mirrored file and built wheel takes.

Order matters for crash safety: validate everything first, then publish the blob (atomic rename), then its
metadata sidecar, then the catalog row. A crash leaves at most an unreferenced blob, which the next attempt reuses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
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
        origin: str,
        *,
        expected_sha256: str | None = None,
        source: str | None = None,
        upstream_url: str | None = None,
        yanked: bool = False,
        yanked_reason: str | None = None,
        upload_time: datetime | None = None,
    ) -> IngestResult:
        """Validate the written file and publish it. ``writer`` must be finished; it is consumed. ``upload_time``:
        when upstream says the file was uploaded (PEP 700), kept for mirrored files; else now."""
        writer.finish()
        digest = writer.sha256
        if expected_sha256 is not None:
            verify_sha256(digest, expected_sha256, source or filename)
        return self._publish(
            writer.path,
            filename,
            digest,
            writer.size,
            origin,
            writer.commit,
            upstream_url=upstream_url,
            yanked=yanked,
            yanked_reason=yanked_reason,
            upload_time=upload_time,
        )

    def ingest_blob(
        self,
        sha256: str,
        filename: str,
        origin: str,
        *,
        upstream_url: str | None = None,
        yanked: bool = False,
        yanked_reason: str | None = None,
        upload_time: datetime | None = None,
    ) -> IngestResult:
        """Publish a file whose blob is in the store already (left by an interrupted run, or prefetched)."""
        path = self.blobs.path_for(sha256)
        return self._publish(
            path,
            filename,
            sha256,
            path.stat().st_size,
            origin,
            lambda: sha256,
            upstream_url=upstream_url,
            yanked=yanked,
            yanked_reason=yanked_reason,
            upload_time=upload_time,
        )

    def _publish(
        self,
        path: Path,
        filename: str,
        digest: str,
        size: int,
        origin: str,
        commit_blob: Callable[[], str],
        *,
        upstream_url: str | None,
        yanked: bool,
        yanked_reason: str | None,
        upload_time: datetime | None = None,
    ) -> IngestResult:
        dist = parse_dist_filename(filename)
        metadata: CoreMetadata | None
        if dist.kind is DistKind.WHEEL:
            metadata = read_core_metadata(path, dist, self.limits)
        else:
            metadata = read_sdist_metadata(path, dist, self.limits)
            if metadata is None and origin == Origin.UPLOADED:
                raise InvalidDistribution(
                    f"{filename}: the sdist has no top-level PKG-INFO; build it with a current build backend "
                    "(python -m build --sdist)"
                )
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
        metadata_sha256 = None
        wheel_metadata = metadata if dist.kind is DistKind.WHEEL else None
        if wheel_metadata is not None:
            self.blobs.put_metadata(digest, wheel_metadata.raw)
            metadata_sha256 = hashlib.sha256(wheel_metadata.raw).hexdigest()
        new = NewFile(
            project=dist.name,
            display_name=metadata.name if metadata else dist.name,
            filename=filename,
            version=str(dist.version),
            kind=dist.kind.value,
            tags=dist.tag_string,
            sha256=digest,
            size=size,
            origin=origin,
            requires_python=metadata.requires_python if metadata else None,
            core_metadata=wheel_metadata.raw.decode("utf-8", "replace") if wheel_metadata else None,
            metadata_sha256=metadata_sha256,
            upstream_url=upstream_url,
            yanked=yanked,
            yanked_reason=yanked_reason,
            import_names=json.dumps(list(wheel_metadata.imports)) if wheel_metadata else None,
            upload_time=upload_time,
        )
        row, created = self.catalog.add_file(new)
        return IngestResult(row, created)
