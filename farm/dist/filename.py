"""Distribution filenames, parsed once where they enter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from packaging.tags import Tag
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from farm.errors import InvalidDistribution

MAX_NAME_LENGTH = 128  # PyPI's longest project names are well under 100 characters
MAX_FILENAME_LENGTH = 255  # one path component on every common filesystem
MAX_VERSION_LENGTH = 100
# Every character a valid wheel or sdist name can hold: the name ([A-Za-z0-9._-]), a PEP 440 version (+ for local
# versions, ! for epochs) and the tags. Checked before anything else, so nothing below sees control characters,
# quotes, slashes, percent escapes or non-ASCII text.
FILENAME_CHARS = re.compile(r"[A-Za-z0-9._+!-]+")


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


def validate_project_name(name: str, where: str) -> NormalizedName:
    """A project name valid per the core metadata spec, normalised; InvalidDistribution naming ``where`` if not."""
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidDistribution(
            f"{where}: the project name is {len(name)} characters long; at most {MAX_NAME_LENGTH} are accepted"
        )
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName:
        raise InvalidDistribution(
            f"{where}: {name!r} is not a valid project name; a name is ASCII letters and digits, with '.', '_' "
            "or '-' between them (core metadata specification, 'Name')"
        ) from None


def parse_dist_filename(filename: str) -> DistFilename:
    """Parse a wheel or sdist filename; raise InvalidDistribution that says what is wrong with it."""
    dist = _parse(filename)
    if len(str(dist.version)) > MAX_VERSION_LENGTH:
        raise InvalidDistribution(
            f"invalid distribution filename {filename!r}: its version has more than {MAX_VERSION_LENGTH} characters"
        )
    return dist


def _parse(filename: str) -> DistFilename:
    if "/" in filename or "\\" in filename or filename.startswith("."):
        raise InvalidDistribution(f"invalid distribution filename {filename!r}: it must be a bare file name")
    if len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidDistribution(
            f"invalid distribution filename {filename[:60]!r}...: {len(filename)} characters, at most "
            f"{MAX_FILENAME_LENGTH} are accepted"
        )
    if not FILENAME_CHARS.fullmatch(filename):
        raise InvalidDistribution(
            f"invalid distribution filename {filename!r}: only ASCII letters, digits and '._+!-' can occur in a "
            "wheel or sdist name"
        )
    try:
        if filename.endswith(".whl"):
            name, version, _, tags = parse_wheel_filename(filename)
            validate_project_name(filename.split("-", 1)[0], f"invalid distribution filename {filename!r}")
            return DistFilename(filename, name, version, DistKind.WHEEL, tags)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            validate_project_name(filename.rpartition("-")[0], f"invalid distribution filename {filename!r}")
            return DistFilename(filename, name, version, DistKind.SDIST, frozenset())
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InvalidDistribution(
            f"invalid distribution filename {filename!r}: {exc}; expected "
            "'{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl' (PEP 427) or '{name}-{version}.tar.gz'"
        ) from exc
    raise InvalidDistribution(
        f"unsupported distribution file {filename!r}: only wheels (.whl) and sdists (.tar.gz, .zip) are accepted"
    )
