"""``wasmfarm fsck --repair``: mend what :mod:`farm.fsck.check` found, then check again.

A mirrored file that is corrupt or missing is fetched again from where it was mirrored (its ``upstream_url``) and
kept only if its sha256 is the catalog's; a wheel's PEP 658 metadata file is derived again from the wheel. What
cannot be mended (an uploaded or built file: the farm has no other copy) is quarantined: its project leaves every page
and lock, with the reason, until an operator restores the file and runs ``wasmfarm quarantine release``. Pages and
locks are rendered again from the catalog. Orphans are only listed: deleting stored files is an operator's decision.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import httpx

from farm.context import Farm
from farm.dist.filename import parse_dist_filename
from farm.dist.wheel import read_core_metadata
from farm.errors import FarmError
from farm.fsck.check import DAMAGE, NOT_LISTED, Finding, FsckReport, Kind, rendered_public_url, run_checks
from farm.runtime.publish import LOCK
from farm.store.models import DistFile, Origin


def repair(farm: Farm, report: FsckReport, progress: Callable[[int], None] = lambda _: None) -> FsckReport:
    """Mend ``report``'s findings; the returned report is a fresh check, with what was mended marked."""
    started = time.monotonic()
    rows = {row.id: row for row in _rows(farm, report)}
    quarantined: set[str] = set()
    for finding in report.findings:
        row = rows.get(finding.row_id) if finding.kind in (Kind.CORRUPT, Kind.MISSING) else None
        if row is not None and _mend_file(farm, row, finding):
            quarantined.add(_project_name(farm, row))
    for name in quarantined:  # out of every page at once; the lock follows below
        farm.publisher.pages.remove_project(name)
    if quarantined or any(f.kind is Kind.STALE_PAGE for f in report.findings):
        _render_pages(farm, report)
    if quarantined or any(f.kind is Kind.STALE_LOCK for f in report.findings):
        for installed in farm.runtimes.installed():
            (farm.runtimes.path(installed.version) / LOCK).unlink(missing_ok=True)
        farm.locks.refresh()
    after = run_checks(farm, progress)
    remaining = {(f.kind, f.subject) for f in after.findings}
    for finding in report.findings:
        if finding.kind in DAMAGE and (finding.kind, finding.subject) not in remaining and not finding.note:
            finding.repaired = True
    report.seconds += time.monotonic() - started
    after.findings = report.findings + [f for f in after.findings if (f.kind, f.subject) not in _keys(report)]
    after.seconds = report.seconds
    return after


def _keys(report: FsckReport) -> set[tuple[Kind, str]]:
    return {(f.kind, f.subject) for f in report.findings}


def _rows(farm: Farm, report: FsckReport) -> list[DistFile]:
    wanted = {f.row_id for f in report.findings if f.row_id is not None}
    with farm.catalog.session() as session:
        return [row for row_id in wanted if (row := session.get(DistFile, row_id)) is not None]


def _project_name(farm: Farm, row: DistFile) -> str:
    return str(parse_dist_filename(row.filename).name)


def _mend_file(farm: Farm, row: DistFile, finding: Finding) -> bool:
    """Mend one file; True when it could not be mended and its project was quarantined."""
    if finding.subject.endswith(".metadata") and finding.subject != row.filename:
        _mend_metadata(farm, row, finding)
        return False
    if row.origin == Origin.MIRRORED and row.upstream_url:
        why = _fetch_again(farm, row)
        if why is None:
            finding.detail += f"; fetched again from {row.upstream_url}"
            return False
        finding.detail += f"; fetching it again failed ({why})"
    reason = (
        f"fsck: {finding.kind} {row.filename}: {finding.detail}; restore the file and release the project"
    )
    farm.catalog.quarantine(row.project_id, reason)
    finding.note = "quarantined: there is no other copy of this file"
    return True


def _fetch_again(farm: Farm, row: DistFile) -> str | None:
    assert row.upstream_url is not None
    try:
        with (
            farm.blobs.writer() as writer,
            httpx.stream(
                "GET",
                row.upstream_url,
                follow_redirects=True,
                timeout=farm.settings.http_timeout,
                trust_env=True,
            ) as response,
        ):
            if response.status_code != 200:
                return f"HTTP {response.status_code}"
            for chunk in response.iter_bytes(1 << 20):
                writer.write(chunk)
            writer.finish()
            if writer.sha256 != row.sha256:
                return f"upstream now serves sha256 {writer.sha256}"
            farm.blobs.restore(writer.path, row.sha256)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _mend_metadata(farm: Farm, row: DistFile, finding: Finding) -> None:
    try:
        metadata = read_core_metadata(
            farm.blobs.path_for(row.sha256), parse_dist_filename(row.filename), farm.ingestor.limits
        )
    except (FarmError, OSError) as exc:
        finding.note = f"not derived again: the wheel itself cannot be read ({exc})"
        return
    path = farm.blobs.metadata_path_for(row.sha256)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    farm.blobs.put_metadata(row.sha256, metadata.raw)


def _render_pages(farm: Farm, report: FsckReport) -> None:
    """Stale pages are removed (with their variants) and every page rendered again from the catalog."""
    www = farm.settings.www_dir
    for finding in report.findings:
        if finding.kind is not Kind.STALE_PAGE:
            continue
        page = www / finding.subject
        for variant in (page, page.with_name(page.name + ".gz"), page.with_name(page.name + ".br")):
            variant.unlink(missing_ok=True)
        if finding.detail == NOT_LISTED:
            farm.publisher.pages.remove_project(page.parent.name)
    pages = farm.publisher.pages
    pages.public_url = rendered_public_url(pages)  # mended as rendered, not with this process's URL
    pages.root_names.forget()  # pages were removed here, not by a render
    farm.catalog.mark_all_stale()
    farm.publisher.refresh_stale()
    pages.render_roots()
