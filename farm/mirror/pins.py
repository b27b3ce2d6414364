"""What a requirements file pins beyond PEP 508: ``--hash`` options and direct references, as pip reads them.

``name==1.0 --hash=sha256:<hex> --hash=sha256:<hex>`` (pip-compile and ``uv pip compile --generate-hashes`` write
it, continuation lines joined) allows only files with those hashes; as in pip's hash-checking mode, once one line
has hashes every project of the closure must have them. ``name @ https://.../name-1.0-py3-none-any.whl#sha256=<hex>``
takes exactly that wheel (fetched and checked like any mirrored file); a direct reference must carry its hash
(``#sha256=`` or ``--hash``), be a wheel of the named project, and be reached over http(s): a VCS URL, a local path
or an sdist is refused with the reason. ``PinnedSource`` shows the resolver the upstream index through these pins.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, NormalizedName, canonicalize_name, parse_wheel_filename

from farm.dist.requirement import unusable
from farm.errors import InvalidDistribution
from farm.mirror.upstream import UpstreamFile, UpstreamProject

_OPTION = re.compile(r"\s--?[A-Za-z]")
_HASH = re.compile(r"--hash(?:=|\s+)(\S+)")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RequirementLine:
    requirement: Requirement
    where: str  # "requirements.txt:12"
    hashes: frozenset[str] = frozenset()  # sha256 hex digests allowed for this project
    direct: UpstreamFile | None = None  # the wheel a ``name @ URL`` line names


def parse_line(text: str, where: str) -> tuple[RequirementLine | None, list[str]]:
    """One requirement line (options after the requirement), or the problems with it."""
    if text.startswith("-"):
        return None, [
            f"{where}: option {text.split(maxsplit=1)[0]!r} is not supported; list requirements only"
        ]
    found = _OPTION.search(" " + text)
    spec, options = (text, "") if found is None else (text[: found.start() - 1], text[found.start() - 1 :])
    problems: list[str] = []
    hashes: set[str] = set()
    rest = _HASH.sub(" ", options).split()
    if rest:
        problems.append(f"{where}: option {rest[0]!r} is not supported after a requirement; only --hash is")
    for value in _HASH.findall(options):
        algorithm, _, digest = value.partition(":")
        if algorithm != "sha256" or not _SHA256.fullmatch(digest):
            problems.append(
                f"{where}: --hash={value[:80]} is not a sha256 hash (sha256:<64 hex digits>); files here are kept and "
                "checked by sha256, so only those hashes can be verified"
            )
        else:
            hashes.add(digest)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in spec):  # JSON can carry a lone surrogate; UTF-8 cannot
        return None, [*problems, f"{where}: contains a lone UTF-16 surrogate; send valid Unicode text"]
    try:
        requirement = Requirement(spec.strip())
    except InvalidRequirement as exc:
        return None, [*problems, f"{where}: {spec.strip()!r} is not a PEP 508 requirement ({exc})"]
    why = unusable(requirement)
    if why is not None:
        problems.append(f"{where}: {str(requirement)[:120]!r}: {why}")
    direct = None
    if requirement.url is not None:
        direct, why = _direct_file(requirement, hashes)
        if why:
            problems.append(f"{where}: {requirement.name} @ {requirement.url[:300]}: {why}")
    return (None if problems else RequirementLine(requirement, where, frozenset(hashes), direct)), problems


def _direct_file(requirement: Requirement, hashes: set[str]) -> tuple[UpstreamFile | None, str]:
    assert requirement.url is not None
    parts = urlsplit(requirement.url)
    if parts.scheme not in ("http", "https"):
        kind = "a VCS reference" if "+" in parts.scheme else f"a {parts.scheme or 'local'} URL"
        return None, f"{kind} cannot be mirrored; build a wheel and upload it, or point at an http(s) wheel"
    filename = unquote(parts.path.rsplit("/", 1)[-1])
    try:
        name, _, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None, (
            f"{filename!r} is not a wheel; micropip installs wheels only: mirror one, or build this sdist with a "
            "recipe (wasmfarm check --build)"
        )
    if name != canonicalize_name(requirement.name):
        return None, f"{filename} is a wheel of {name}, not of {requirement.name}"
    fragment = dict(p.partition("=")[::2] for p in parts.fragment.split("&") if p)
    digest = fragment.get("sha256", "").lower()
    if digest and not _SHA256.fullmatch(digest):
        return None, "its #sha256= fragment is not 64 hex digits"
    if digest:
        hashes.add(digest)
    if len(hashes) != 1:
        return None, (
            "a direct reference needs exactly one sha256 (#sha256=<hex> or --hash=sha256:<hex>) so that the file can "
            f"be verified; it has {len(hashes)}"
        )
    url = requirement.url.split("#", 1)[0]
    return UpstreamFile(filename, url, next(iter(hashes)), None, False, None, None, False), ""


def parse_requirement_lines(lines: Sequence[tuple[str, int, str]]) -> list[RequirementLine]:
    """(source, line number, text) triples as requirement lines; every bad line is reported at once."""
    found: list[RequirementLine] = []
    problems: list[str] = []
    for source, lineno, text in lines:
        line, bad = parse_line(text, f"{source}:{lineno}")
        problems += bad
        if line is not None:
            found.append(line)
    if problems:
        raise InvalidDistribution("invalid requirements:\n  " + "\n  ".join(problems))
    return found


class PinnedSource:
    """The upstream index as pinned lines see it: a hashed project offers only the files with its hashes, a
    directly referenced one only its wheel. ``require_hashes``: every project asked for must be pinned."""

    def __init__(self, upstream: object, lines: Iterable[RequirementLine]) -> None:
        self.upstream = upstream
        self.label: str = getattr(upstream, "label", "the upstream index")
        self.hashes: dict[NormalizedName, set[str]] = {}
        self.direct: dict[NormalizedName, UpstreamFile] = {}
        for line in lines:
            name = canonicalize_name(line.requirement.name)
            if line.direct is not None:
                self.direct[name] = line.direct
            elif line.hashes:
                self.hashes.setdefault(name, set()).update(line.hashes)
        self.require_hashes = bool(self.hashes)
        self.unpinned: set[str] = set()  # projects asked for in hash-checking mode without a hash
        self.mismatched: set[str] = set()  # hashed projects none of whose files upstream has those hashes

    @property
    def active(self) -> bool:
        return bool(self.hashes or self.direct)

    def project(self, name: str) -> UpstreamProject | None:
        normalized = canonicalize_name(name)
        if normalized in self.direct:
            file = self.direct[normalized]
            return UpstreamProject(normalized, file.url, (file,))
        page: UpstreamProject | None = self.upstream.project(name)  # type: ignore[attr-defined]
        if page is None:
            return None
        if normalized in self.hashes:
            allowed = self.hashes[normalized]
            files = tuple(f for f in page.files if f.sha256 in allowed)
            if not files:
                self.mismatched.add(normalized)
            return dataclasses.replace(page, files=files)
        if self.require_hashes:
            self.unpinned.add(normalized)
            return dataclasses.replace(page, files=())
        return page
