"""What an sdist would need to be built here: its compiled sources and their languages, read from the archive's
member list under the same limits as an upload (``farm.dist.sdist``): nothing is extracted, nothing runs.

The farm's builders compile C, C++ and Cython for Emscripten; they have no Rust or Fortran compiler that targets it
(``farm.recipe.executables``), so an sdist with a ``Cargo.toml`` or ``.rs`` files, or Fortran sources, cannot be
built here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from farm.dist.archive import ArchiveLimits
from farm.dist.filename import parse_dist_filename
from farm.dist.sdist import sdist_file_names
from farm.mirror.upstream import UpstreamFile, UpstreamIndex
from farm.store.blobs import BlobStore
from farm.store.ingest import verify_sha256

LANGUAGES = {
    ".c": "C",
    ".cc": "C++",
    ".cpp": "C++",
    ".cxx": "C++",
    ".c++": "C++",
    ".pyx": "Cython",
    ".rs": "Rust",
    ".f": "Fortran",
    ".for": "Fortran",
    ".f77": "Fortran",
    ".f90": "Fortran",
    ".f95": "Fortran",
    ".f03": "Fortran",
    ".f08": "Fortran",
}
NO_TOOLCHAIN = ("Rust", "Fortran")  # languages no builder here compiles for Emscripten
_SKIP_DIRS = {"tests", "test", "testing", "docs", "doc", "examples", "benchmarks", "bench", ".git", ".github"}
SHOWN = 10  # sources named in the evidence


@dataclass(frozen=True)
class SourceReport:
    sources: tuple[str, ...]  # compiled sources, relative to the sdist's top directory
    languages: tuple[str, ...]

    @property
    def compiled(self) -> bool:
        return bool(self.sources)

    @property
    def unsupported(self) -> tuple[str, ...]:
        return tuple(lang for lang in self.languages if lang in NO_TOOLCHAIN)

    def of(self, language: str) -> list[str]:
        return [s for s in self.sources if _language(s) == language]


def _language(name: str) -> str | None:
    path = PurePosixPath(name)
    if path.name == "Cargo.toml":
        return "Rust"
    return LANGUAGES.get(path.suffix.lower())


def classify(names: Iterable[str]) -> SourceReport:
    """The compiled sources among an sdist's member names (tests, docs and examples left out)."""
    found = []
    for name in names:
        parts = PurePosixPath(name).parts[1:]  # below the sdist's top directory
        if not parts or _SKIP_DIRS & {p.lower() for p in parts[:-1]}:
            continue
        if _language(name) is not None:
            found.append(str(PurePosixPath(*parts)))
    found.sort()
    languages = sorted({lang for lang in map(_language, found) if lang is not None})
    return SourceReport(tuple(found), tuple(languages))


def inspect_sdist(path: Path, filename: str, limits: ArchiveLimits) -> SourceReport:
    """Classify a stored sdist (``InvalidDistribution`` when it is unsafe or unreadable)."""
    return classify(sdist_file_names(path, parse_dist_filename(filename), limits))


def probe_upstream_sdist(
    upstream: UpstreamIndex, blobs: BlobStore, file: UpstreamFile, limits: ArchiveLimits
) -> SourceReport:
    """Download an upstream sdist to a temporary file (checked against the index's sha256), classify it, drop it."""
    with blobs.writer() as writer:
        upstream.download(file, writer)
        writer.finish()
        if file.sha256:
            verify_sha256(writer.sha256, file.sha256, file.url)
        return inspect_sdist(writer.path, file.filename, limits)
