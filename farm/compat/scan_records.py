"""Batch scans as rows (``compat_scan``, ``compat_scan_batch``): what a scan asked for, how far each batch got.

The database is the truth, as for builds (``farm.build.state``): a job message only says "run batch N of scan S",
and a worker runs it only if it can claim the batch (queued, or running under a worker whose heartbeat went silent).
A batch run again after a crash counts its verdicts afresh; those its first attempt kept are answered from the store.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from farm.store.models import CompatScan, CompatScanBatch, as_utc

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ACTIVE = (QUEUED, RUNNING)


def now() -> datetime:
    return datetime.now(UTC)


def plan_batches(requirements: Sequence[str], batch_size: int, workers: int) -> list[list[str]]:
    """The list cut into batches of at most ``batch_size``, as many as it takes rounded up to a multiple of
    ``workers`` (no more than the list's length), sized within one of each other: ``workers`` workers then end
    together instead of one running the short last batch alone (50 in batches of 20 over two: 13, 13, 12, 12)."""
    if not requirements:
        return []
    count = math.ceil(len(requirements) / batch_size)
    count = min(math.ceil(count / workers) * workers, len(requirements))
    size, extra = divmod(len(requirements), count)
    batches, start = [], 0
    for number in range(count):
        end = start + size + (number < extra)
        batches.append(list(requirements[start:end]))
        start = end
    return batches


def scan_key(requirements: Sequence[str], runtimes: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps([list(runtimes), sorted(requirements)]).encode()).hexdigest()


@dataclass(frozen=True)
class ClaimedBatch:
    scan_id: str
    number: int
    requirements: list[str]
    runtimes: list[str]


class ScanRecords:
    def __init__(self, engine: Engine, lease_seconds: float) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def create(
        self, requirements: Sequence[str], runtimes: Sequence[str], batch_size: int, workers: int
    ) -> tuple[str, bool]:
        """A new scan and its batches, queued; or the active scan of the same list and runtimes: (id, joined)."""
        key = scan_key(requirements, runtimes)
        try:
            return self._create(key, requirements, runtimes, batch_size, workers)
        except (
            IntegrityError
        ):  # the same scan was created at this instant (ux_compat_scan_active_key): join it
            return self._create(key, requirements, runtimes, batch_size, workers)

    def _create(
        self, key: str, requirements: Sequence[str], runtimes: Sequence[str], batch_size: int, workers: int
    ) -> tuple[str, bool]:
        with self.session() as session:
            running = session.exec(
                select(CompatScan).where(CompatScan.key == key, col(CompatScan.state).in_(ACTIVE)).limit(1)
            ).first()
            if running is not None:
                return running.id, True
            scan_id = secrets.token_hex(8)
            session.add(
                CompatScan(
                    id=scan_id, key=key, runtimes=json.dumps(list(runtimes)),
                    total=len(requirements) * len(runtimes),
                )
            )  # fmt: skip
            for number, batch in enumerate(plan_batches(requirements, batch_size, workers)):
                session.add(CompatScanBatch(scan_id=scan_id, number=number, requirements=json.dumps(batch)))
            session.commit()
            return scan_id, False

    def batches(self, scan_id: str) -> list[int]:
        with self.session() as session:
            return list(
                session.exec(
                    select(CompatScanBatch.number)
                    .where(CompatScanBatch.scan_id == scan_id)
                    .order_by(col(CompatScanBatch.number))
                )
            )

    def claim(self, scan_id: str, number: int, worker: str) -> ClaimedBatch | None:
        """Take the batch: queued, or running under a worker whose heartbeat is older than the lease."""
        stale = now() - self.lease
        state, heartbeat = col(CompatScanBatch.state), col(CompatScanBatch.heartbeat_at)
        free = or_(state == QUEUED, and_(state == RUNNING, or_(heartbeat.is_(None), heartbeat < stale)))
        with self.session() as session:  # the scan's row, then the batch's: the order finish() locks them in
            session.execute(select(CompatScan.id).where(CompatScan.id == scan_id).with_for_update())
            result = session.execute(
                update(CompatScanBatch)
                .where(col(CompatScanBatch.scan_id) == scan_id, col(CompatScanBatch.number) == number, free)
                .values(state=RUNNING, worker=worker, heartbeat_at=now(), done=0, counts="{}", error=None)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                session.rollback()
                return None
            session.execute(
                update(CompatScan)
                .where(col(CompatScan.id) == scan_id, col(CompatScan.state) == QUEUED)
                .values(state=RUNNING)
            )
            session.commit()
            batch = session.get(CompatScanBatch, (scan_id, number))
            scan = session.get(CompatScan, scan_id)
            assert batch is not None and scan is not None
            return ClaimedBatch(scan_id, number, json.loads(batch.requirements), json.loads(scan.runtimes))

    def heartbeat(self, scan_id: str, number: int, worker: str) -> bool:
        """Still ours? (False: taken over by another worker after a silence longer than the lease.)"""
        with self.session() as session:
            result = session.execute(self._mine(scan_id, number, worker).values(heartbeat_at=now()))
            session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def advance(self, scan_id: str, number: int, worker: str, status: str) -> None:
        """One more verdict of the batch."""
        with self.session() as session:
            batch = session.get(CompatScanBatch, (scan_id, number))
            if batch is None or batch.worker != worker or batch.state != RUNNING:
                return
            counts = Counter(json.loads(batch.counts))
            counts[status] += 1
            session.execute(
                self._mine(scan_id, number, worker).values(
                    done=CompatScanBatch.done + 1, counts=json.dumps(dict(counts)), heartbeat_at=now()
                )
            )
            session.commit()

    def finish(self, scan_id: str, number: int, worker: str, error: str | None = None) -> None:
        """The batch's end; the scan's too when it was the last one running. The scan's row is locked first: two
        batches ending at once in PostgreSQL would otherwise each see the other still running, and neither would end
        the scan (SQLite serialises writers anyway)."""
        with self.session() as session:
            session.execute(select(CompatScan.id).where(CompatScan.id == scan_id).with_for_update())
            result = session.execute(
                self._mine(scan_id, number, worker).values(state=FAILED if error else DONE, error=error)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                session.rollback()
                return
            left = session.exec(
                select(CompatScanBatch.number).where(
                    CompatScanBatch.scan_id == scan_id, col(CompatScanBatch.state).in_(ACTIVE)
                )
            ).first()
            if left is None:
                errors = session.exec(
                    select(CompatScanBatch.number, CompatScanBatch.error)
                    .where(CompatScanBatch.scan_id == scan_id, CompatScanBatch.state == FAILED)
                    .order_by(col(CompatScanBatch.number))
                ).all()
                summary = "; ".join(f"batch {n + 1}: {e}" for n, e in errors) or None
                session.execute(
                    update(CompatScan)
                    .where(col(CompatScan.id) == scan_id)
                    .values(state=FAILED if errors else DONE, error=summary, finished_at=now())
                )
            session.commit()

    def release(self, owners: Sequence[str]) -> list[tuple[str, int]]:
        """Hand the running batches of ``owners`` (workers known to be gone or stopping) back to the queue, their
        counts reset; returns them, to be sent again."""
        if not owners:
            return []
        where = (col(CompatScanBatch.state) == RUNNING, col(CompatScanBatch.worker).in_(list(owners)))
        with self.session() as session:
            found = [(b.scan_id, b.number) for b in session.exec(select(CompatScanBatch).where(*where))]
            session.execute(
                update(CompatScanBatch).where(*where).values(state=QUEUED, worker=None, done=0, counts="{}")
            )
            session.commit()
        return found

    def running_workers(self) -> list[str]:
        with self.session() as session:
            return sorted(
                {
                    w
                    for w in session.exec(
                        select(CompatScanBatch.worker).where(CompatScanBatch.state == RUNNING)
                    )
                    if w
                }
            )

    def stalled(self, scan_id: str) -> list[int]:
        """The queued batches of a scan that shows no life: none running, and nothing claimed, advanced or ended for
        longer than the lease (their messages were lost: a broker that restarted empty, a send that failed)."""
        quiet = now() - self.lease
        with self.session() as session:
            scan = session.get(CompatScan, scan_id)
            batches = _progress(session, CompatScanBatch.scan_id == scan_id)
        if scan is None or scan.state not in ACTIVE or any(b.state == RUNNING for b in batches):
            return []
        moments = [as_utc(scan.created_at), *(as_utc(b.heartbeat_at) for b in batches if b.heartbeat_at)]
        if max(moments) >= quiet:
            return []
        return [b.number for b in batches if b.state == QUEUED]

    def _mine(self, scan_id: str, number: int, worker: str) -> Any:
        return update(CompatScanBatch).where(
            col(CompatScanBatch.scan_id) == scan_id,
            col(CompatScanBatch.number) == number,
            col(CompatScanBatch.worker) == worker,
            col(CompatScanBatch.state) == RUNNING,
        )

    def recoverable(self, *, stale_only: bool = False) -> list[tuple[str, int]]:
        """(scan, batch) for every batch whose worker went silent and, unless ``stale_only`` (the periodic sweep,
        while the broker still holds the messages), every queued batch."""
        stale = now() - self.lease
        heartbeat = col(CompatScanBatch.heartbeat_at)
        silent = and_(col(CompatScanBatch.state) == RUNNING, or_(heartbeat.is_(None), heartbeat < stale))
        wanted = silent if stale_only else or_(silent, col(CompatScanBatch.state) == QUEUED)
        with self.session() as session:
            return [
                (scan_id, number)
                for scan_id, number in session.exec(
                    select(CompatScanBatch.scan_id, CompatScanBatch.number)
                    .where(wanted)
                    .order_by(col(CompatScanBatch.scan_id), col(CompatScanBatch.number))
                )
            ]

    def get(self, scan_id: str) -> dict[str, Any] | None:
        """The scan as a task of the /compat pages (``farm.compat.tasks.Task.to_json``'s shape)."""
        with self.session() as session:
            scan = session.get(CompatScan, scan_id)
            if scan is None:
                return None
            batches = _progress(session, CompatScanBatch.scan_id == scan_id)
        counts: Counter[str] = Counter()
        for batch in batches:
            counts.update(json.loads(batch.counts))
        done = sum(b.done for b in batches)
        running = sum(b.state == RUNNING for b in batches)
        finished = sum(b.state in (DONE, FAILED) for b in batches)
        if scan.state in ACTIVE:
            if running:
                phase = f"checking: {finished} of {len(batches)} batches done, {running} running"
            else:
                phase = f"queued: {finished} of {len(batches)} batches done, waiting for a worker"
        else:
            phase = scan.state
        return {
            "id": scan.id,
            "url": f"/compat/-/tasks/{scan.id}",
            "kind": "scan",
            "project": None,
            "runtimes": json.loads(scan.runtimes),
            "state": scan.state,
            "phase": phase,
            "progress": {"done": done, "total": scan.total},
            "verdicts": [],
            "counts": dict(counts),
            "build": None,
            "notes": [f"{len(batches)} batch(es); kept across restarts, run by any worker"],
            "error": scan.error,
            "created": scan.created_at.isoformat(),
            "finished": scan.finished_at.isoformat() if scan.finished_at else None,
        }


def _progress(session: Session, where: Any) -> list[Any]:
    """The batches' progress columns (not their requirement lists: a page polls this every second)."""
    columns = (
        CompatScanBatch.number,
        CompatScanBatch.state,
        CompatScanBatch.heartbeat_at,
        CompatScanBatch.done,
    )
    query = sa_select(*(col(c) for c in columns), col(CompatScanBatch.counts)).where(where)
    return list(session.execute(query).all())
