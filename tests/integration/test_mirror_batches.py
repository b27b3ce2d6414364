"""Issue 16: a mirror run records its catalog rows in batches, and a re-mirror asks the database per project.

Against the real loopback upstream (``tests.support.upstream``) with real wheels, on SQLite and PostgreSQL; the
statements and commits are counted with SQLAlchemy's engine events.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from sqlalchemy import event

from farm.context import Farm
from farm.mirror.batches import DEFAULT_LIMITS, BatchLimits
from farm.mirror.mirror import Mirror, MirrorReport, Progress
from farm.mirror.upstream import UpstreamIndex
from farm.store.models import Origin
from tests.support.hostile import wheel_with_lying_record
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

PROJECTS = 6


@dataclass
class Traffic:
    """What the engine was sent: every statement, and the size (in statements) of each committed transaction that
    inserted catalog rows."""

    statements: list[str] = field(default_factory=list)
    row_transactions: list[int] = field(default_factory=list)
    # Connection -> the statements of its transaction so far.
    open: dict[int, list[str]] = field(default_factory=dict)

    def writes(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


@contextmanager
def traffic(farm: Farm) -> Iterator[Traffic]:
    seen = Traffic()

    def begin(conn: object) -> None:
        seen.open[id(conn)] = []

    def statement(conn: object, _cursor: object, text: str, *_args: object) -> None:
        seen.statements.append(text)
        seen.open.setdefault(id(conn), []).append(text)

    def commit(conn: object) -> None:
        sent = seen.open.pop(id(conn), [])
        if any(s.lstrip().upper().startswith("INSERT INTO DIST_FILE") for s in sent):
            seen.row_transactions.append(len(sent))

    listeners = [("begin", begin), ("before_cursor_execute", statement), ("commit", commit)]
    for name, listener in listeners:
        event.listen(farm.engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners:
            event.remove(farm.engine, name, listener)


def run_mirror(
    farm: Farm,
    upstream: UpstreamServer,
    names: list[str],
    limits: BatchLimits = DEFAULT_LIMITS,
    *,
    named: bool = False,
) -> MirrorReport:
    """Every version of ``names`` (or, ``named``, each one's newest with its closure, as `wasmfarm mirror` does)."""
    index = UpstreamIndex(upstream.url)
    try:
        job = Mirror(farm, index, farm.settings.targets, batch_limits=limits)
        requirements = [Requirement(n) for n in names]
        planned = (
            job.plan_named(requirements) if named else job.plan_projects(requirements, all_versions=True)
        )
        return job.run(planned, Progress())
    finally:
        index.close()


def stored(farm: Farm) -> dict[str, str]:
    return {
        row.filename: row.origin
        for p in farm.catalog.all_projects()
        for row in farm.catalog.project_files(p.id or 0)
    }


def versions(root: Path, project: str, count: int, start: int = 1) -> set[str]:
    return {make_wheel(root, project, f"{v}.0").name for v in range(start, start + count)}


@pytest.mark.parametrize("files", [1, 10, 25])
def test_a_mirror_of_m_files_commits_about_m_over_n_batches(tmp_path: Path, farm: Farm, files: int) -> None:
    """60 files in batches of N: ceil(60/N) transactions wrote rows (N=1: one per file, as before issue 16), each of a
    few statements whatever N; every file is in the catalog, in the blob store and on its project's page."""
    root = tmp_path / "upstream"
    wanted = set().union(*(versions(root, f"batched{p}", 10) for p in range(PROJECTS)))
    with UpstreamServer(root) as server, traffic(farm) as seen:
        # Long enough that only the count, and the end of the downloads, closes a batch.
        report = run_mirror(farm, server, [f"batched{p}" for p in range(PROJECTS)], BatchLimits(files, 30.0))
    assert (report.downloaded, report.errors) == (60, [])
    assert set(stored(farm)) == wanted
    assert len(seen.row_transactions) == report.batches
    assert report.batches == math.ceil(60 / files)  # full ones, and what was left when the downloads ended
    # Each: its projects looked up, those new inserted and looked up, its rows inserted, the serials bumped.
    assert max(seen.row_transactions) <= 5, seen.row_transactions
    for name in wanted:
        row = farm.catalog.file(name)
        assert row is not None and farm.blobs.path_for(row.sha256).stat().st_size == row.size
    page = (farm.settings.www_dir / "simple" / "batched0" / "index.html").read_text()
    assert all(f"batched0-{v}.0-py3-none-any.whl" in page for v in range(1, 11))


def test_a_batch_closes_after_its_time_when_files_come_slowly(tmp_path: Path, farm: Farm) -> None:
    """One download at a time, each slower than the batch's time: every file is recorded on its own, soon after it
    arrives, not when the run ends."""
    root = tmp_path / "upstream"
    versions(root, "slow", 3)
    with UpstreamServer(root) as server:
        server.state.delay = 0.3
        index = UpstreamIndex(server.url)
        try:
            job = Mirror(farm, index, farm.settings.targets, batch_limits=BatchLimits(100, 0.05))
            report = job.run(
                job.plan_projects([Requirement("slow")], all_versions=True), Progress(), concurrency=1
            )
        finally:
            index.close()
    assert (report.downloaded, report.batches, report.errors) == (3, 3, [])


def test_bad_files_in_a_batch_are_reported_and_the_others_land(tmp_path: Path, farm: Farm) -> None:
    root = tmp_path / "upstream"
    good = versions(root, "fine", 12)
    lying = wheel_with_lying_record(root, "hash")  # demo-1.0: its RECORD does not match its content
    wrong = make_wheel(root, "fine", "99.0")
    with UpstreamServer(root) as server:
        server.state.wrong_hash.add(wrong.name)
        report = run_mirror(farm, server, ["fine", "demo"], BatchLimits(100, 30.0))
    assert report.downloaded == 12 and report.batches == 1
    assert len(report.errors) == 2, report.errors
    [mismatch] = [e for e in report.errors if wrong.name in e]
    assert "sha256 mismatch" in mismatch
    [record] = [e for e in report.errors if lying.name in e]
    assert "RECORD" in record
    assert set(stored(farm)) == good
    assert not farm.blobs.has(_sha256(wrong)) and not farm.blobs.has(
        _sha256(lying)
    )  # refused files leave nothing


def test_a_row_another_writer_took_mid_batch_fails_alone(tmp_path: Path, farm: Farm) -> None:
    """Another writer uploads one of the batch's names (other content) after the batch looked for taken names and
    before it inserts: the transaction is refused; recorded file by file, that one file is a conflict (the upload
    stays) and the others land."""
    root = tmp_path / "upstream"
    versions(root, "raced", 1)
    elsewhere = tmp_path / "uploads"
    with UpstreamServer(root) as server:
        assert (
            run_mirror(farm, server, ["raced"]).downloaded == 1
        )  # the project exists: the batch's first write
        later = versions(root, "raced", 8, start=2)  # is its rows' insert
        upload = make_wheel(elsewhere, "raced", "5.0", module_source='VALUE = "uploaded"\n')
        fired: list[str] = []

        def upload_meanwhile(_conn: object, _cursor: object, text: str, *_args: object) -> None:
            if not fired and text.lstrip().upper().startswith("INSERT INTO DIST_FILE"):
                fired.append(text)
                with farm.blobs.writer() as writer:
                    writer.write(upload.read_bytes())
                    farm.ingestor.ingest(writer, upload.name, Origin.UPLOADED.value)

        event.listen(farm.engine, "before_cursor_execute", upload_meanwhile)
        try:
            report = run_mirror(farm, server, ["raced"], BatchLimits(100, 30.0))
        finally:
            event.remove(farm.engine, "before_cursor_execute", upload_meanwhile)
    assert fired
    assert report.present == 1 and report.downloaded == 7
    [conflict] = report.errors
    assert upload.name in conflict and "exists already" in conflict
    catalog = stored(farm)
    assert set(catalog) == later | {"raced-1.0-py3-none-any.whl"}
    assert catalog[upload.name] == Origin.UPLOADED.value
    row = farm.catalog.file(upload.name)
    assert row is not None and row.sha256 == _sha256(upload)


class Crash(BaseException):
    """The process dying mid-transaction (not an error the mirror handles)."""


def test_a_crash_mid_batch_leaves_nothing_half_done_and_a_re_run_completes(
    tmp_path: Path, farm: Farm
) -> None:
    root = tmp_path / "upstream"
    wanted = versions(root, "crashy", 9)

    def die(_conn: object, _cursor: object, text: str, *_args: object) -> None:
        if text.lstrip().upper().startswith("INSERT INTO DIST_FILE"):
            raise Crash

    with UpstreamServer(root) as server:
        event.listen(farm.engine, "before_cursor_execute", die)
        try:
            with pytest.raises(Crash):
                run_mirror(farm, server, ["crashy"], BatchLimits(100, 30.0))
        finally:
            event.remove(farm.engine, "before_cursor_execute", die)
        assert stored(farm) == {}  # the batch's transaction never committed: no row, no page
        assert not (farm.settings.www_dir / "simple" / "crashy").exists()
        downloads = len(server.state.file_requests())
        assert downloads == 9

        again = run_mirror(farm, server, ["crashy"])
        assert (again.downloaded, again.reused, again.errors) == (
            0,
            9,
            [],
        )  # the staged blobs, published as they are
        assert len(server.state.file_requests()) == downloads
    assert set(stored(farm)) == wanted
    assert (farm.settings.www_dir / "simple" / "crashy" / "index.html").is_file()


@pytest.mark.parametrize("plan", ["all versions", "named, with its closure"])
def test_a_no_op_re_mirror_asks_the_database_as_often_whatever_the_files_per_project(
    tmp_path: Path, farm: Farm, plan: str
) -> None:
    """The statements of a re-mirror with nothing new: the same for a project of 2 stored files and one of 40, none
    of them a write."""
    root = tmp_path / "upstream"
    sizes = {"few": 2, "many": 40}
    for project, count in sizes.items():
        versions(root, project, count)
    mirror: Callable[[list[str]], MirrorReport]
    with UpstreamServer(root) as server:

        def mirror(names: list[str]) -> MirrorReport:
            return run_mirror(farm, server, names, named=plan != "all versions")

        for project in sizes:
            assert mirror([project]).errors == []
        counts = {}
        for project, count in sizes.items():
            with traffic(farm) as seen:
                again = mirror([project])
            assert (again.downloaded, again.reused, again.errors) == (0, 0, [])
            assert again.present == (count if plan == "all versions" else 1)
            assert seen.writes() == [] and seen.row_transactions == []
            counts[count] = len(seen.statements)
    assert counts[2] == counts[40] <= 3, counts


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
