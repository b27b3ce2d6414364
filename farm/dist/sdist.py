"""Reading sdists safely: ``.tar.gz`` streamed member by member under the archive limits, and their ``PKG-INFO``.

A tar archive has no index: ``tarfile.getmembers()`` would read (and keep) every header, and a member's declared size
is only known when its header is reached. So the archive is read as a stream, once, and every limit is checked on a
header before the data it declares is expanded: the member count, the total size, and the expansion against the
whole file's compressed size (a 2 MB file that declares 2 GiB is refused at the header, not after 12 s of gunzip).
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from farm.dist.archive import (
    RATIO_FLOOR,
    ArchiveLimits,
    Deadline,
    open_zip,
    read_zip_member,
    refuse_unsafe_name,
)
from farm.dist.filename import DistFilename
from farm.dist.metadata import CoreMetadata, parse_core_metadata
from farm.errors import InvalidDistribution


def read_sdist_metadata(path: Path, dist: DistFilename, limits: ArchiveLimits) -> CoreMetadata | None:
    """Check an sdist's archive; return its top-level ``PKG-INFO`` (which must agree with the filename), if any."""
    if dist.filename.endswith(".zip"):
        return _zip_sdist(path, dist, limits)
    raw = _tar_sdist(path, dist.filename, limits)
    return parse_core_metadata(raw, dist, "PKG-INFO") if raw is not None else None


def sdist_file_names(path: Path, dist: DistFilename, limits: ArchiveLimits) -> list[str]:
    """The regular files of an sdist, read under the same limits and checks as an upload (nothing is extracted)."""
    names: list[str] = []
    if dist.filename.endswith(".zip"):
        with open_zip(path, dist.filename, limits) as archive:
            return [n for n in archive.namelist() if not n.endswith("/")]
    _tar_sdist(path, dist.filename, limits, names)
    return names


def _is_pkg_info(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def _zip_sdist(path: Path, dist: DistFilename, limits: ArchiveLimits) -> CoreMetadata | None:
    with open_zip(path, dist.filename, limits) as archive:
        found = [n for n in archive.namelist() if _is_pkg_info(n)]
        if not found:
            return None
        raw = read_zip_member(archive, sorted(found)[0], dist.filename, limits)
    return parse_core_metadata(raw, dist, "PKG-INFO")


class _Guarded:
    """The decompressed stream tarfile reads, refusing at the limits as it reads: the whole archive's expansion,
    and headers that run past a member's data by more than ``max_metadata_bytes`` (tarfile reads a PAX or GNU
    long-name header into memory whole, before its member is ever seen)."""

    def __init__(
        self, raw: gzip.GzipFile, most: int, limits: ArchiveLimits, display: str, compressed: int
    ) -> None:
        self.raw = raw
        self.most = most
        self.limits = limits
        self.display = display
        self.compressed = compressed
        self.position = 0
        self.headers_until = limits.max_metadata_bytes + 2 * tarfile.BLOCKSIZE

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size >= 0 else tarfile.RECORDSIZE)
        self.position += len(data)
        if self.position > self.most:
            raise _too_big(self.limits, self.display, self.position, self.compressed)
        if self.position > self.headers_until:
            raise self.limits.refuse(
                self.display,
                f"a tar header runs over {self.limits.max_metadata_bytes} bytes",
                "max_metadata_bytes",
            )
        return data

    def member_seen(self, member: tarfile.TarInfo) -> None:
        blocks = -(-member.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        self.headers_until = (
            member.offset_data + blocks + self.limits.max_metadata_bytes + 2 * tarfile.BLOCKSIZE
        )


def _tar_sdist(path: Path, display: str, limits: ArchiveLimits, names: list[str] | None = None) -> bytes | None:
    compressed = path.stat().st_size
    most = min(limits.max_uncompressed_bytes, max(compressed * limits.max_compression_ratio, RATIO_FLOOR))
    deadline = Deadline(limits, display)
    pkg_info: bytes | None = None
    try:
        with gzip.open(path, "rb") as raw:
            stream = _Guarded(raw, most, limits, display, compressed)
            with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
                for count, member in enumerate(archive, 1):
                    if count > limits.max_entries:
                        raise limits.refuse(
                            display, f"more than {limits.max_entries} archive members", "max_archive_entries"
                        )
                    stream.member_seen(member)
                    refuse_unsafe_name(member.name, display)
                    if member.issym() or member.islnk():
                        _refuse_escaping_link(member, display)
                    expanded = member.offset_data + member.size
                    if expanded > most:
                        raise _too_big(limits, display, expanded, compressed)
                    if names is not None and member.isfile():
                        names.append(member.name)
                    if pkg_info is None and member.isfile() and _is_pkg_info(member.name):
                        pkg_info = _read_member(archive, member, display, limits)
                    deadline.check()
    except (
        tarfile.TarError,
        OSError,
        EOFError,
        zlib.error,
        ValueError,
    ) as exc:  # ValueError: a bad sparse map
        raise InvalidDistribution(f"{display}: not a readable .tar.gz ({exc}); rebuild the sdist") from exc
    return pkg_info


def _refuse_escaping_link(member: tarfile.TarInfo, display: str) -> None:
    """A link may point up within the archive (docs/CHANGES.rst -> ../CHANGES.rst), never out of it."""
    base = PurePosixPath(member.name).parent if member.issym() else PurePosixPath()
    if member.linkname.startswith("/") or "\0" in member.linkname:
        refuse_unsafe_name(member.linkname, display)
    depth = 0
    for part in (base / member.linkname).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            raise InvalidDistribution(
                f"{display}: link {member.name!r} -> {member.linkname!r} points outside the archive"
            )


def _read_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, display: str, limits: ArchiveLimits
) -> bytes:
    if member.size > limits.max_metadata_bytes:
        raise limits.refuse(
            display,
            f"{member.name} is {member.size} bytes, more than the limit of {limits.max_metadata_bytes}",
            "max_metadata_bytes",
        )
    handle = archive.extractfile(member)
    if handle is None:
        raise InvalidDistribution(f"{display}: {member.name} cannot be read")
    return handle.read()


def _too_big(limits: ArchiveLimits, display: str, expanded: int, compressed: int) -> InvalidDistribution:
    if expanded > limits.max_uncompressed_bytes:
        return limits.refuse(
            display,
            f"the archive expands to more than {limits.max_uncompressed_bytes} bytes",
            "max_uncompressed_bytes",
        )
    return limits.refuse(
        display,
        f"{compressed} compressed bytes expand to more than {expanded} ({expanded // max(compressed, 1)}x); more "
        f"than {limits.max_compression_ratio}x looks like a decompression bomb",
        "max_compression_ratio",
    )
