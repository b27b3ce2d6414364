"""Archive safety shared by wheels and sdists: limits, paths, zip central directories, a time budget.

Every limit is checked before the bytes it guards are read or expanded, so an upload within the size cap cannot make
the server read, expand or keep much more than it (a zip bomb, a 200 MiB ``METADATA``, 300,000 tar members).
"""

from __future__ import annotations

import struct
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from farm.errors import InvalidDistribution

# What reading a crafted member raises: a bad CRC, truncation, an encrypted member (RuntimeError), an unknown
# compression method (NotImplementedError, a RuntimeError).
UNREADABLE_ZIP = (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError)
RATIO_FLOOR = 1024 * 1024  # bytes any member or archive may expand to, however well it compresses


@dataclass(frozen=True)
class ArchiveLimits:
    """What one archive may hold; each field is the setting of the same name with ``max_`` in front (see
    ``farm.settings``), so messages can say which setting to raise."""

    max_entries: int = 20_000
    max_uncompressed_bytes: int = 1024**3
    max_compression_ratio: int = 200
    max_metadata_bytes: int = 4 * 1024**2
    max_seconds: float = 30.0

    def refuse(self, display: str, what: str, setting: str) -> InvalidDistribution:
        return InvalidDistribution(f"{display}: {what} (setting {setting}); the file was not stored")


class Deadline:
    """The time budget of one archive check (``max_archive_seconds``)."""

    def __init__(self, limits: ArchiveLimits, display: str) -> None:
        self.limits = limits
        self.display = display
        self.ends = time.monotonic() + limits.max_seconds

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise self.limits.refuse(
                self.display,
                f"checking the archive took more than {self.limits.max_seconds:g} s",
                "max_archive_seconds",
            )


def unsafe_member_name(name: str) -> bool:
    """Absolute, drive-letter or escaping paths: a member of a wheel or sdist may only name a relative path."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts


def refuse_unsafe_name(name: str, display: str) -> None:
    if unsafe_member_name(name) or "\0" in name:
        raise InvalidDistribution(
            f"{display}: unsafe path {name!r} in the archive (absolute or containing '..'); "
            "an archive may only contain relative paths"
        )


# The end of central directory record (APPNOTE.TXT 4.3.16), its zip64 locator (4.3.15) and record (4.3.14). Hand-read
# because zipfile.ZipFile parses the whole central directory into memory before anything can be counted.
_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")


_CD_HEADER = struct.Struct("<4s24xHHH12x")  # signature; name, extra and comment lengths
_MOST_CD_BYTES = 64 * 1024**2


def _central_entries(path: Path, limit: int) -> int | None:
    """How many entries the central directory holds, counted header by header up to ``limit + 1`` (found the way
    zipfile finds it: the end record in the last 22 bytes, else the last one in the final 64 KiB); None when there is
    no readable directory (zipfile then refuses the file too)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        tail_start = max(0, size - (_EOCD.size + 0xFFFF + _ZIP64_LOCATOR.size + _ZIP64_EOCD.size))
        handle.seek(tail_start)
        tail = handle.read()
        at = len(tail) - _EOCD.size
        if at < 0 or tail[at : at + 4] != b"PK\x05\x06":
            at = tail.rfind(b"PK\x05\x06")
            if at < 0 or len(tail) - at < _EOCD.size:
                return None
        cd_size = _EOCD.unpack_from(tail, at)[5]
        cd_end = tail_start + at
        locator_at = at - _ZIP64_LOCATOR.size
        if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
            eocd64_at = locator_at - _ZIP64_EOCD.size
            if eocd64_at >= 0 and tail[eocd64_at : eocd64_at + 4] == b"PK\x06\x06":
                cd_size = _ZIP64_EOCD.unpack_from(tail, eocd64_at)[8]
                cd_end = tail_start + eocd64_at
        cd_start = cd_end - cd_size
        if cd_start < 0 or cd_size > _MOST_CD_BYTES:
            return None if cd_start < 0 else limit + 1
        handle.seek(cd_start)
        directory = handle.read(cd_size)
    count, offset = 0, 0
    while offset + _CD_HEADER.size <= len(directory) and count <= limit:
        signature, name, extra, comment = _CD_HEADER.unpack_from(directory, offset)
        if signature != b"PK\x01\x02":
            break
        offset += _CD_HEADER.size + name + extra + comment
        count += 1
    return count


def open_zip(path: Path, display: str, limits: ArchiveLimits) -> zipfile.ZipFile:
    """Open a zip archive (wheel or .zip sdist) and refuse unsafe ones: escaping paths, too many entries, bombs."""
    entries = _central_entries(path, limits.max_entries)
    if entries is not None and entries > limits.max_entries:
        raise limits.refuse(
            display,
            f"its central directory holds more than the limit of {limits.max_entries} entries",
            "max_archive_entries",
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidDistribution(f"{display}: not a valid zip archive ({exc}); rebuild it") from exc
    try:
        _check_zip_entries(archive, display, limits)
    except BaseException:
        archive.close()
        raise
    return archive


def _check_zip_entries(archive: zipfile.ZipFile, display: str, limits: ArchiveLimits) -> None:
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise limits.refuse(
            display,
            f"{len(entries)} archive entries exceed the limit of {limits.max_entries}",
            "max_archive_entries",
        )
    total = 0
    for info in entries:
        refuse_unsafe_name(info.filename, display)
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > limits.max_compression_ratio:
            raise limits.refuse(
                display,
                f"entry {info.filename!r} expands {ratio:.0f}x; more than {limits.max_compression_ratio}x looks "
                "like a zip bomb",
                "max_compression_ratio",
            )
    if total > limits.max_uncompressed_bytes:
        raise limits.refuse(
            display,
            f"{total} bytes uncompressed exceed the limit of {limits.max_uncompressed_bytes}",
            "max_uncompressed_bytes",
        )


def read_zip_member(archive: zipfile.ZipFile, member: str, display: str, limits: ArchiveLimits) -> bytes:
    """A small member (metadata), refused before reading when it declares more than ``max_metadata_bytes``."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise InvalidDistribution(f"{display}: {member} is missing") from None
    if info.file_size > limits.max_metadata_bytes:
        raise limits.refuse(
            display,
            f"{member} is {info.file_size} bytes, more than the limit of {limits.max_metadata_bytes}",
            "max_metadata_bytes",
        )
    try:
        return archive.read(info)
    except UNREADABLE_ZIP as exc:
        raise InvalidDistribution(
            f"{display}: {member} cannot be read ({exc}); the archive is damaged"
        ) from exc
