"""Reading wheels safely: archive checks and the core metadata (``*.dist-info/METADATA``)."""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, parse_email
from packaging.utils import canonicalize_name

from farm.dist.filename import DistFilename
from farm.errors import InvalidDistribution


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 20_000
    max_uncompressed_bytes: int = 1024**3
    max_compression_ratio: int = 200


@dataclass(frozen=True)
class CoreMetadata:
    """A wheel's METADATA: the raw bytes (served per PEP 714) and the fields wasmfarm uses."""

    raw: bytes
    name: str
    version: str
    requires_python: str | None
    requires_dist: tuple[str, ...]
    summary: str | None
    imports: tuple[str, ...] = ()  # top-level importable names (wheels read from an archive)


def check_archive(path: Path, display: str, limits: ArchiveLimits) -> zipfile.ZipFile:
    """Open a wheel and refuse unsafe archives: absolute or escaping paths, too many entries, zip bombs."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidDistribution(f"{display}: not a valid zip archive ({exc}); rebuild the wheel") from exc
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        archive.close()
        raise InvalidDistribution(
            f"{display}: {len(entries)} archive entries exceed the limit of {limits.max_entries}"
        )
    total = 0
    for info in entries:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            archive.close()
            raise InvalidDistribution(
                f"{display}: unsafe path {name!r} in the archive (absolute or containing '..'); "
                "a wheel may only contain relative paths"
            )
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > limits.max_compression_ratio:
            archive.close()
            raise InvalidDistribution(
                f"{display}: entry {name!r} expands {info.file_size // max(info.compress_size, 1)}x; "
                f"more than {limits.max_compression_ratio}x looks like a zip bomb"
            )
    if total > limits.max_uncompressed_bytes:
        archive.close()
        raise InvalidDistribution(
            f"{display}: {total} bytes uncompressed exceed the limit of {limits.max_uncompressed_bytes}"
        )
    return archive


def top_level_names(names: list[str]) -> tuple[str, ...]:
    """Importable top-level names of a wheel: packages and modules at its root (what a lock's ``imports`` lists)."""
    found: set[str] = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if not parts or parts[0].endswith((".dist-info", ".data")) or parts[0] == "__pycache__":
            continue
        if len(parts) > 1:
            if parts[0].isidentifier():
                found.add(parts[0])
            continue
        stem = parts[0].split(".", 1)[0]
        if parts[0].endswith((".py", ".so", ".pyd")) and stem.isidentifier() and stem != "__init__":
            found.add(stem)
    return tuple(sorted(found))


def read_core_metadata(path: Path, dist: DistFilename, limits: ArchiveLimits) -> CoreMetadata:
    """Check a wheel and return its METADATA, which must agree with the filename's name and version."""
    display = dist.filename
    with check_archive(path, display, limits) as archive:
        dist_infos = {
            PurePosixPath(n).parts[0]
            for n in archive.namelist()
            if PurePosixPath(n).parts and PurePosixPath(n).parts[0].endswith(".dist-info")
        }
        candidates = [
            d
            for d in dist_infos
            if canonicalize_name(d.removesuffix(".dist-info").rpartition("-")[0]) == dist.name
        ]
        if len(candidates) != 1:
            found = ", ".join(sorted(dist_infos)) or "none"
            raise InvalidDistribution(
                f"{display}: expected exactly one '{dist.name}-{dist.version}.dist-info' directory, found {found}"
            )
        member = f"{candidates[0]}/METADATA"
        try:
            raw = archive.read(member)
        except KeyError as exc:
            raise InvalidDistribution(f"{display}: {member} is missing") from exc
        imports = top_level_names(archive.namelist())
    metadata = parse_core_metadata(raw, dist)
    return dataclasses.replace(metadata, imports=imports)


def parse_core_metadata(raw: bytes, dist: DistFilename) -> CoreMetadata:
    display = f"{dist.filename}: METADATA"
    try:
        fields, _unparsed = parse_email(raw)
        metadata = Metadata.from_raw(fields, validate=False)
        name, version = metadata.name, metadata.version
    except (ExceptionGroup, InvalidMetadata, ValueError, KeyError) as exc:
        raise InvalidDistribution(f"{display} is invalid: {exc}") from exc
    if canonicalize_name(name) != dist.name:
        raise InvalidDistribution(
            f"{display} says Name: {name!r}, but the filename says {dist.name!r}; they must name the same project"
        )
    if version != dist.version:
        raise InvalidDistribution(
            f"{display} says Version: {version}, but the filename says {dist.version}; they must agree"
        )
    requires_dist = tuple(str(r) for r in (fields.get("requires_dist") or []))
    return CoreMetadata(
        raw=raw,
        name=name,
        version=str(version),
        requires_python=fields.get("requires_python"),
        requires_dist=requires_dist,
        summary=fields.get("summary"),
    )
