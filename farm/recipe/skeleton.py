"""``wasmfarm recipes new``: a recipe written from the upstream index (the newest sdist, verified by its hash).

The sdist is downloaded and checked against the index's sha256; its PKG-INFO gives the name, version, summary and
run requirements, its layout the importable top-level names (for ``top-level`` and ``test/imports``).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml
from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.version import Version

from farm.errors import FileConflict, InvalidDistribution, NotFound
from farm.mirror.upstream import UpstreamFile, UpstreamIndex
from farm.store.blobs import BlobStore
from farm.store.ingest import verify_sha256


@dataclass(frozen=True)
class Skeleton:
    path: Path
    name: str
    version: str
    imports: tuple[str, ...]


def newest_sdist(index: UpstreamIndex, project: str, version: str | None) -> UpstreamFile:
    page = index.project(project)
    if page is None:
        raise NotFound(f"{index.base_url} has no project {project!r}")
    sdists = []
    for file in page.files:
        if file.filename.endswith(".tar.gz") and not file.yanked:
            try:
                _, found = parse_sdist_filename(file.filename)
            except ValueError:
                continue
            if version is None or found == Version(version):
                sdists.append((found, file))
    if not sdists:
        wanted = f" {version}" if version else ""
        raise NotFound(
            f"{project}{wanted} has no .tar.gz sdist on {index.base_url}: a recipe needs source to build"
        )
    return max(sdists, key=lambda pair: pair[0])[1]


def _read_sdist(path: Path, filename: str) -> tuple[bytes, tuple[str, ...]]:
    """PKG-INFO and the importable top-level names of an sdist."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            names = [m.name for m in archive.getmembers() if m.isfile()]
            root = PurePosixPath(names[0]).parts[0] if names else ""
            info = archive.extractfile(f"{root}/PKG-INFO")
            if info is None:
                raise KeyError("PKG-INFO")
            pkg_info = info.read()
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise InvalidDistribution(f"{filename}: not a readable sdist with PKG-INFO ({exc})") from exc
    found: set[str] = set()
    for name in names:
        parts = PurePosixPath(name).parts[1:]
        if parts and parts[0] == "src":
            parts = parts[1:]
        if len(parts) == 2 and parts[1] == "__init__.py" and parts[0].isidentifier():
            found.add(parts[0])
        elif len(parts) == 1 and parts[0].endswith(".py"):
            stem = parts[0][:-3]
            if stem.isidentifier() and stem not in ("setup", "conftest", "noxfile", "tasks"):
                found.add(stem)
    return pkg_info, tuple(sorted(found))


def write_skeleton(
    index: UpstreamIndex,
    blobs: BlobStore,
    project: str,
    recipes_dir: Path,
    version: str | None = None,
    force: bool = False,
) -> Skeleton:
    sdist = newest_sdist(index, project, version)
    if not sdist.sha256:
        raise InvalidDistribution(
            f"{sdist.url}: the index gives no sha256, so the recipe could not pin its source"
        )
    with blobs.writer() as writer:
        index.download(sdist, writer)
        writer.finish()
        verify_sha256(writer.sha256, sdist.sha256, sdist.url)
        pkg_info, imports = _read_sdist(writer.path, sdist.filename)
    fields, _ = parse_email(pkg_info)
    name = str(fields.get("name") or project)
    found_version = str(fields.get("version") or parse_sdist_filename(sdist.filename)[1])
    run = []
    for line in fields.get("requires_dist") or []:
        try:
            requirement = Requirement(str(line))
        except InvalidRequirement:
            continue
        if requirement.marker is None or "extra" not in str(requirement.marker):
            run.append(canonicalize_name(requirement.name))
    target = recipes_dir / canonicalize_name(name) / "meta.yaml"
    if target.exists() and not force:
        raise FileConflict(f"{target} exists already; pass --force to overwrite it")
    recipe: dict[str, object] = {
        "package": {"name": name, "version": found_version, "top-level": list(imports)},
        "source": {"url": sdist.url, "sha256": sdist.sha256},
    }
    if run:
        recipe["requirements"] = {"run": sorted(set(run))}
    recipe["test"] = {"imports": list(imports)}
    about = {"PyPI": f"https://pypi.org/project/{canonicalize_name(name)}"}
    if fields.get("summary"):
        about["summary"] = str(fields["summary"])
    license_text = str(fields.get("license_expression") or fields.get("license") or "").strip()
    if (
        license_text and "\n" not in license_text and len(license_text) <= 100
    ):  # a name, not the license's text
        about["license"] = license_text
    recipe["about"] = about
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
    return Skeleton(target, name, found_version, imports)
