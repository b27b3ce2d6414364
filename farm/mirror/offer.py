"""What an index offers one runtime of one project, and, when that is nothing a requirement can use, why, in words.

The words are shared: ``wasmfarm mirror`` explains an empty selection with them, the resolver explains an
unsatisfiable closure with them, and the compatibility oracle (``farm.compat``) gives them as its reason. Pure: no
I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from farm.dist.filename import parse_dist_filename
from farm.errors import InvalidDistribution
from farm.mirror.upstream import UpstreamFile, UpstreamProject
from farm.runtime.target import RuntimeTarget

MAX_LISTED = 6  # versions or platforms named in one reason


class Shortfall(StrEnum):
    """Why an index offers a runtime nothing for a requirement (the codes of ``Unmet``)."""

    NO_SUCH_PROJECT = "no-such-project"
    NO_SUCH_VERSION = "no-such-version"
    ONLY_SDIST = "only-sdist"
    NO_FILE_FOR_TAGS = "no-file-for-tags"
    REQUIRES_PYTHON = "requires-python"
    YANKED = "yanked"


@dataclass(frozen=True)
class Unmet:
    code: Shortfall
    text: str
    version: Version | None = None  # the newest version the requirement matches, if any


def installable_versions(
    project: UpstreamProject, target: RuntimeTarget
) -> dict[Version, list[UpstreamFile]]:
    """Versions of a project with at least one wheel the runtime installs; yanked files only count when pinned."""
    python = Version(target.python)
    platforms = {*target.platforms, "any"}
    versions: dict[Version, list[tuple[int, UpstreamFile]]] = {}
    for file in project.files:
        if not file.filename.endswith(".whl") or not _may_install(file.filename, platforms):
            continue
        rank = target.wheel_rank(file.filename) if _valid_wheel(file.filename) else None
        if rank is None:
            continue
        if file.requires_python and not python_ok(file.requires_python, python):
            continue
        version = parse_wheel_filename(file.filename)[1]
        versions.setdefault(version, []).append((rank, file))
    return {v: [f for _, f in sorted(files, key=lambda p: p[0])] for v, files in versions.items()}


def _may_install(filename: str, platforms: set[str]) -> bool:
    """Whether a wheel's platform tags (its name's last field) name one of ``platforms``: a string test that spares
    parsing the thousands of files a big project lists for other platforms (every tag a runtime installs has one of
    its platforms or ``any``)."""
    return not platforms.isdisjoint(filename[:-4].rsplit("-", 1)[-1].split("."))


def _valid_wheel(filename: str) -> bool:
    try:
        parse_dist_filename(filename)
    except InvalidDistribution:
        return False
    return True


def python_ok(requires_python: str, python: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except ValueError:
        return True  # an unparseable Requires-Python does not stop an install in pip or micropip either


def file_version(filename: str) -> Version | None:
    """The version a wheel or sdist file name carries, or None for a name that is neither."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def versions_of(project: UpstreamProject) -> dict[Version, list[UpstreamFile]]:
    """Every file of the project by the version it carries."""
    found: dict[Version, list[UpstreamFile]] = {}
    for file in project.files:
        version = file_version(file.filename)
        if version is not None:
            found.setdefault(version, []).append(file)
    return found


def matching(requirement: Requirement, versions: list[Version]) -> list[Version]:
    """The versions a requirement takes, newest first: pre-releases only when asked for or when nothing else
    matches (PEP 440, ``SpecifierSet.filter``)."""
    return sorted(requirement.specifier.filter(versions), reverse=True)


def pinned(requirement: Requirement) -> bool:
    return any(s.operator in ("==", "===") for s in requirement.specifier)


def usable_versions(
    requirement: Requirement, project: UpstreamProject, target: RuntimeTarget
) -> dict[Version, list[UpstreamFile]]:
    """The versions of ``project`` this requirement can install on the runtime (yanked ones only when pinned)."""
    installable = installable_versions(project, target)
    chosen = {}
    for version in matching(requirement, list(installable)):
        files = [f for f in installable[version] if pinned(requirement) or not f.yanked]
        if files:
            chosen[version] = files
    return chosen


def sdists(files: list[UpstreamFile]) -> list[UpstreamFile]:
    """The sdists among ``files``, ``.tar.gz`` first."""
    found = [f for f in files if f.filename.endswith((".tar.gz", ".zip"))]
    return sorted(found, key=lambda f: not f.filename.endswith(".tar.gz"))


def platforms(files: list[UpstreamFile], target: RuntimeTarget) -> list[str]:
    """What the wheels among ``files`` were built for: their platform tags, or the whole tag where the platform is
    one this runtime has (another interpreter or ABI)."""
    found: set[str] = set()
    for file in files:
        if not file.filename.endswith(".whl") or not _valid_wheel(file.filename):
            continue
        for tag in parse_wheel_filename(file.filename)[3]:
            found.add(str(tag) if tag.platform in (*target.platforms, "any") else tag.platform)
    return sorted(found)


def listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def unmet(
    requirement: Requirement, project: UpstreamProject | None, target: RuntimeTarget, label: str
) -> Unmet | None:
    """Why ``project`` (as ``label`` serves it) offers the runtime no file ``requirement`` can install; None when
    it offers one."""
    if project is None or not project.files:
        return Unmet(Shortfall.NO_SUCH_PROJECT, f"{label} has no such project")
    by_version = versions_of(project)
    wanted = matching(requirement, list(by_version))
    if not wanted:
        known = listing([str(v) for v in sorted(by_version, reverse=True)])
        return Unmet(
            Shortfall.NO_SUCH_VERSION,
            f"no such version: nothing matches {requirement.specifier or 'any'} ({label} has {known or 'no version'})",
        )
    installable = installable_versions(project, target)
    if any(v in installable for v in wanted):
        if usable_versions(requirement, project, target):
            return None
        return Unmet(
            Shortfall.YANKED,
            "every matching version is yanked (PEP 592); pin one with == to use it anyway",
            wanted[0],
        )
    newest = wanted[0]
    prefix = ""
    if installable:
        found = listing([str(v) for v in sorted(installable, reverse=True)])
        prefix = f"no installable version matches {requirement.specifier or 'any'} (installable: {found}); {newest}: "
    return _nothing_for(newest, by_version[newest], target, prefix)


def _nothing_for(version: Version, files: list[UpstreamFile], target: RuntimeTarget, prefix: str) -> Unmet:
    if sdists(files):
        return Unmet(
            Shortfall.ONLY_SDIST,
            f"{prefix}only an sdist for this runtime, no wheel with its tags (the build farm can compile one)",
            version,
        )
    python = Version(target.python)
    fitting = [f for f in files if f.filename.endswith(".whl") and _valid_wheel(f.filename)]
    fitting = [f for f in fitting if target.wheel_rank(f.filename) is not None]
    if fitting and all(f.requires_python and not python_ok(f.requires_python, python) for f in fitting):
        needs = listing(sorted({str(f.requires_python) for f in fitting}))
        return Unmet(
            Shortfall.REQUIRES_PYTHON,
            f"{prefix}its wheels require Python {needs}; Pyodide {target.version} has Python {target.python}",
            version,
        )
    return Unmet(
        Shortfall.NO_FILE_FOR_TAGS,
        f"{prefix}no file for this runtime's tags: no sdist, only wheels for {listing(platforms(files, target))} "
        f"(Pyodide {target.version} installs {target.platforms[0]}, abi3 and py3-none-any wheels)",
        version,
    )
