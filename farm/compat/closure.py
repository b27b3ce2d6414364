"""Closures for the oracle: this mirror's wheels alone, or together with the upstream index's files, resolved with a
runtime's markers by the farm's resolver (``farm.mirror.resolver``), and turned into the evidence's nodes."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import canonicalize_name

from farm.compat.verdict import FileRef, Node
from farm.dist.archive import ArchiveLimits
from farm.index.simple_index import file_path
from farm.mirror.mirror import upstream_requires_dist
from farm.mirror.resolver import Candidate, RuntimeProvider
from farm.mirror.upstream import UpstreamFile, UpstreamIndex, UpstreamProject
from farm.runtime.locking import CatalogSource
from farm.runtime.target import RuntimeTarget
from farm.store.blobs import BlobStore
from farm.store.models import DistFile


class MergedSource:
    """This mirror's wheels and the upstream index's files as one index: a project's files from both (this mirror's
    copy first), so a closure can mix what is mirrored with what is only upstream."""

    def __init__(
        self, local: CatalogSource, upstream: UpstreamIndex | None, blobs: BlobStore, limits: ArchiveLimits
    ) -> None:
        self.local = local
        self.upstream = upstream
        self.blobs = blobs
        self.limits = limits
        self.label = "the upstream index" if upstream is not None else "this mirror"
        self._requires: dict[str, list[str]] = {}

    def upstream_project(self, name: str) -> UpstreamProject | None:
        """Upstream's page (``UpstreamUnavailable`` when it does not answer)."""
        return self.upstream.project(name) if self.upstream is not None else None

    def project(self, name: str) -> UpstreamProject | None:
        local = self.local.project(name)
        remote = self.upstream_project(name)
        if local is None or remote is None:
            return local or remote
        seen = {f.filename for f in local.files}
        files = local.files + tuple(f for f in remote.files if f.filename not in seen)
        return UpstreamProject(canonicalize_name(name), remote.url, files)

    def requires_dist(self, file: UpstreamFile) -> list[str]:
        if file.filename in self.local.rows:
            return self.local.requires_dist(file)
        if file.filename not in self._requires:
            assert self.upstream is not None
            self._requires[file.filename] = upstream_requires_dist(
                self.upstream, self.blobs, self.limits, file
            )
        return self._requires[file.filename]

    def row(self, filename: str) -> DistFile | None:
        return self.local.rows.get(filename)

    def file_ref(self, file: UpstreamFile) -> FileRef:
        row = self.row(file.filename)
        if row is not None:
            return FileRef(row.filename, row.sha256, file_path(row.sha256, row.filename), row.origin)
        return FileRef(file.filename, file.sha256, file.url, "upstream")


def nodes(
    closure: Sequence[Candidate], root: str, source: MergedSource | CatalogSource, target: RuntimeTarget
) -> tuple[Node, ...]:
    """The closure as the evidence's nodes, ``root`` first, each with the names of the closure it requires."""
    provider = RuntimeProvider(source, target, source.requires_dist)
    names = {c.name for c in closure}
    found = []
    for candidate in sorted(closure, key=lambda c: (c.name != root, c.name)):
        file = candidate.files[0]
        depends = sorted(
            {canonicalize_name(r.name) for r in provider.get_dependencies(candidate)}
            & names - {candidate.name}
        )
        found.append(
            Node(
                name=candidate.name,
                version=str(candidate.version),
                filename=file.filename,
                sha256=file.sha256,
                mirrored=file.filename in _rows(source),
                depends=tuple(depends),
            )
        )
    return tuple(found)


def _rows(source: MergedSource | CatalogSource) -> dict[str, DistFile]:
    return source.local.rows if isinstance(source, MergedSource) else source.rows
