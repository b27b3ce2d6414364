"""Build state in the database, the source of truth: what is queued, who runs what, what came out.

A build moves ``queued -> running (steps) -> succeeded | failed | cancelled``. Each job claims its step with one
conditional UPDATE, so two workers (or a duplicate message) never run the same step twice. A running build carries a
heartbeat; one whose heartbeat is older than the lease belonged to a worker that died (``kill -9``) and is handed
back to the queue at the step it was in.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from farm.store.models import Build, BuildState, as_utc

# Steps in order; each job claims the step after the one that finished.
BUILD, BUILT, VERIFY, VERIFIED, PUBLISH = "build", "built", "verify", "verified", "publish"
_AFTER = {BUILD: "", VERIFY: BUILT, PUBLISH: VERIFIED}


def now() -> datetime:
    return datetime.now(UTC)


class BuildStates:
    def __init__(self, engine: Engine, lease_seconds: float) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def get(self, build_id: int) -> Build | None:
        if not 0 < build_id < 2**63:  # beyond the database's integers (a client's number): no such build
            return None
        with self.session() as session:
            return session.get(Build, build_id)

    def create(self, recipe: str, version: str, runtime: str, key: str, builder: str) -> Build:
        with self.session() as session:
            build = Build(recipe=recipe, version=version, runtime=runtime, key=key, builder=builder)
            session.add(build)
            session.commit()
            session.refresh(build)
            return build

    def succeeded_for_key(self, key: str) -> Build | None:
        with self.session() as session:
            query = select(Build).where(Build.key == key, Build.state == BuildState.SUCCEEDED).limit(1)
            return session.exec(query).first()

    def active_for_key(self, key: str) -> Build | None:
        with self.session() as session:
            query = select(Build).where(
                Build.key == key, col(Build.state).in_([BuildState.QUEUED, BuildState.RUNNING])
            )
            return session.exec(query.limit(1)).first()

    def recent(self, limit: int = 200, recipe: str | None = None) -> list[Build]:
        with self.session() as session:
            query = select(Build).order_by(col(Build.id).desc()).limit(limit)
            if recipe:
                query = query.where(Build.recipe == recipe)
            return list(session.exec(query))

    def claim(self, build_id: int, step: str, worker: str) -> bool:
        """Take ``step`` of the build: from the step before it, or from a worker whose lease ran out."""
        stale = now() - self.lease
        previous = _AFTER[step]
        state, step_col = col(Build.state), col(Build.step)
        fresh = (
            (state == BuildState.QUEUED)
            if step == BUILD
            else and_(state == BuildState.RUNNING, step_col == previous)
        )
        dead = and_(state == BuildState.RUNNING, step_col == step, col(Build.heartbeat_at) < stale)
        values: dict[str, Any] = {
            "state": BuildState.RUNNING,
            "step": step,
            "worker": worker,
            "heartbeat_at": now(),
        }
        if step == BUILD:
            values["attempts"] = Build.attempts + 1
            values["started_at"] = now()
        with self.session() as session:
            result = session.execute(
                update(Build).where(col(Build.id) == build_id, or_(fresh, dead)).values(**values)
            )
            session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def heartbeat(self, build_id: int, worker: str, step: str | None = None) -> None:
        values: dict[str, Any] = {"heartbeat_at": now()}
        if step:
            values["step"] = step
        with self.session() as session:
            session.execute(
                update(Build).where(col(Build.id) == build_id, col(Build.worker) == worker).values(**values)
            )
            session.commit()

    def update(self, build_id: int, **values: Any) -> None:
        with self.session() as session:
            session.execute(update(Build).where(col(Build.id) == build_id).values(**_encoded(values)))
            session.commit()

    def add_timings(self, build_id: int, timings: dict[str, float]) -> None:
        build = self.get(build_id)
        merged = {**json.loads(build.timings or "{}"), **timings} if build else timings
        self.update(build_id, timings=json.dumps({k: round(v, 3) for k, v in merged.items()}))

    def finish(self, build_id: int, state: BuildState, **values: Any) -> None:
        """The end of a build, unless it was cancelled meanwhile (a cancelled build stays cancelled)."""
        with self.session() as session:
            session.execute(
                update(Build)
                .where(col(Build.id) == build_id, col(Build.state) != BuildState.CANCELLED)
                .values(state=state, finished_at=now(), **_encoded(values))
            )
            session.commit()

    def cancel(self, build_id: int) -> bool:
        """Cancel a queued or running build (its worker kills the running step at its next heartbeat)."""
        with self.session() as session:
            result = session.execute(
                update(Build)
                .where(
                    col(Build.id) == build_id,
                    col(Build.state).in_([BuildState.QUEUED, BuildState.RUNNING]),
                )
                .values(state=BuildState.CANCELLED, finished_at=now())
            )
            session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def requeue(self, build_id: int, step: str) -> None:
        """Back to the state before ``step`` (after a crash or a retriable error), unless cancelled."""
        values: dict[str, Any] = (
            {"state": BuildState.QUEUED, "step": "", "worker": None}
            if step == BUILD
            else {"state": BuildState.RUNNING, "step": _AFTER[step], "worker": None, "heartbeat_at": None}
        )
        with self.session() as session:
            session.execute(
                update(Build)
                .where(col(Build.id) == build_id, col(Build.state) != BuildState.CANCELLED)
                .values(**values)
            )
            session.commit()

    def recoverable(self, *, stale_only: bool = False) -> list[tuple[int, str]]:
        """(build, step to send) for every running step whose worker went silent and, unless ``stale_only`` (the
        periodic sweep, while the broker still holds the messages), every build waiting for a step to start."""
        stale = now() - self.lease
        found: list[tuple[int, str]] = []
        with self.session() as session:
            for build in session.exec(
                select(Build).where(col(Build.state).in_([BuildState.QUEUED, BuildState.RUNNING]))
            ):
                assert build.id is not None
                if build.state == BuildState.QUEUED:
                    if not stale_only:
                        found.append((build.id, BUILD))
                elif build.step in (BUILT, VERIFIED):  # between steps: the next one's message is queued
                    if not stale_only:
                        found.append((build.id, VERIFY if build.step == BUILT else PUBLISH))
                elif build.heartbeat_at is None or as_utc(build.heartbeat_at) < stale:
                    found.append((build.id, build.step if build.step in (VERIFY, PUBLISH) else BUILD))
        return found


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON columns (checks, verification) given as data are stored as text."""
    return {
        k: json.dumps(v) if k in ("checks", "verification") and not isinstance(v, str | None) else v
        for k, v in values.items()
    }
