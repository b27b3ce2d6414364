"""Database tables (SQLModel). The only place that defines them; migrations live in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from farm.store.version_key import MAX_LENGTH as VERSION_KEY_LENGTH


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A time read back from the database, made aware: SQLite gives back naive datetimes; every time here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Origin(StrEnum):
    """Where a file came from. Stored as its string (no database enum: a new origin needs no migration)."""

    MIRRORED = "mirrored"
    BUILT = "built"
    UPLOADED = "uploaded"
    PYODIDE = "pyodide"  # from a Pyodide release distribution (`wasmfarm runtime add --distribution`)


class TokenScope(StrEnum):
    """read < upload < admin and read < build < admin: upload and build are side by side (an upload token cannot
    request builds, a build token cannot upload); admin allows everything."""

    READ = "read"
    UPLOAD = "upload"
    BUILD = "build"  # request compatibility checks and builds from the /compat pages
    ADMIN = "admin"

    def allows(self, needed: TokenScope) -> bool:
        return self is needed or self is TokenScope.ADMIN or needed is TokenScope.READ


class Project(SQLModel, table=True):
    __tablename__ = "project"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=255)  # normalised (PEP 503)
    display_name: str = Field(max_length=255)
    serial: int = 0  # bumped on every change of the project's files
    rendered_serial: int = 0  # the serial its index pages were last rendered from
    # Why the project is kept out of every page and lock (a row no page can be made from); None: published.
    quarantine: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class DistFile(SQLModel, table=True):
    __tablename__ = "dist_file"
    __table_args__ = (
        UniqueConstraint("filename", name="uq_dist_file_filename"),
        # The runtime lock's roots (farm.runtime.publish): the few projects built, uploaded or from a distribution.
        Index("ix_dist_file_origin", "origin", "project_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    filename: str = Field(max_length=512)
    version: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # wheel | sdist
    tags: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # "py3-none-any.cp3..."
    sha256: str = Field(index=True, max_length=64)
    size: int
    requires_python: str | None = Field(default=None, max_length=255)
    yanked: bool = False
    yanked_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The yank state was set here (`wasmfarm yank`, POST .../yank): the mirror no longer carries upstream's over it.
    yank_local: bool = False
    upload_time: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    origin: str = Field(max_length=16)  # Origin
    upstream_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    core_metadata: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    metadata_sha256: str | None = Field(default=None, max_length=64)
    import_names: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True)
    )  # JSON list, wheels only


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)  # sha256 of the secret; never the secret
    prefix: str = Field(max_length=16)  # first characters, to tell tokens apart in listings
    scope: str = Field(max_length=16)  # TokenScope
    description: str = Field(default="", max_length=255)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    projects: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True)
    )  # JSON list of normalised names the token may upload to; None: any


class AuditEvent(SQLModel, table=True):
    """One upload or admin action (yank, unyank, delete, token create/revoke, build cancel/rebuild, quarantine
    release): when, who, what, why, from where.

    Who is a token's id and prefix (never its secret) or, for the command line, the local user name."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    action: str = Field(index=True, max_length=32)  # farm.audit.trail.Action
    target: str = Field(
        sa_column=Column(Text, nullable=False)
    )  # a file name, "token 3", "build 7", "project 2"
    actor: str = Field(max_length=255)  # "token 3 (wf_AbCdEfG…)", "cli:alice"
    token_id: int | None = Field(default=None, index=True)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    client: str | None = Field(default=None, max_length=255)  # the client's address; None: the command line
    detail: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True)
    )  # JSON: sha256, origin, ...


class BuildState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (BuildState.SUCCEEDED, BuildState.FAILED, BuildState.CANCELLED)


class Build(SQLModel, table=True):
    """One build of one recipe for one runtime: the source of truth for the build farm's state."""

    __tablename__ = "build"

    id: int | None = Field(default=None, primary_key=True)
    recipe: str = Field(index=True, max_length=255)  # normalised name
    version: str = Field(max_length=128)
    runtime: str = Field(max_length=32)
    key: str = Field(index=True, max_length=64)  # content-addressed build key
    builder: str = Field(default="", max_length=64)  # builder image identity
    state: str = Field(default=BuildState.QUEUED, index=True, max_length=16)
    step: str = Field(default="", max_length=32)  # prepare | build | check | verify | publish
    attempts: int = 0
    worker: str | None = Field(default=None, max_length=255)
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    started_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    build_seconds: float | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    wheel_filename: str | None = Field(default=None, max_length=512)
    wheel_sha256: str | None = Field(default=None, max_length=64)
    checks: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    verification: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    timings: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON: seconds per step
    published: bool = False


class CompatCheck(SQLModel, table=True):
    """One check of the compatibility oracle (``farm.compat``): kept for the history, found again by its input key.

    ``current`` marks the latest check of each (project, runtime): what the summary counts."""

    __tablename__ = "compat_check"
    __table_args__ = (
        Index("ix_compat_check_project_runtime", "project", "runtime"),
        # The /compat table: current checks filtered by status or runtime, sorted, paginated (farm.compat.listing).
        Index("ix_compat_check_current_project", "current", "project", "runtime"),
        Index("ix_compat_check_current_status", "current", "status", "project"),
        Index("ix_compat_check_current_runtime", "current", "runtime", "status"),  # the summary's counts
        Index("ix_compat_check_current_checked", "current", "checked_at"),
        Index("ix_compat_check_current_version", "current", "version_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=255)  # normalised name
    version: str | None = Field(default=None, max_length=128)
    # ``farm.store.version_key`` of ``version``: what the /compat table sorts by (text order puts 1.10 before 1.9)
    version_key: str = Field(
        default="", sa_column=Column(String(VERSION_KEY_LENGTH), nullable=False, server_default="")
    )
    runtime: str = Field(max_length=32)
    requirement: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(index=True, max_length=32)  # farm.compat.verdict.Status
    code: str = Field(max_length=32)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    wheel_filename: str | None = Field(default=None, max_length=512)
    wheel_sha256: str | None = Field(default=None, max_length=64)
    input_key: str = Field(index=True, max_length=64)
    current: bool = Field(default=True, index=True)
    ran: bool = False  # Pyodide ran for it
    checked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    seconds: float = 0.0
    log: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    verdict: str = Field(sa_column=Column(Text, nullable=False))  # the Verdict as JSON


class CompatScan(SQLModel, table=True):
    """A batch scan requested from the /compat pages (``farm.compat.scan_jobs``): a list checked on the runtimes in
    batches that run as jobs, so it survives a restart and spreads over every worker. Its verdicts are kept as
    ``compat_check`` rows; this row and its batches say how far it got."""

    __tablename__ = "compat_scan"
    __table_args__ = (
        # One active scan per list and runtimes: two requests at once (or to two servers) join, not run twice.
        Index(
            "ux_compat_scan_active_key",
            "key",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)  # random: the task's address (/compat/-/tasks/<id>)
    key: str = Field(index=True, max_length=64)  # the runtimes and the sorted list: a second request joins
    runtimes: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    total: int  # verdicts to come
    state: str = Field(default="queued", index=True, max_length=16)  # queued | running | done | failed
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class CompatScanBatch(SQLModel, table=True):
    """One batch of a scan: the unit a worker claims, one Pyodide boot per runtime."""

    __tablename__ = "compat_scan_batch"

    scan_id: str = Field(primary_key=True, max_length=32)
    number: int = Field(primary_key=True)
    requirements: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of requirement strings
    state: str = Field(default="queued", index=True, max_length=16)  # queued | running | done | failed
    worker: str | None = Field(default=None, max_length=255)
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    done: int = 0  # verdicts decided by the current attempt
    counts: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON: status -> verdicts
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
