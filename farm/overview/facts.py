"""The facts the landing page shows, read from the domain (catalog, runtimes, builds, compat checks) per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from farm.compat.listing import CheckListing
from farm.runtime.distribution import RuntimeStore
from farm.store.models import Build, DistFile, Project


@dataclass(frozen=True)
class RuntimeFacts:
    version: str
    installed: bool
    python: str | None  # from the runtime's own lock, when it is installed


@dataclass(frozen=True)
class Overview:
    runtimes: tuple[RuntimeFacts, ...]
    projects: int  # published (not quarantined)
    files: int
    files_by_origin: dict[str, int] = field(default_factory=dict)  # mirrored | uploaded | built
    builds_by_state: dict[str, int] = field(default_factory=dict)
    checked_projects: int = 0
    checks_by_status: dict[str, int] = field(default_factory=dict)  # over every runtime
    recent: tuple[tuple[str, str], ...] = ()  # (normalised name, display name), the newest projects first

    @property
    def builds(self) -> int:
        return sum(self.builds_by_state.values())


def read_overview(
    engine: Engine, runtimes: RuntimeStore, configured: Sequence[str], recent: int = 12
) -> Overview:
    installed = {r.version: r for r in runtimes.installed()}
    facts = tuple(
        RuntimeFacts(v, v in installed, installed[v].target.python if v in installed else None)
        for v in configured
    )
    published = col(Project.quarantine).is_(None)
    with Session(engine) as session:
        projects = session.exec(select(func.count()).select_from(Project).where(published)).one()
        by_origin = session.exec(
            select(DistFile.origin, func.count())
            .join(Project, col(Project.id) == col(DistFile.project_id))
            .where(published)
            .group_by(col(DistFile.origin))
        ).all()
        by_state = session.exec(select(Build.state, func.count()).group_by(col(Build.state))).all()
        newest = session.exec(
            select(Project.name, Project.display_name)
            .where(published)
            .order_by(col(Project.created_at).desc(), col(Project.id).desc())
            .limit(recent)
        ).all()
    summary = CheckListing(engine).summary()
    checks: dict[str, int] = {}
    for counts in summary.counts.values():
        for status, count in counts.items():
            checks[status] = checks.get(status, 0) + count
    return Overview(
        runtimes=facts,
        projects=int(projects),
        files=sum(int(n) for _, n in by_origin),
        files_by_origin={str(o): int(n) for o, n in by_origin},
        builds_by_state={str(s): int(n) for s, n in by_state},
        checked_projects=summary.checked_projects,
        checks_by_status=checks,
        recent=tuple((str(n), str(d)) for n, d in newest),
    )
