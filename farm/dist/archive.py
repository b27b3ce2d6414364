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


# The end of central directory record (APPNOTE.TXT 4.3.16) and its zip64 locator (4.3.15). Hand-read because
# zipfile.ZipFile parses the whole central directory into memory before anything can be counted.
_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_SMALLEST_ENTRY = 46  # a central directory header with an empty name


def _central_directory(path: Path) -> tuple[int, int] | None:
    """(entries, central directory bytes) as the archive's end record declares them; None if there is none."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        tail_start = max(0, size - (_EOCD.size + 0xFFFF + _ZIP64_LOCATOR.size))
        handle.seek(tail_start)
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    _sig, _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment = _EOCD.unpack_from(tail, at)
    locator_at = at - _ZIP64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
        _sig64, _d, eocd64_offset, _disks = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
        rel = eocd64_offset - tail_start
        if 0 <= rel <= len(tail) - _ZIP64_EOCD.size and tail[rel : rel + 4] == b"PK\x06\x06":
            fields = _ZIP64_EOCD.unpack_from(tail, rel)
            entries, cd_size = fields[7], fields[8]
    return entries, cd_size


def open_zip(path: Path, display: str, limits: ArchiveLimits) -> zipfile.ZipFile:
    """Open a zip archive (wheel or .zip sdist) and refuse unsafe ones: escaping paths, too many entries, bombs."""
    declared = _central_directory(path)
    if declared is not None:
        entries, cd_size = declared
        if entries > limits.max_entries or cd_size > limits.max_entries * (_SMALLEST_ENTRY + 1024):
            raise limits.refuse(
                display,
                f"its central directory declares {entries} entries in {cd_size} bytes, more than the limit of "
                f"{limits.max_entries} entries",
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
            display, f"{len(entries)} archive entries exceed the limit of {limits.max_entries}", "max_archive_entries"
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
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidDistribution(f"{display}: {member} cannot be read ({exc}); the archive is damaged") from exc
