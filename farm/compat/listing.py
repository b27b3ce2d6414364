"""Kept checks as the ``/compat`` pages list them: the summary, a filtered, sorted, paginated table of the current
checks, completions for the search box, a project's history and the checks of a dependency tree's nodes.

Everything is decided in SQL over the indexed columns of ``compat_check`` (``current``, ``status``, ``project``,
``runtime``, ``checked_at``; migration 0006): a page reads one page of rows and never a verdict's JSON, so it costs
the same with ten projects as with ten thousand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, distinct, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from farm.compat.verdict import Status
from farm.errors import BadRequest
from farm.store.models import CompatCheck, Project

SORTS = {
    "project": col(CompatCheck.project),
    "status": col(CompatCheck.status),
    "runtime": col(CompatCheck.runtime),
    "version": col(CompatCheck.version_key),  # PEP 440 order, not text order
    "checked": col(CompatCheck.checked_at),
}
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000
MAX_TEXT = 100
_NOT_NAME = re.compile(r"[^a-z0-9-]+")
_SEPARATORS = re.compile(r"[-_.\s]+")


def name_fragment(text: str) -> str:
    """A search text as the part of a normalised project name it can match (PEP 503: lower case, runs of ``-_.``
    as one ``-``); anything else is dropped, so no LIKE wildcard ever comes from a user."""
    return _NOT_NAME.sub("", _SEPARATORS.sub("-", text.strip().lower()))[:MAX_TEXT]


@dataclass(frozen=True)
class TableQuery:
    """What the table shows: filters, order and page. ``parse`` checks values that come from a request."""

    text: str = ""  # part of the project name
    status: Status | None = None
    runtime: str | None = None
    sort: str = "project"
    descending: bool = False
    page: int = 1
    per_page: int = 50

    @classmethod
    def parse(
        cls,
        *,
        text: str = "",
        status: str = "",
        runtime: str = "",
        sort: str = "project",
        order: str = "asc",
        page: int = 1,
        per_page: int = 50,
        runtimes: Sequence[str] = (),
    ) -> TableQuery:
        if status and status not in {s.value for s in Status}:
            raise BadRequest(
                f"status {status!r} is not a verdict; use one of {', '.join(s.value for s in Status)}"
            )
        if runtime and runtime not in runtimes:
            raise BadRequest(f"runtime {runtime!r} is not served here; runtimes: {', '.join(runtimes)}")
        if sort not in SORTS:
            raise BadRequest(f"sort {sort!r}: sort by one of {', '.join(SORTS)}")
        if order not in ("asc", "desc"):
            raise BadRequest(f"order {order!r}: use asc or desc")
        if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
            raise BadRequest(f"page must be between 1 and {MAX_PAGE}, per_page between 1 and {MAX_PER_PAGE}")
        return cls(
            text=name_fragment(text),
            status=Status(status) if status else None,
            runtime=runtime or None,
            sort=sort,
            descending=order == "desc",
            page=page,
            per_page=per_page,
        )

    @property
    def order(self) -> str:
        return "desc" if self.descending else "asc"

    def to_json(self) -> dict[str, Any]:
        return {
            "q": self.text,
            "status": self.status.value if self.status else None,
            "runtime": self.runtime,
            "sort": self.sort,
            "order": self.order,
            "page": self.page,
            "per_page": self.per_page,
        }

    def at(self, **changes: Any) -> TableQuery:
        return replace(self, **changes)


@dataclass(frozen=True)
class CheckRow:
    """One kept check, without its evidence (what a table row or a history line shows)."""

    check_id: int
    project: str
    version: str | None
    runtime: str
    status: Status
    code: str
    reason: str
    checked_at: datetime
    seconds: float
    ran: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "project": self.project,
            "version": self.version,
            "runtime": self.runtime,
            "status": self.status.value,
            "code": self.code,
            "reason": self.reason,
            "checked_at": self.checked_at.isoformat().replace("+00:00", "Z"),
            "seconds": self.seconds,
            "ran": self.ran,
        }


@dataclass(frozen=True)
class TablePage:
    query: TableQuery
    rows: list[CheckRow]
    total: int  # rows matching the filters, on every page

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.query.per_page))


@dataclass(frozen=True)
class Summary:
    counts: dict[str, dict[str, int]]  # runtime -> status -> current checks
    checked_projects: int  # projects with a current check
    catalog_projects: int  # projects this mirror holds files of

    def to_json(self) -> dict[str, Any]:
        return {
            "runtimes": self.counts,
            "checked_projects": self.checked_projects,
            "catalog_projects": self.catalog_projects,
            "current_checks": sum(sum(c.values()) for c in self.counts.values()),
        }


_COLUMNS: tuple[Any, ...] = (
    col(CompatCheck.id),
    col(CompatCheck.project),
    col(CompatCheck.version),
    col(CompatCheck.runtime),
    col(CompatCheck.status),
    col(CompatCheck.code),
    col(CompatCheck.reason),
    col(CompatCheck.checked_at),
    col(CompatCheck.seconds),
    col(CompatCheck.ran),
)


def _rows() -> Select[Any]:
    return select_columns(*_COLUMNS)


def _row(values: Sequence[Any]) -> CheckRow:
    check_id, project, version, runtime, status, code, reason, checked_at, seconds, ran = values
    when = checked_at if checked_at.tzinfo is not None else checked_at.replace(tzinfo=UTC)  # SQLite: naive
    return CheckRow(check_id, project, version, runtime, Status(status), code, reason, when, seconds, ran)


class CheckListing:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def table(self, query: TableQuery) -> TablePage:
        where: list[ColumnElement[bool]] = [col(CompatCheck.current).is_(True)]
        if query.status is not None:
            where.append(col(CompatCheck.status) == query.status.value)
        if query.runtime is not None:
            where.append(col(CompatCheck.runtime) == query.runtime)
        if query.text:
            where.append(col(CompatCheck.project).contains(query.text, autoescape=True))
        key = SORTS[query.sort]
        order: list[Any] = [key.desc() if query.descending else key.asc()]
        order += [c for c in (col(CompatCheck.project), col(CompatCheck.runtime)) if c is not key]
        with Session(self.engine) as session:
            total = session.exec(select(func.count()).select_from(CompatCheck).where(*where)).one()
            rows = session.execute(
                _rows()
                .where(*where)
                .order_by(*order)
                .offset((query.page - 1) * query.per_page)
                .limit(query.per_page)
            ).all()
        return TablePage(query, [_row(r) for r in rows], int(total))

    def summary(self) -> Summary:
        current = col(CompatCheck.current).is_(True)
        counts: dict[str, dict[str, int]] = {}
        with Session(self.engine) as session:
            grouped = session.exec(
                select(CompatCheck.runtime, CompatCheck.status, func.count())
                .where(current)
                .group_by(col(CompatCheck.runtime), col(CompatCheck.status))
            )
            for runtime, status, count in grouped:
                counts.setdefault(runtime, {})[status] = int(count)
            checked = session.exec(
                select(func.count(distinct(col(CompatCheck.project)))).where(current)
            ).one()
            catalog = session.exec(
                select(func.count()).select_from(Project).where(col(Project.quarantine).is_(None))
            ).one()
        return Summary(counts, int(checked), int(catalog))

    def suggest(self, text: str, limit: int = 10) -> list[str]:
        """Project names that start with ``text``: from this mirror's catalog and from kept checks."""
        prefix = name_fragment(text)
        if not prefix:
            return []
        with Session(self.engine) as session:
            mirrored = session.exec(
                select(Project.name)
                .where(
                    col(Project.name).startswith(prefix, autoescape=True), col(Project.quarantine).is_(None)
                )
                .order_by(col(Project.name))
                .limit(limit)
            ).all()
            checked = session.exec(
                select(col(CompatCheck.project))
                .distinct()
                .where(col(CompatCheck.project).startswith(prefix, autoescape=True))
                .order_by(col(CompatCheck.project))
                .limit(limit)
            ).all()
        return sorted({*mirrored, *checked})[:limit]

    def history(self, project: str, limit: int = 50) -> list[CheckRow]:
        """A project's kept checks, newest first."""
        with Session(self.engine) as session:
            rows = session.execute(
                _rows()
                .where(col(CompatCheck.project) == project)
                .order_by(col(CompatCheck.id).desc())
                .limit(limit)
            ).all()
        return [_row(r) for r in rows]

    def current_of(self, projects: Sequence[str], runtime: str) -> dict[str, CheckRow]:
        """The current check of each of ``projects`` on ``runtime`` (those that have one)."""
        if not projects:
            return {}
        with Session(self.engine) as session:
            rows = session.execute(
                _rows().where(
                    col(CompatCheck.current).is_(True),
                    col(CompatCheck.runtime) == runtime,
                    col(CompatCheck.project).in_(list(projects)),
                )
            ).all()
        return {r.project: r for r in map(_row, rows)}

    def known(self, project: str) -> bool:
        """This mirror holds the project, or has checked it."""
        with Session(self.engine) as session:
            mirrored = session.exec(select(Project.id).where(Project.name == project).limit(1)).first()
            checked = session.exec(
                select(CompatCheck.id).where(CompatCheck.project == project).limit(1)
            ).first()
        return mirrored is not None or checked is not None
