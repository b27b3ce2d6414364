"""``wasmfarm mirror``: select what runs on the configured runtimes, download it, verify it, publish it.

Incremental and resumable: a file already in the catalog is not downloaded again (its yank state is still carried),
and a file whose blob survived an interrupted run is published without a download.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName

from farm.context import Farm
from farm.dist.filename import parse_dist_filename
from farm.dist.metadata import parse_core_metadata
from farm.dist.wheel import read_core_metadata
from farm.errors import FarmError, InvalidDistribution, NotFound, UpstreamIntegrityError
from farm.mirror.resolver import allowed_versions, installable_versions, resolve
from farm.mirror.upstream import UpstreamFile, UpstreamIndex, iter_requirement_lines
from farm.runtime.target import RuntimeTarget
from farm.store.ingest import verify_sha256
from farm.store.models import Origin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedFile:
    project: NormalizedName
    file: UpstreamFile


@dataclass
class MirrorReport:
    planned: int = 0
    downloaded: int = 0
    reused: int = 0  # published from a blob left by an interrupted run
    present: int = 0
    yanks_updated: int = 0
    bytes_downloaded: int = 0
    errors: list[str] = field(default_factory=list)


class Progress:
    """What the mirror tells its caller as it goes; the CLI renders it."""

    def start(self, total: int) -> None: ...

    def advance(self, filename: str, outcome: str) -> None: ...

    def message(self, text: str) -> None: ...


def parse_requirements(lines: Sequence[tuple[str, int, str]]) -> list[Requirement]:
    """Requirements from (source, line number, text) triples; every bad line is reported at once."""
    requirements, problems = [], []
    for source, lineno, text in lines:
        if text.startswith("-"):
            problems.append(
                f"{source}:{lineno}: option {text.split()[0]!r} is not supported; list requirements only"
            )
            continue
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as exc:
            problems.append(f"{source}:{lineno}: {text!r} is not a PEP 508 requirement ({exc})")
    if problems:
        raise InvalidDistribution("invalid requirements:\n  " + "\n  ".join(problems))
    return requirements


def read_requirements_file(path: str) -> list[tuple[str, int, str]]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise NotFound(f"cannot read requirements file {path!r}: {exc.strerror}") from exc
    return [(path, lineno, line) for lineno, line in iter_requirement_lines(text)]


class Mirror:
    def __init__(self, farm: Farm, upstream: UpstreamIndex, targets: Sequence[RuntimeTarget]) -> None:
        self.farm = farm
        self.upstream = upstream
        self.targets = list(targets)

    # Selection ----------------------------------------------------------------------------------------------

    def plan_closure(self, requirements: Sequence[Requirement]) -> list[PlannedFile]:
        """Every file of the resolved closure, per runtime (the union over runtimes)."""
        planned: dict[str, PlannedFile] = {}
        for target in self.targets:
            for candidate in resolve(requirements, self.upstream, target, self.requires_dist):
                for file in candidate.files:
                    planned.setdefault(file.filename, PlannedFile(candidate.name, file))
        return list(planned.values())

    def plan_projects(self, requirements: Sequence[Requirement], all_versions: bool) -> list[PlannedFile]:
        """Files of the named projects that run on a configured runtime: the newest such version, or all."""
        planned: dict[str, PlannedFile] = {}
        missing = []
        for requirement in requirements:
            project = self.upstream.project(requirement.name)
            if project is None:
                missing.append(requirement.name)
                continue
            for target in self.targets:
                environment = {**target.marker_environment, "extra": ""}
                if requirement.marker is not None and not requirement.marker.evaluate(environment):
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
        if missing:
            raise NotFound(f"the upstream index {self.upstream.base_url} has no project {', '.join(missing)}")
        return list(planned.values())

    def requires_dist(self, file: UpstreamFile) -> list[str]:
        """A wheel's Requires-Dist: from its PEP 714 metadata file, else from the wheel (which is then kept)."""
        dist = parse_dist_filename(file.filename)
        raw = self.upstream.metadata(file)
        if raw is not None:
            if file.metadata_sha256 and hashlib.sha256(raw).hexdigest() != file.metadata_sha256:
                raise UpstreamIntegrityError(
                    f"{file.url}.metadata: sha256 differs from the index's; not trusted"
                )
            return list(parse_core_metadata(raw, dist).requires_dist)
        sha256 = self._prefetch(file)
        # Only its Requires-Dist is needed here; RECORD is checked when the file is ingested.
        path = self.farm.blobs.path_for(sha256)
        return list(
            read_core_metadata(path, dist, self.farm.ingestor.limits, check_record=False).requires_dist
        )

    def _prefetch(self, file: UpstreamFile) -> str:
        """Download and verify a file into the blob store without publishing it."""
        if file.sha256 and self.farm.blobs.has(file.sha256):
            return file.sha256
        with self.farm.blobs.writer() as writer:
            self.upstream.download(file, writer)
            writer.finish()
            if file.sha256:
                verify_sha256(writer.sha256, file.sha256, file.url)
            return writer.commit()

    # Fetching -----------------------------------------------------------------------------------------------

    def run(self, planned: Sequence[PlannedFile], progress: Progress, concurrency: int = 4) -> MirrorReport:
        report = MirrorReport(planned=len(planned))
        self.farm.blobs.sweep_temporaries()
        todo = []
        for item in planned:
            existing = self.farm.catalog.file(item.file.filename)
            if existing is None:
                todo.append(item)
                continue
            report.present += 1
            if existing.sha256 != (item.file.sha256 or existing.sha256):
                report.errors.append(
                    f"{item.file.filename}: upstream now serves other content ({item.file.sha256}) than the mirrored "
                    f"file ({existing.sha256}); the mirror keeps its copy. Investigate the upstream"
                )
        self._carry_yanks(planned, report)
        progress.start(len(todo))
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = {pool.submit(self._fetch, item): item for item in todo}
            for future in as_completed(futures):
                item = futures[future]
                try:
                    outcome, size = future.result()
                except FarmError as exc:
                    report.errors.append(str(exc))
                    outcome, size = "failed", 0
                if outcome == "downloaded":
                    report.downloaded += 1
                    report.bytes_downloaded += size
                elif outcome == "reused":
                    report.reused += 1
                progress.advance(item.file.filename, outcome)
        self.farm.publisher.refresh_stale()
        return report

    def _fetch(self, item: PlannedFile) -> tuple[str, int]:
        file = item.file
        if not file.sha256:
            raise UpstreamIntegrityError(
                f"{file.url}: the upstream index gives no sha256 for this file, so it cannot be verified; not mirrored"
            )
        if self.farm.blobs.has(file.sha256):
            self.farm.ingestor.ingest_blob(
                file.sha256,
                file.filename,
                Origin.MIRRORED.value,
                upstream_url=file.url,
                yanked=file.yanked,
                yanked_reason=file.yanked_reason,
                upload_time=file.upload_time,
            )
            return "reused", 0
        with self.farm.blobs.writer() as writer:
            self.upstream.download(file, writer)
            self.farm.ingestor.ingest(
                writer,
                file.filename,
                Origin.MIRRORED.value,
                expected_sha256=file.sha256,
                source=file.url,
                upstream_url=file.url,
                yanked=file.yanked,
                yanked_reason=file.yanked_reason,
                upload_time=file.upload_time,
            )
            return "downloaded", writer.size

    def _carry_yanks(self, planned: Sequence[PlannedFile], report: MirrorReport) -> None:
        """Upstream yanks (and un-yanks) of every file of the touched projects that the mirror has."""
        seen: set[str] = set()
        for project in {p.project for p in planned}:
            page = self.upstream.project(project)
            for file in page.files if page else ():
                if file.filename in seen or self.farm.catalog.file(file.filename) is None:
                    continue
                seen.add(file.filename)
                if self.farm.catalog.set_yanked(file.filename, file.yanked, file.yanked_reason):
                    report.yanks_updated += 1
