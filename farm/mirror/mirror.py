"""``wasmfarm mirror``: select what runs on the configured runtimes, download it, verify it, publish it.

Incremental and resumable: a file already in the catalog is not downloaded again (its yank state is still carried),
and a file whose blob survived an interrupted run is published without a download.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from farm.context import Farm
from farm.dist.archive import ArchiveLimits
from farm.dist.filename import parse_dist_filename
from farm.dist.metadata import parse_core_metadata
from farm.dist.requirement import applies
from farm.dist.wheel import read_core_metadata
from farm.errors import FarmError, InvalidDistribution, NotFound, ResolutionImpossible, UpstreamIntegrityError
from farm.mirror.batches import DEFAULT_LIMITS, BatchLimits, Done, Staged, ingest_in_batches
from farm.mirror.offer import installable_versions, unmet
from farm.mirror.pins import PinnedSource, parse_requirement_lines
from farm.mirror.resolver import ProjectSource, allowed_versions, resolve
from farm.mirror.trusted_lock import LockPlan, TrustedLock, plan_lock_depends
from farm.mirror.upstream import UpstreamFile, UpstreamIndex, UpstreamProject, iter_requirement_lines
from farm.runtime.lock_records import record_index_entries
from farm.runtime.lockfile import requires_dist as stored_requires_dist
from farm.runtime.target import RuntimeTarget
from farm.store.blobs import BlobStore
from farm.store.catalog import StoredFile, YankChange
from farm.store.ingest import Provenance, verify_sha256
from farm.store.models import Origin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedFile:
    project: NormalizedName
    file: UpstreamFile


@dataclass(frozen=True)
class Unselected:
    """A named requirement for which nothing was selected on a runtime, and why (the compatibility oracle's
    words: ``farm.mirror.offer``)."""

    requirement: str
    runtime: str
    reason: str


@dataclass
class MirrorReport:
    planned: int = 0
    downloaded: int = 0
    reused: int = 0  # published from a blob left by an interrupted run
    present: int = 0
    yanks_updated: int = 0
    bytes_downloaded: int = 0
    batches: int = 0  # transactions that recorded catalog rows (``farm.mirror.batches``)
    lock_entries: int = 0  # files whose trusted lock entry was recorded (``farm.mirror.trusted_lock``)
    libraries: int = 0  # shared libraries fetched or present from beside the trusted lock
    errors: list[str] = field(default_factory=list)


class Progress:
    """What the mirror tells its caller as it goes; the CLI renders it."""

    def start(self, total: int) -> None: ...

    def advance(self, filename: str, outcome: str) -> None: ...

    def message(self, text: str) -> None: ...


def parse_requirements(lines: Sequence[tuple[str, int, str]]) -> list[Requirement]:
    """Requirements from (source, line number, text) triples; every bad line is reported at once. ``--hash`` options
    are accepted (``farm.mirror.pins`` keeps them; here only the requirements are wanted)."""
    return [line.requirement for line in parse_requirement_lines(lines)]


def read_requirements_file(path: str) -> list[tuple[str, int, str]]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise NotFound(f"cannot read requirements file {path!r}: {exc.strerror}") from exc
    return [(path, lineno, line) for lineno, line in iter_requirement_lines(text)]


def upstream_requires_dist(
    upstream: UpstreamIndex, blobs: BlobStore, limits: ArchiveLimits, file: UpstreamFile
) -> list[str]:
    """An upstream wheel's Requires-Dist: from its PEP 714 metadata file, else from the wheel (which is then kept in
    the blob store, so mirroring it later downloads nothing)."""
    dist = parse_dist_filename(file.filename)
    raw = upstream.metadata(file)
    if raw is not None:
        if file.metadata_sha256 and hashlib.sha256(raw).hexdigest() != file.metadata_sha256:
            raise UpstreamIntegrityError(f"{file.url}.metadata: sha256 differs from the index's; not trusted")
        return list(parse_core_metadata(raw, dist).requires_dist)
    sha256 = prefetch(upstream, blobs, file)
    # Only its Requires-Dist is needed here; RECORD is checked when the file is ingested.
    return list(read_core_metadata(blobs.path_for(sha256), dist, limits, check_record=False).requires_dist)


def prefetch(
    upstream: UpstreamIndex,
    blobs: BlobStore,
    file: UpstreamFile,
    limit: int | None = None,
    listed_by: str = "the index",
) -> str:
    """Download and verify a file into the blob store without publishing it (``limit``: most bytes; ``listed_by``:
    what named the file, for messages)."""
    if file.sha256 and blobs.has(file.sha256):
        return file.sha256
    with blobs.writer(limit) as writer:
        upstream.download(file, writer, listed_by)
        writer.finish()
        if file.sha256:
            verify_sha256(writer.sha256, file.sha256, file.url)
        return writer.commit()


class Mirror:
    def __init__(
        self,
        farm: Farm,
        upstream: UpstreamIndex,
        targets: Sequence[RuntimeTarget],
        pins: PinnedSource | None = None,
        batch_limits: BatchLimits = DEFAULT_LIMITS,
        trusted_lock: TrustedLock | None = None,
    ) -> None:
        self.farm = farm
        self.trusted_lock = trusted_lock  # the index's pyodide-lock.json, whose metadata is kept
        self.batch_limits = batch_limits
        self.upstream = upstream
        # What selection sees: the index through a requirements file's hashes and direct references, if any.
        self.pins = pins
        self.source: ProjectSource = pins if pins is not None else upstream
        self.targets = list(targets)
        self.unselected: list[Unselected] = []  # filled by plan_projects and plan_named

    # Selection ----------------------------------------------------------------------------------------------

    def plan_closure(self, requirements: Sequence[Requirement]) -> list[PlannedFile]:
        """Every file of the resolved closure, per runtime (the union over runtimes)."""
        planned: dict[str, PlannedFile] = {}
        for target in self.targets:
            try:
                candidates = resolve(requirements, self.source, target, self.requires_dist)
            except ResolutionImpossible:
                self._refuse_unpinned()
                raise
            for candidate in candidates:
                for file in candidate.files:
                    planned.setdefault(file.filename, PlannedFile(candidate.name, file))
        return list(planned.values())

    def plan_named(self, requirements: Sequence[Requirement]) -> list[PlannedFile]:
        """Each named requirement with its closure, resolved on its own for each runtime: one that cannot be met
        is recorded in ``unselected`` with the reason (its own, or the resolver's for a dependency) and does not
        stop the others."""
        planned: dict[str, PlannedFile] = {}
        for requirement in requirements:
            for target in self.targets:
                environment = {**target.marker_environment, "extra": ""}
                if not applies(requirement.marker, environment):
                    continue
                try:
                    candidates = resolve([requirement], self.source, target, self.requires_dist)
                except ResolutionImpossible as exc:
                    self._refuse_unpinned()
                    found = unmet(
                        requirement,
                        self.source.project(requirement.name),
                        target,
                        f"the upstream index {self.upstream.base_url}",
                    )
                    reason = found.text if found is not None else str(exc)
                    self.unselected.append(Unselected(str(requirement), target.version, reason))
                    continue
                for candidate in candidates:
                    for file in candidate.files:
                        planned.setdefault(file.filename, PlannedFile(candidate.name, file))
        return list(planned.values())

    def plan_projects(self, requirements: Sequence[Requirement], all_versions: bool) -> list[PlannedFile]:
        """Files of the named projects that run on a configured runtime: the newest such version, or all.

        A requirement that selects nothing on a runtime is recorded in ``unselected`` with the reason."""
        planned: dict[str, PlannedFile] = {}
        for requirement in requirements:
            project = self.source.project(requirement.name)
            for target in self.targets:
                if project is None:
                    self._unselected(requirement, project, target)
                    continue
                environment = {**target.marker_environment, "extra": ""}
                if not applies(requirement.marker, environment):
                    continue
                installable = installable_versions(project, target)
                allowed = allowed_versions([requirement], installable)
                versions = {v: files for v, files in installable.items() if v in allowed}
                chosen = (
                    sorted(versions, reverse=True) if all_versions else sorted(versions, reverse=True)[:1]
                )
                for version in chosen:
                    for file in versions[version]:
                        planned.setdefault(file.filename, PlannedFile(project.name, file))
                if not chosen:
                    self._unselected(requirement, project, target)
        return list(planned.values())

    def _refuse_unpinned(self) -> None:
        if self.pins is not None and self.pins.mismatched:
            raise UpstreamIntegrityError(
                f"no file of {', '.join(sorted(self.pins.mismatched))} on {self.upstream.base_url} has a sha256 the "
                "requirements file allows (--hash): the file changed upstream, or the hash is wrong; nothing mirrored"
            )
        if self.pins is not None and self.pins.unpinned:
            raise InvalidDistribution(
                "hash-checking mode: once a requirement has --hash, every project of the closure needs one, as in "
                f"pip; no --hash for {', '.join(sorted(self.pins.unpinned))}: regenerate the file with "
                "--generate-hashes"
            )

    def _unselected(
        self, requirement: Requirement, project: UpstreamProject | None, target: RuntimeTarget
    ) -> None:
        found = unmet(requirement, project, target, f"the upstream index {self.upstream.base_url}")
        reason = found.text if found is not None else "every installable version is excluded by the specifier"
        self.unselected.append(Unselected(str(requirement), target.version, reason))

    def requires_dist(self, file: UpstreamFile) -> list[str]:
        """A wheel's Requires-Dist: from the catalog when the mirror has this very file (a re-mirror asks upstream
        nothing more than its pages), else from its PEP 714 metadata file, else from the wheel (which is then kept)."""
        stored = self.farm.catalog.file(file.filename) if file.sha256 else None
        if stored is not None and stored.sha256 == (file.sha256 or "").lower() and stored.core_metadata:
            return stored_requires_dist(stored)
        return upstream_requires_dist(self.upstream, self.farm.blobs, self.farm.ingestor.limits, file)

    # Fetching -----------------------------------------------------------------------------------------------

    def run(self, planned: Sequence[PlannedFile], progress: Progress, concurrency: int = 4) -> MirrorReport:
        """Fetch what the catalog lacks and carry upstream's yanks; the database is asked once per batch of
        projects, not per file, so a run that finds nothing new costs about one upstream listing. Downloads run
        ``concurrency`` at a time; their catalog rows are written in batches (``farm.mirror.batches``)."""
        report = MirrorReport()
        self.farm.blobs.sweep_temporaries()
        lock_plan = self.lock_plan(planned)
        planned = [p for p in planned if p.file.filename not in lock_plan.refused]
        planned += [PlannedFile(name, file) for name, file in lock_plan.wheels.values()]
        report.errors += [*lock_plan.refused.values(), *lock_plan.problems]
        report.planned = len(planned)
        projects = {item.project for item in planned}
        stored = self.farm.catalog.stored_files(projects)
        elsewhere = {item.file.filename for item in planned} - stored.keys()
        if elsewhere:  # a file filed under another project than the page that listed it, or (usually) new
            stored.update(self.farm.catalog.stored_files(filenames=elsewhere))
        todo = []
        for item in planned:
            existing = stored.get(item.file.filename)
            if existing is None:
                todo.append(item)
                continue
            report.present += 1
            if existing.sha256 != (item.file.sha256 or existing.sha256):
                report.errors.append(
                    f"{item.file.filename}: upstream now serves other content ({item.file.sha256}) than the mirrored "
                    f"file ({existing.sha256}); the mirror keeps its copy. Investigate the upstream"
                )
        report.yanks_updated = self.farm.catalog.set_yanks(self._yank_changes(projects, stored))
        progress.start(len(todo))

        def done(result: Done[PlannedFile]) -> None:
            if result.error is not None:
                report.errors.append(str(result.error))
            elif result.outcome == "downloaded":
                report.downloaded += 1
                report.bytes_downloaded += result.size
            elif result.outcome == "reused":
                report.reused += 1
            progress.advance(result.item.file.filename, result.outcome)

        report.batches = ingest_in_batches(
            todo, self._stage, self.farm.catalog, done, concurrency=concurrency, limits=self.batch_limits
        )
        changed = self._keep_lock_metadata(planned, lock_plan, report)
        self.farm.publisher.refresh_stale()
        if changed:
            self.farm.locks.refresh(changed)
        return report

    def lock_plan(self, planned: Sequence[PlannedFile]) -> LockPlan:
        """What the trusted lock adds to ``planned`` or refuses in it (nothing without a trusted lock)."""
        if self.trusted_lock is None:
            return LockPlan()
        selected = {p.file.filename: p.file for p in planned}
        where = f"the upstream index {self.upstream.base_url}"
        return plan_lock_depends(self.trusted_lock, selected, self.source, where)

    def _keep_lock_metadata(
        self, planned: Sequence[PlannedFile], lock_plan: LockPlan, report: MirrorReport
    ) -> list[str]:
        """Fetch the trusted lock's shared libraries that the wheels need and record the lock's entries of what the
        catalog now holds for every runtime the lock describes (one not installed yet finds them when it is); the
        installed runtimes whose record changed."""
        lock = self.trusted_lock
        if lock is None:
            return []
        entries = []
        for name, library in sorted(lock_plan.libraries.items()):
            try:
                prefetch(
                    self.upstream,
                    self.farm.blobs,
                    lock.location(library),
                    self.farm.settings.max_upload_bytes,
                    listed_by=f"the trusted lock {lock.url}",
                )
            except FarmError as exc:
                report.errors.append(f"{name} (shared library of the trusted lock {lock.url}): {exc}")
                continue
            entries.append(library)
            report.libraries += 1
        described = {p.file.filename: e for p in planned if (e := lock.for_file(p.file.filename)) is not None}
        stored = self.farm.catalog.stored_files(filenames=described)
        entries += [
            e for f, e in sorted(described.items()) if f in stored and stored[f].sha256 == e["sha256"]
        ]
        report.lock_entries = len(entries) - report.libraries
        if not entries:
            return []
        with self.farm.locks.render_lock.held():  # one writer of the record at a time, across processes
            changed = [
                version
                for version in lock.runtimes
                if record_index_entries(self.farm.runtimes.meta, version, lock.url, lock.sha256, entries)
            ]
        return [version for version in changed if self.farm.runtimes.is_installed(version)]

    def _stage(self, item: PlannedFile) -> Staged:
        """Download (unless its blob is here already), verify and validate a file; its row is recorded in a batch."""
        file = item.file
        if not file.sha256:
            raise UpstreamIntegrityError(
                f"{file.url}: the upstream index gives no sha256 for this file, so it cannot be verified; not mirrored"
            )
        provenance = Provenance(
            Origin.MIRRORED.value, file.url, file.yanked, file.yanked_reason, file.upload_time
        )
        if self.farm.blobs.has(file.sha256):
            return Staged(self.farm.ingestor.stage_blob(file.sha256, file.filename, provenance), "reused", 0)
        with self.farm.blobs.writer() as writer:
            self.upstream.download(file, writer)
            new = self.farm.ingestor.stage(
                writer, file.filename, provenance, expected_sha256=file.sha256, source=file.url
            )
            return Staged(new, "downloaded", writer.size)

    def _yank_changes(self, projects: Iterable[str], stored: Mapping[str, StoredFile]) -> list[YankChange]:
        """Upstream yanks (and un-yanks) of every file of the touched projects that the mirror has and holds in
        another state (compared in memory; the pages were fetched for planning already)."""
        changes: list[YankChange] = []
        seen: set[str] = set()  # a file listed twice: its first listing counts
        for project in sorted(projects):
            page = self.upstream.project(project)
            for file in page.files if page else ():
                mine = stored.get(file.filename)
                if mine is None or mine.yank_local or file.filename in seen:  # a yank made here wins
                    continue
                seen.add(file.filename)
                reason = file.yanked_reason or None
                if mine.yanked != file.yanked or (mine.yanked_reason or None) != reason:
                    changes.append(YankChange(file.filename, file.yanked, reason))
        return changes
