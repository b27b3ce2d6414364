"""Reading wheels safely: archive checks, ``RECORD`` and the core metadata (``*.dist-info/METADATA``)."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path, PurePosixPath

from installer.exceptions import InstallerError
from installer.sources import WheelFile
from packaging.utils import canonicalize_name

from farm.dist.archive import UNREADABLE_ZIP, ArchiveLimits, Deadline, open_zip, read_zip_member
from farm.dist.filename import DistFilename
from farm.dist.metadata import CoreMetadata, parse_core_metadata
from farm.errors import InvalidDistribution


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


def read_core_metadata(
    path: Path, dist: DistFilename, limits: ArchiveLimits, *, check_record: bool = True
) -> CoreMetadata:
    """Check a wheel and return its METADATA, which must agree with the filename's name and version.

    With ``check_record`` (the default, and always on ingest), every file's hash and size must match ``RECORD``, as
    installers check them: a wheel whose RECORD lies is refused.
    """
    display = dist.filename
    deadline = Deadline(limits, display)
    with open_zip(path, display, limits) as archive:
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
        raw = read_zip_member(archive, f"{candidates[0]}/METADATA", display, limits)
        if check_record:
            read_zip_member(archive, f"{candidates[0]}/RECORD", display, limits)  # its size limit
            check_wheel_record(archive, display)
            deadline.check()
        imports = top_level_names(archive.namelist())
    metadata = parse_core_metadata(raw, dist)
    return dataclasses.replace(metadata, imports=imports)


def check_wheel_record(archive: zipfile.ZipFile, display: str) -> None:
    """Every member listed in RECORD with the right sha256 and size (installer's own validation)."""
    archive.filename = display  # installer names the wheel by this (the blob's path is its sha256)
    try:
        WheelFile(archive).validate_record(validate_contents=True)
    except (InstallerError, UnicodeDecodeError, *UNREADABLE_ZIP) as exc:
        issues = getattr(exc, "issues", None) or [str(exc)]
        shown = "; ".join(str(i) for i in issues[:5]) + (
            f"; and {len(issues) - 5} more" if len(issues) > 5 else ""
        )
        raise InvalidDistribution(
            f"{display}: RECORD does not match the wheel's contents: {shown}. Rebuild the wheel (a tool changed "
            "files after RECORD was written, or the file was damaged)"
        ) from exc
