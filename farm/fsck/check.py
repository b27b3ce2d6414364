"""``wasmfarm fsck``: is the store what the catalog says it is?

Every stored file is hashed again and compared with its catalog row (a flipped byte is found, not served), every
file the catalog lists must exist, every blob must be referenced by something (the catalog, a build, a recipe's
source, a lock kept for a shared app) or it is an orphan, every page must be exactly what the catalog renders now
(its ``.gz`` and ``.br`` variants included), and every runtime's lock must be the one the catalog makes, its wheel
links resolving. Checking reads; :mod:`farm.fsck.repair` writes.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import brotli
from sqlmodel import Session, col, select

from farm.context import Farm
from farm.index.pages import PRECOMPRESS_FROM, PageTree, listing_for
from farm.index.simple_index import (
    render_project_html,
    render_project_json,
    render_root_html,
    render_root_json,
)
from farm.recipe.loader import load_recipes
from farm.runtime.lock_records import recorded_blobs
from farm.runtime.publish import LOCK, LockPublisher
from farm.store.blobs import BlobStore
from farm.store.catalog import Catalog
from farm.store.models import Build, DistFile

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
READ = 4 << 20  # bytes per read while hashing: large reads keep up with sha256sum


class Kind(StrEnum):
    CORRUPT = "corrupt"  # a stored file whose sha256 or size is not its catalog row's
    MISSING = "missing"  # a catalog row whose file is not stored
    ORPHAN = "orphan"  # a stored file nothing refers to (waste, not damage)
    STALE_PAGE = "stale page"  # a page that is not what the catalog renders
    STALE_LOCK = "stale lock"  # a runtime lock that is not what the catalog makes, or a broken wheel link


DAMAGE = frozenset({Kind.CORRUPT, Kind.MISSING, Kind.STALE_PAGE, Kind.STALE_LOCK})


@dataclass
class Finding:
    kind: Kind
    subject: str  # a file name, a page path, a blob path
    detail: str
    repaired: bool = False
    row_id: int | None = None  # the catalog row, for files
    note: str = ""  # what repair did instead of mending (quarantined, ...)


@dataclass
class FsckReport:
    findings: list[Finding] = field(default_factory=list)
    files_checked: int = 0
    bytes_hashed: int = 0
    pages_checked: int = 0
    seconds: float = 0.0

    @property
    def sound(self) -> bool:
        """No damage left (orphans are waste, not damage)."""
        return not any(f.kind in DAMAGE and not f.repaired for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sound": self.sound}


NOT_LISTED = "a page of a project the catalog does not list here"


def run_checks(farm: Farm, progress: Callable[[int], None] = lambda _: None) -> FsckReport:
    """Every check, in the order an operator reads them: files, orphans, pages, locks."""
    started = time.monotonic()
    report = FsckReport()
    check_files(farm.catalog, farm.blobs, report, progress)
    check_orphans(
        farm.catalog, farm.blobs, list(farm.settings.recipe_dirs), report, farm.settings.runtime_dir
    )
    check_pages(farm.catalog, farm.publisher.pages, report)
    check_locks(farm.locks, report)
    report.seconds = time.monotonic() - started
    return report


def hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_files(
    catalog: Catalog, blobs: BlobStore, report: FsckReport, progress: Callable[[int], None]
) -> None:
    """Every catalog row against its blob (and its PEP 658 metadata file)."""
    for row in _all_rows(catalog):
        path = blobs.path_for(row.sha256)
        report.files_checked += 1
        if not path.is_file():
            report.findings.append(
                Finding(Kind.MISSING, row.filename, f"{path} does not exist", row_id=row.id)
            )
            continue
        digest, size = hash_file(path)
        report.bytes_hashed += size
        progress(size)
        if digest != row.sha256 or size != row.size:
            report.findings.append(
                Finding(
                    Kind.CORRUPT,
                    row.filename,
                    f"{path}: sha256 {digest} and {size} bytes, the catalog says {row.sha256} and {row.size}",
                    row_id=row.id,
                )
            )
        if row.metadata_sha256:
            meta = blobs.metadata_path_for(row.sha256)
            if not meta.is_file():
                report.findings.append(
                    Finding(Kind.MISSING, row.filename + ".metadata", f"{meta} does not exist", row_id=row.id)
                )
            elif hashlib.sha256(meta.read_bytes()).hexdigest() != row.metadata_sha256:
                report.findings.append(
                    Finding(
                        Kind.CORRUPT,
                        row.filename + ".metadata",
                        f"{meta}: not the METADATA the catalog hashed",
                        row_id=row.id,
                    )
                )


def _all_rows(catalog: Catalog) -> Iterator[DistFile]:
    with catalog.session() as session:
        yield from session.exec(select(DistFile).order_by(col(DistFile.id)))


def referenced_blobs(
    catalog: Catalog, recipes_dirs: list[Path], runtime_dir: Path | None = None
) -> dict[str, str]:
    """sha256 -> what refers to it, besides files the catalog lists: build artifacts, recipe sources and the
    shared libraries and test archives of imported Pyodide distributions and trusted locks (under ``runtime_dir``)."""
    refs: dict[str, str] = recorded_blobs(runtime_dir) if runtime_dir is not None else {}
    with Session(catalog.engine) as session:
        for build in session.exec(select(Build)):
            if build.wheel_sha256:
                refs[build.wheel_sha256] = f"build {build.id}"
            checks = json.loads(build.checks) if build.checks else {}
            tests = checks.get("unvendored_tests") if isinstance(checks, dict) else None
            if isinstance(tests, dict) and isinstance(tests.get("sha256"), str):
                refs[tests["sha256"]] = f"build {build.id} (unvendored tests)"
    for directory in recipes_dirs:
        recipes, _ = load_recipes(directory) if directory.is_dir() else ([], [])
        for recipe in recipes:
            if recipe.recipe.source.sha256:
                refs[recipe.recipe.source.sha256] = f"source of recipe {recipe.name}"
    return refs


def check_orphans(
    catalog: Catalog,
    blobs: BlobStore,
    recipes_dirs: list[Path],
    report: FsckReport,
    runtime_dir: Path | None = None,
) -> None:
    listed = {row.sha256 for row in _all_rows(catalog)}
    others = referenced_blobs(catalog, recipes_dirs, runtime_dir)
    for path in sorted(blobs.root.glob("??/*")):
        name = path.name.removesuffix(".metadata")
        if not _SHA256.match(name) or name in listed or name in others:
            continue
        if path.suffix != ".metadata" and _is_kept_lock(path):
            continue  # a lock made for a shared app (POST /r/<runtime>/lock): kept by design
        report.findings.append(
            Finding(Kind.ORPHAN, str(path), "no catalog row, build, recipe or kept lock refers to it")
        )


def _is_kept_lock(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
        if not head.lstrip().startswith(b"{"):
            return False
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "info" in data and "packages" in data


def expected_pages(catalog: Catalog, pages: PageTree) -> dict[Path, bytes]:
    """Every page file the catalog renders now, with its content (what ``render`` would write). JSON pages carry
    absolute file URLs: they are compared with the public URL the tree was rendered for (``.render-info.json``),
    which may not be this process's."""
    expected: dict[Path, bytes] = {}
    public_url = pages.public_url
    with contextlib.suppress(OSError, ValueError, AttributeError):
        public_url = str(
            json.loads((pages.www / ".render-info.json").read_text()).get("public_url") or public_url
        )
    projects = [p for p in catalog.all_projects() if p.quarantine is None]
    files = catalog.files_of([p.name for p in projects])
    for view in pages.views:
        base = pages.www / view.prefix
        names = []
        for project in projects:
            selected = [r for r in files.get(project.name, []) if view.includes(r)]
            if not selected:
                continue
            names.append(project.name)
            listing = listing_for(project.name, selected)
            expected[base / project.name / "index.json"] = render_project_json(listing, public_url)
            expected[base / project.name / "index.html"] = render_project_html(listing, view.root)
        expected[base / "index.json"] = render_root_json(sorted(names))
        expected[base / "index.html"] = render_root_html(sorted(names))
    return expected


def rendered_public_url(pages: PageTree) -> str:
    """The public URL the page tree was rendered for, else this process's."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        recorded = json.loads((pages.www / ".render-info.json").read_text()).get("public_url")
        if isinstance(recorded, str) and recorded:
            return recorded
    return pages.public_url


def check_pages(catalog: Catalog, pages: PageTree, report: FsckReport) -> dict[Path, bytes]:
    expected = expected_pages(catalog, pages)
    for path, body in sorted(expected.items()):
        report.pages_checked += 1
        problem = _page_problem(path, body)
        if problem:
            report.findings.append(Finding(Kind.STALE_PAGE, str(path.relative_to(pages.www)), problem))
    for view in pages.views:
        base = pages.www / view.prefix
        if not base.is_dir():
            continue
        for page in sorted(base.glob("*/index.html")):
            if page not in expected:
                report.findings.append(Finding(Kind.STALE_PAGE, str(page.relative_to(pages.www)), NOT_LISTED))
    return expected


def _page_problem(path: Path, body: bytes) -> str | None:
    try:
        if path.read_bytes() != body:
            return "differs from what the catalog renders"
        if (
            len(body) < PRECOMPRESS_FROM
        ):  # kept plain (farm.index.pages.write_page): a variant would be served
            for suffix in (".gz", ".br"):
                if path.with_name(path.name + suffix).exists():
                    return f"a {suffix} variant is left beside it, which a page this small does not have"
            return None
        if gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) != body:
            return "its .gz variant differs from the page"
        if brotli.decompress(path.with_name(path.name + ".br").read_bytes()) != body:
            return "its .br variant differs from the page"
    except FileNotFoundError as exc:
        return f"{Path(str(exc.filename)).name} is missing"
    except (OSError, EOFError, brotli.error, gzip.BadGzipFile) as exc:
        return f"unreadable ({exc})"
    return None


def check_locks(locks: LockPublisher, report: FsckReport) -> None:
    for installed in locks.runtimes.installed():
        directory = locks.runtimes.path(installed.version)
        want = json.dumps(locks.build(installed.version).lock, indent=1, sort_keys=False).encode()
        where = f"pyodide/{installed.version}/{LOCK}"
        problem = _page_problem(directory / LOCK, want)
        if problem:
            report.findings.append(Finding(Kind.STALE_LOCK, where, problem))
            continue
        for name, entry in json.loads(want)["packages"].items():
            file_name = str(entry.get("file_name", ""))
            link = directory / file_name
            if link.is_symlink() and not link.exists():
                report.findings.append(
                    Finding(Kind.STALE_LOCK, where, f"{name}: {file_name} links to nothing")
                )
