"""Core metadata (``METADATA`` of a wheel, ``PKG-INFO`` of an sdist): parsed once, checked against the filename."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from farm.dist.filename import DistFilename, validate_project_name
from farm.dist.requirement import unusable
from farm.errors import InvalidDistribution

MAX_REQUIRES_PYTHON = 255


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


def parse_core_metadata(raw: bytes, dist: DistFilename, member: str = "METADATA") -> CoreMetadata:
    display = f"{dist.filename}: {member}"
    try:
        fields, _unparsed = parse_email(raw)
        metadata = Metadata.from_raw(fields, validate=False)
        name, version = metadata.name, metadata.version
    except (ExceptionGroup, InvalidMetadata, ValueError, KeyError) as exc:
        raise InvalidDistribution(f"{display} is invalid: {exc}") from exc
    if b"\0" in raw:
        raise InvalidDistribution(f"{display} contains a NUL byte; core metadata is text")
    validate_project_name(name, f"{display} Name")
    if canonicalize_name(name) != dist.name:
        raise InvalidDistribution(
            f"{display} says Name: {name!r}, but the filename says {dist.name!r}; they must name the same project"
        )
    if version != dist.version:
        raise InvalidDistribution(
            f"{display} says Version: {version}, but the filename says {dist.version}; they must agree"
        )
    requires_dist = tuple(_requirement(str(r), display) for r in (fields.get("requires_dist") or []))
    requires_python = fields.get("requires_python")
    if requires_python is not None:
        _check_requires_python(requires_python, display)
    return CoreMetadata(
        raw=raw,
        name=name,
        version=str(version),
        requires_python=requires_python,
        requires_dist=requires_dist,
        summary=fields.get("summary"),
    )


def _check_requires_python(value: str, display: str) -> None:
    """Index pages carry it in an attribute and a column of 255 characters: it must be a short, valid specifier."""
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        raise InvalidDistribution(
            f"{display} says Requires-Python: {value[:80]!r}, which is not a PEP 440 version specifier "
            "(e.g. '>=3.10')"
        ) from None
    if len(value) > MAX_REQUIRES_PYTHON:
        raise InvalidDistribution(
            f"{display}: Requires-Python is {len(value)} characters long; at most {MAX_REQUIRES_PYTHON} are accepted"
        )


def _requirement(line: str, display: str) -> str:
    """Every Requires-Dist must parse (PEP 508): the resolver and server-side locking read them later."""
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        raise InvalidDistribution(
            f"{display} says Requires-Dist: {line[:120]!r}, which is not a PEP 508 requirement"
        ) from None
    why = unusable(requirement)
    if why is not None:
        raise InvalidDistribution(f"{display} says Requires-Dist: {line[:120]!r}: {why}")
    return line
