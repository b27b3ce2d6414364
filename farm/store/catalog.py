"""The catalog: projects and their files in the database. The database is the source of truth."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from sqlalchemy import Engine, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from farm.errors import FileConflict, NotFound
from farm.store.models import DistFile, Project, utcnow

CHUNK = 500  # names bound in one IN (...): far below SQLite's and PostgreSQL's limits on parameters


@dataclass(frozen=True)
class NewFile:
    """Everything the catalog records about a file being added (the blob is in the store already)."""

    project: NormalizedName
    display_name: str
    filename: str
    version: str
    kind: str
    tags: str
    sha256: str
    size: int
    origin: str
    requires_python: str | None = None
    core_metadata: str | None = None
    metadata_sha256: str | None = None
    upstream_url: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    import_names: str | None = None
    upload_time: datetime | None = None  # upstream's (PEP 700) for mirrored files; None: now


@dataclass(frozen=True)
class StoredFile:
    """What a re-mirror compares upstream's listing against: a stored file's content hash and yank state."""

    sha256: str
    yanked: bool
    yanked_reason: str | None
    yank_local: bool = False  # yanked here (`wasmfarm yank`): upstream's state is not carried over it


@dataclass(frozen=True)
class YankChange:
    filename: str
    yanked: bool
    reason: str | None


def _chunks(items: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(items))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # Reading -------------------------------------------------------------------------------------------------

    def file(self, filename: str) -> DistFile | None:
        with self.session() as session:
            return session.exec(select(DistFile).where(DistFile.filename == filename)).first()

    def published_wheel(self, filename: str) -> DistFile | None:
        """The published wheel called ``filename`` (None: no such file, not a wheel, or its project quarantined)."""
        with self.session() as session:
            return session.exec(
                select(DistFile)
                .join(Project, col(DistFile.project_id) == col(Project.id))
                .where(
                    DistFile.filename == filename, DistFile.kind == "wheel", col(Project.quarantine).is_(None)
                )
            ).first()

    def stored_files(
        self, projects: Iterable[str] = (), filenames: Iterable[str] = ()
    ) -> dict[str, StoredFile]:
        """Filename -> content hash and yank state of every file of ``projects`` (normalised names) and of the
        files named ``filenames``: one query per 500 names, whatever the number of files."""
        clauses = [(col(Project.name), chunk) for chunk in _chunks(projects)]
        clauses += [(col(DistFile.filename), chunk) for chunk in _chunks(filenames)]
        found: dict[str, StoredFile] = {}
        with self.session() as session:
            for column, chunk in clauses:
                # Five columns in one query: sqlmodel's select is typed for at most four, it takes any number.
                query = select(  # type: ignore[call-overload]
                    DistFile.filename,
                    DistFile.sha256,
                    DistFile.yanked,
                    DistFile.yanked_reason,
                    DistFile.yank_local,
                )
                rows = session.exec(
                    query.join(Project, col(DistFile.project_id) == col(Project.id)).where(column.in_(chunk))
                )
                for filename, sha256, yanked, reason, local in rows:
                    found[filename] = StoredFile(sha256, yanked, reason, bool(local))
        return found

    def project(self, name: str) -> Project:
        normalized = canonicalize_name(name)
        with self.session() as session:
            project = session.exec(select(Project).where(Project.name == normalized)).first()
        if project is None:
            raise NotFound(f"project {name!r} is not on this index")
        return project

    def project_files(self, project_id: int) -> list[DistFile]:
        with self.session() as session:
            rows = session.exec(
                select(DistFile).where(DistFile.project_id == project_id).order_by(col(DistFile.filename))
            )
            return list(rows)

    def wheels(self) -> list[DistFile]:
        """Every published wheel (none of a quarantined project)."""
        with self.session() as session:
            rows = session.exec(
                select(DistFile)
                .join(Project, col(DistFile.project_id) == col(Project.id))
                .where(DistFile.kind == "wheel", col(Project.quarantine).is_(None))
            )
            return list(rows)

    def wheels_of(self, name: str) -> list[DistFile]:
        """A project's published wheels (none if it is quarantined or unknown); ``name`` normalised."""
        with self.session() as session:
            rows = session.exec(
                select(DistFile)
                .join(Project, col(DistFile.project_id) == col(Project.id))
                .where(Project.name == name, DistFile.kind == "wheel", col(Project.quarantine).is_(None))
            )
            return list(rows)

    def wheels_of_projects(self, names: Iterable[str]) -> list[DistFile]:
        """The published wheels of the projects ``names`` (normalised; unknown and quarantined ones have none)."""
        found: list[DistFile] = []
        with self.session() as session:
            for chunk in _chunks(names):
                found += session.exec(
                    select(DistFile)
                    .join(Project, col(DistFile.project_id) == col(Project.id))
                    .where(
                        col(Project.name).in_(chunk),
                        DistFile.kind == "wheel",
                        col(Project.quarantine).is_(None),
                    )
                )
        return found

    def projects_with_origins(self, origins: Iterable[str]) -> list[str]:
        """Names of the projects with a wheel of one of ``origins`` (index ``ix_dist_file_origin``: what the farm
        built, uploads, a Pyodide distribution are few beside what is mirrored, and only they are read)."""
        with self.session() as session:
            rows = session.exec(
                select(Project.name)
                .join(DistFile, col(DistFile.project_id) == col(Project.id))
                .where(col(DistFile.origin).in_(list(origins)), DistFile.kind == "wheel")
                .distinct()
            )
            return list(rows)

    def change_marker(self) -> tuple[int, int, int]:
        """Changes whenever a file is added, yanked or deleted, or a project quarantined or released: (projects, sum
        of their serials, quarantined ones), one aggregate query."""
        with self.session() as session:
            count, serials, quarantined = session.exec(
                select(
                    func.count(col(Project.id)),
                    func.coalesce(func.sum(Project.serial), 0),
                    func.count(col(Project.quarantine)),
                )
            ).one()
        return int(count), int(serials), int(quarantined)

    def project_names(self) -> list[str]:
        with self.session() as session:
            return list(session.exec(select(Project.name).order_by(col(Project.name))))

    def projects_named(self, names: Iterable[str]) -> list[Project]:
        found: list[Project] = []
        with self.session() as session:
            for chunk in _chunks(names):  # a database takes so many bound values in one statement
                found.extend(
                    session.exec(
                        select(Project).where(col(Project.name).in_(chunk), col(Project.quarantine).is_(None))
                    )
                )
        return found

    def stale_projects(self) -> list[Project]:
        with self.session() as session:
            rows = session.exec(
                select(Project).where(
                    Project.serial != Project.rendered_serial, col(Project.quarantine).is_(None)
                )
            )
            return list(rows)

    def quarantined(self) -> list[Project]:
        with self.session() as session:
            return list(session.exec(select(Project).where(col(Project.quarantine).is_not(None))))

    def all_projects(self) -> list[Project]:
        with self.session() as session:
            return list(session.exec(select(Project).order_by(col(Project.name))))

    # Writing -------------------------------------------------------------------------------------------------

    def add_file(self, new: NewFile) -> tuple[DistFile, bool]:
        """Record a file. Returns (row, created). Same name and content again: (existing row, False).

        Same name with other content: FileConflict, since a published file never changes.
        """
        for _attempt in range(5):
            existing = self.file(new.filename)
            if existing is not None:
                return self._same_or_conflict(existing, new), False
            twin = self.twin(new)
            if twin is not None:
                raise FileConflict(
                    f"{new.filename!r} is {twin.filename!r} under another name (the same project, version "
                    f"{twin.version} == {new.version} by PEP 440, the same tags and build number): an index serves one "
                    "file per distribution; send it under the stored name, or release a new version"
                )
            try:
                return self._insert(new), True
            except IntegrityError:
                # Another writer added this filename, or created this project, between our check and our insert:
                # look again (the project exists now; the file may too).
                continue
        raise FileConflict(f"{new.filename!r}: concurrent writers kept colliding; try again")

    def add_files(self, news: Sequence[NewFile]) -> None:
        """Record several new files in one transaction (all or none), each project's serial bumped once: a few
        statements whatever the number of files (the projects looked up at once, the rows inserted together). A name
        that exists already refuses them all (``FileConflict``): the caller filters those out first."""
        if not news:
            return
        try:
            with self.session() as session:
                projects = self._projects_for_update(session, {new.project: new.display_name for new in news})
                # Core's executemany: the ORM would insert one row at a time to learn each id (SQLite).
                session.execute(insert(DistFile), [_row_values(new, projects[new.project]) for new in news])
                session.execute(
                    update(Project)
                    .where(col(Project.id).in_(sorted(projects.values())))
                    .values(serial=Project.serial + 1)
                )
                session.commit()
        except IntegrityError as exc:
            raise FileConflict(
                f"{news[0].filename!r} and the files added with it: another writer added one of them meanwhile; "
                "nothing was recorded, try again"
            ) from exc

    def files_named(self, filenames: Iterable[str]) -> list[DistFile]:
        found: list[DistFile] = []
        with self.session() as session:
            for chunk in _chunks(filenames):
                found.extend(session.exec(select(DistFile).where(col(DistFile.filename).in_(chunk))))
        return found

    def _insert(self, new: NewFile) -> DistFile:
        with self.session() as session:
            project = self._project_for_update(session, new.project, new.display_name)
            assert project.id is not None
            row = _row(new, project.id)
            session.add(row)
            session.flush()
            self._bump_serial(session, project.id)
            session.commit()
            return row

    @staticmethod
    def _bump_serial(session: Session, project_id: int) -> None:
        """Atomically, in SQL: concurrent writers must never lose an increment, or a page would not re-render."""
        session.execute(
            update(Project).where(col(Project.id) == project_id).values(serial=Project.serial + 1)
        )

    def twin(self, new: NewFile) -> DistFile | None:
        """A stored file that is ``new``'s distribution under another name: its project, kind and tags, its build
        number, and its version by PEP 440 (``HX-1.0-…`` and ``hx-1.0.0-…`` are one wheel; PyPI refuses the second
        name too)."""
        identity = _identity(new.filename)
        if identity is None:
            return None
        with self.session() as session:
            rows = session.exec(
                select(DistFile)
                .join(Project, col(DistFile.project_id) == col(Project.id))
                .where(
                    Project.name == new.project,
                    DistFile.kind == new.kind,
                    DistFile.tags == new.tags,
                    DistFile.filename != new.filename,
                )
            ).all()
        return next((row for row in rows if _identity(row.filename) == identity), None)

    @staticmethod
    def _same_or_conflict(existing: DistFile, new: NewFile) -> DistFile:
        if existing.sha256 != new.sha256:
            raise FileConflict(
                f"{new.filename!r} exists already with sha256 {existing.sha256} (new content has {new.sha256}); "
                "published files never change: release a new version or a new build number instead"
            )
        return existing

    @staticmethod
    def _project_for_update(session: Session, name: NormalizedName, display_name: str) -> Project:
        project = session.exec(select(Project).where(Project.name == name)).first()
        if project is None:
            project = Project(name=name, display_name=display_name)
            session.add(project)
            session.flush()
        return project

    @staticmethod
    def _projects_for_update(session: Session, names: dict[NormalizedName, str]) -> dict[str, int]:
        """Name -> id of the projects ``names`` (name -> display name), those missing created: one query for the
        ones that exist, one insert of the rest and one query for their ids (per 500 names)."""
        ids: dict[str, int] = {}
        for chunk in _chunks(names):
            for project_id, name in session.exec(
                select(Project.id, Project.name).where(col(Project.name).in_(chunk))
            ):
                assert project_id is not None
                ids[name] = project_id
        missing = [name for name in sorted(names) if name not in ids]
        if missing:
            session.execute(
                insert(Project),
                [{"name": name, "display_name": names[name], "created_at": utcnow()} for name in missing],
            )
            for chunk in _chunks(missing):
                for project_id, name in session.exec(
                    select(Project.id, Project.name).where(col(Project.name).in_(chunk))
                ):
                    assert project_id is not None
                    ids[name] = project_id
        return ids

    def set_yanked(self, filename: str, yanked: bool, reason: str | None, *, local: bool = False) -> bool:
        """Carry a yank (or un-yank); returns True when something changed.

        The mirror carries upstream's state (``local=False``), except over a yank made here (``local=True``: `wasmfarm
        yank`, POST .../yank), which it leaves alone; a local un-yank hands the file back to the mirror's care."""
        return bool(self.set_yanked_many([filename], yanked, reason, local=local))

    def set_yanked_many(
        self, filenames: Sequence[str], yanked: bool, reason: str | None, *, local: bool = False
    ) -> list[DistFile]:
        """Yank or un-yank several files in one transaction; the rows that changed."""
        reason = (reason or None) if yanked else None
        changed: list[DistFile] = []
        with self.session() as session:
            rows = {
                row.filename: row
                for row in session.exec(select(DistFile).where(col(DistFile.filename).in_(list(filenames))))
            }
            for filename in filenames:
                row = rows.get(filename)
                if row is None:
                    raise NotFound(f"file {filename!r} is not on this index")
                if not local and row.yank_local:
                    continue
                same = row.yanked == yanked and (row.yanked_reason or None) == reason
                if same and row.yank_local == (local and yanked):
                    continue
                row.yanked, row.yanked_reason, row.yank_local = yanked, reason, local and yanked
                session.add(row)
                changed.append(row)
            for project_id in {row.project_id for row in changed}:
                self._bump_serial(session, project_id)
            session.commit()
        return changed

    def release_files(self, project: str, version: Version) -> list[DistFile]:
        """Every file of one release (version compared as PEP 440 versions: 1.0 is 1.0.0)."""
        row = self.project(project)
        assert row.id is not None
        return [f for f in self.project_files(row.id) if _same_version(f.version, version)]

    def delete_files(self, filenames: Sequence[str]) -> list[DistFile]:
        """Remove files from the catalog in one transaction (their blobs are the caller's to remove after)."""
        with self.session() as session:
            rows = list(session.exec(select(DistFile).where(col(DistFile.filename).in_(list(filenames)))))
            missing = set(filenames) - {row.filename for row in rows}
            if missing:
                raise NotFound(f"file {sorted(missing)[0]!r} is not on this index")
            for row in rows:
                session.delete(row)
            session.flush()
            for project_id in {row.project_id for row in rows}:
                self._bump_serial(session, project_id)
            session.commit()
        return rows

    def sha256_listed(self, sha256: str) -> bool:
        """Whether some catalog row still stores this content (a blob may back files of two names)."""
        with self.session() as session:
            return (
                session.exec(select(DistFile.id).where(DistFile.sha256 == sha256).limit(1)).first()
                is not None
            )

    def set_yanks(self, changes: Sequence[YankChange]) -> int:
        """Carry several yanks (and un-yanks) in one transaction, each project's serial bumped once; returns how many
        files changed (a file not on this index, already so, or yanked here (``yank_local``) is left alone)."""
        wanted = {change.filename: change for change in changes}
        if not wanted:
            return 0
        changed = 0
        projects: set[int] = set()
        with self.session() as session:
            for chunk in _chunks(wanted):
                for row in session.exec(select(DistFile).where(col(DistFile.filename).in_(chunk))):
                    change = wanted[row.filename]
                    reason = change.reason or None
                    if row.yank_local or (
                        row.yanked == change.yanked and (row.yanked_reason or None) == reason
                    ):
                        continue
                    row.yanked, row.yanked_reason = change.yanked, reason
                    session.add(row)
                    projects.add(row.project_id)
                    changed += 1
            for project_id in sorted(projects):
                self._bump_serial(session, project_id)
            session.commit()
        return changed

    def quarantine(self, project_id: int, reason: str) -> None:
        """Keep a project out of every page and lock, with the reason (it stays in the database for an operator)."""
        with self.session() as session:
            project = session.get(Project, project_id)
            if project is not None:
                project.quarantine = reason
                session.add(project)
                session.commit()

    def release(self, project_id: int) -> None:
        """Take a project out of quarantine and mark it for rendering (where it is checked again)."""
        with self.session() as session:
            project = session.get(Project, project_id)
            if project is None or project.quarantine is None:
                raise NotFound(
                    f"no quarantined project with id {project_id}; `wasmfarm quarantine list` shows them"
                )
            project.quarantine = None
            project.rendered_serial = -1
            session.add(project)
            session.commit()

    def mark_rendered(self, project_ids_serials: Iterable[tuple[int, int]]) -> None:
        """Record the serial each project's pages were rendered from (one UPDATE run for all of them)."""
        values = [{"id": project_id, "rendered_serial": serial} for project_id, serial in project_ids_serials]
        if not values:
            return
        with self.session() as session:
            session.execute(update(Project), values)  # by primary key, as one executemany
            session.commit()

    def mark_all_stale(self) -> None:
        with self.session() as session:
            session.execute(update(Project).values(rendered_serial=-1))
            session.commit()

    def files_of(self, names: Sequence[str]) -> dict[str, list[DistFile]]:
        result: dict[str, list[DistFile]] = {name: [] for name in names}
        with self.session() as session:
            for chunk in _chunks(names):
                rows = session.exec(
                    select(Project.name, DistFile)
                    .join(DistFile, col(DistFile.project_id) == col(Project.id))
                    .where(col(Project.name).in_(chunk))
                )
                for name, row in rows:
                    result[name].append(row)
        return result


def _row(new: NewFile, project_id: int) -> DistFile:
    row = DistFile(
        project_id=project_id,
        filename=new.filename,
        version=new.version,
        kind=new.kind,
        tags=new.tags,
        sha256=new.sha256,
        size=new.size,
        requires_python=new.requires_python,
        origin=new.origin,
        upstream_url=new.upstream_url,
        core_metadata=new.core_metadata,
        metadata_sha256=new.metadata_sha256,
        yanked=new.yanked,
        yanked_reason=new.yanked_reason,
        import_names=new.import_names,
    )
    if new.upload_time is not None:
        row.upload_time = new.upload_time
    return row


def _row_values(new: NewFile, project_id: int) -> dict[str, Any]:
    """The row's columns, for a Core insert of many rows."""
    return _row(new, project_id).model_dump(exclude={"id"})


def _same_version(stored: str, version: Version) -> bool:
    try:
        return Version(stored) == version
    except InvalidVersion:
        return False


def _identity(filename: str) -> tuple[Version, tuple[int, str] | tuple[()]] | None:
    """A file's version and build number, as packaging reads them (None: a name it does not read)."""
    try:
        if filename.endswith(".whl"):
            _name, version, build, _tags = parse_wheel_filename(filename)
            return version, build
        _name, version = parse_sdist_filename(filename)
        return version, ()
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
