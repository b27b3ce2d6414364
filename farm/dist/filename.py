"""Distribution filenames, parsed once where they enter."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from farm.errors import InvalidDistribution


class DistKind(StrEnum):
    WHEEL = "wheel"
    SDIST = "sdist"


@dataclass(frozen=True)
class DistFilename:
    filename: str
    name: NormalizedName
    version: Version
    kind: DistKind
    tags: frozenset[Tag]

    @property
    def tag_string(self) -> str:
        return ".".join(sorted(str(tag) for tag in self.tags))


def parse_dist_filename(filename: str) -> DistFilename:
    """Parse a wheel or sdist filename; raise InvalidDistribution that says what is wrong with it."""
    if "/" in filename or "\\" in filename or filename.startswith("."):
        raise InvalidDistribution(f"invalid distribution filename {filename!r}: it must be a bare file name")
    try:
        if filename.endswith(".whl"):
            name, version, _, tags = parse_wheel_filename(filename)
            return DistFilename(filename, name, version, DistKind.WHEEL, tags)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return DistFilename(filename, name, version, DistKind.SDIST, frozenset())
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InvalidDistribution(
            f"invalid distribution filename {filename!r}: {exc}; expected "
            "'{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl' (PEP 427) or '{name}-{version}.tar.gz'"
        ) from exc
    raise InvalidDistribution(
        f"unsupported distribution file {filename!r}: only wheels (.whl) and sdists (.tar.gz, .zip) are accepted"
    )
