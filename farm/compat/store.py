"""Kept checks: every verdict the oracle reached, with its time, duration, log and input key (``compat_check``).

A check whose input key is kept already is answered from here, nothing run. The history stays: a new key adds a
row, and ``current`` moves to the latest check of each (project, runtime), which is what a summary counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from farm.compat.verdict import Verdict
from farm.store.models import CompatCheck
from farm.store.version_key import version_key


class CheckStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def find(self, input_key: str) -> Verdict | None:
        """The latest kept check with this input key (made current again), as answered from the store."""
        with self.session() as session:
            row = session.exec(
                select(CompatCheck)
                .where(CompatCheck.input_key == input_key)
                .order_by(col(CompatCheck.id).desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            if not row.current:
                self._make_current(session, row)
                session.commit()
        return _verdict(row).replace(from_store=True)

    def add(self, verdict: Verdict) -> Verdict:
        """Keep a check; returns the verdict with its ``check_id``."""
        wheel = verdict.evidence.wheel
        row = CompatCheck(
            project=verdict.project,
            version=verdict.version,
            version_key=version_key(verdict.version),
            runtime=verdict.runtime,
            requirement=verdict.requirement,
            status=verdict.status.value,
            code=verdict.code.value,
            reason=verdict.reason,
            wheel_filename=wheel.filename if wheel else None,
            wheel_sha256=wheel.sha256 if wheel else None,
            input_key=verdict.input_key,
            ran=verdict.ran,
            checked_at=verdict.checked_at,
            seconds=verdict.seconds,
            log="\n".join(verdict.evidence.log) or None,
            verdict="{}",
        )
        with self.session() as session:
            session.add(row)
            session.flush()
            assert row.id is not None
            kept = verdict.replace(check_id=row.id, from_store=False)
            row.verdict = json.dumps(kept.to_json(), separators=(",", ":"))
            self._make_current(session, row)
            session.commit()
        return kept

    @staticmethod
    def _make_current(session: Session, row: CompatCheck) -> None:
        session.execute(
            update(CompatCheck)
            .where(
                col(CompatCheck.project) == row.project,
                col(CompatCheck.runtime) == row.runtime,
                col(CompatCheck.id) != row.id,
            )
            .values(current=False)
        )
        row.current = True
        session.add(row)

    # Reading (for pages, badges and the CLI) -------------------------------------------------------------------

    def get(self, check_id: int) -> Verdict | None:
        with self.session() as session:
            row = session.get(CompatCheck, check_id)
        return _verdict(row) if row is not None else None

    def current(self, project: str | None = None, runtime: str | None = None) -> list[Verdict]:
        """The latest check of each (project, runtime), by project."""
        query = select(CompatCheck).where(col(CompatCheck.current).is_(True))
        if project is not None:
            query = query.where(CompatCheck.project == project)
        if runtime is not None:
            query = query.where(CompatCheck.runtime == runtime)
        with self.session() as session:
            rows = session.exec(query.order_by(col(CompatCheck.project), col(CompatCheck.runtime)))
            return [_verdict(r) for r in rows]

    def history(self, project: str, runtime: str | None = None, limit: int = 100) -> list[Verdict]:
        """Every kept check of a project, newest first."""
        query = select(CompatCheck).where(CompatCheck.project == project)
        if runtime is not None:
            query = query.where(CompatCheck.runtime == runtime)
        with self.session() as session:
            rows = session.exec(query.order_by(col(CompatCheck.id).desc()).limit(limit))
            return [_verdict(r) for r in rows]

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts of the current checks: runtime -> status -> projects."""
        query = (
            select(CompatCheck.runtime, CompatCheck.status, func.count())
            .where(col(CompatCheck.current).is_(True))
            .group_by(col(CompatCheck.runtime), col(CompatCheck.status))
        )
        counts: dict[str, dict[str, int]] = {}
        with self.session() as session:
            for runtime, status, count in session.exec(query):
                counts.setdefault(runtime, {})[status] = int(count)
        return counts

    def count(self, projects: Sequence[str] | None = None) -> int:
        """How many checks are kept (of ``projects``, or of all)."""
        query = select(func.count()).select_from(CompatCheck)
        if projects is not None:
            query = query.where(col(CompatCheck.project).in_(list(projects)))
        with self.session() as session:
            return int(session.exec(query).one())


def _verdict(row: CompatCheck) -> Verdict:
    return Verdict.from_json(json.loads(row.verdict))
