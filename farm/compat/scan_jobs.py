"""Batch scans as dramatiq jobs: one message per batch ("run batch N of scan S") on the checks queue.

``broker_url`` unset: the stub broker of ``farm.build.jobs`` and a checks worker of ``compat_workers`` threads in
``wasmfarm serve``. ``redis://`` or ``amqp://``: every ``wasmfarm worker`` takes batches too, so a long scan spreads
over machines. The rows (``farm.compat.scan_records``) say what still needs doing: a duplicate or redelivered message
finds its batch claimed or done and does nothing; a batch whose worker died (no heartbeat for the lease) is taken
over; a server started again re-sends what its last run left, and the scan goes on where it stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import dramatiq
from packaging.requirements import Requirement

from farm.build.jobs import worker_name
from farm.compat.scan import ScanProgress, scan
from farm.compat.scan_records import ScanRecords
from farm.compat.tasks import Sessions
from farm.compat.verdict import Verdict
from farm.errors import FarmError

log = logging.getLogger(__name__)
QUEUE = "wasmfarm-checks"
STOP_SECONDS = 10.0  # a stopping worker waits this long for running batches; the rest are run again later


class _BatchProgress(ScanProgress):
    def __init__(self, records: ScanRecords, scan_id: str, number: int, worker: str) -> None:
        self.records, self.scan_id, self.number, self.worker = records, scan_id, number, worker

    def advance(self, verdict: Verdict) -> None:
        self.records.advance(self.scan_id, self.number, self.worker, verdict.status.value)


class ScanJobs:
    """The scan actor, bound to one broker, and what submits, runs and recovers batches."""

    def __init__(
        self,
        records: ScanRecords,
        sessions: Sessions,
        broker: dramatiq.Broker,
        *,
        batch_size: int,
        workers: int,
        batch_seconds: float,
    ) -> None:
        self.records = records
        self.sessions = sessions
        self.broker = broker
        self.batch_size = batch_size
        self.workers = workers
        self.actor = dramatiq.actor(  # type: ignore[call-overload]
            self._run,
            broker=broker,
            actor_name="wasmfarm_scan_batch",
            queue_name=QUEUE,
            max_retries=0,
            time_limit=int(batch_seconds * 1000) + 600_000,
        )

    # Asking ---------------------------------------------------------------------------------------------------

    def submit(self, requirements: Sequence[Requirement], runtimes: Sequence[str]) -> tuple[str, bool]:
        """The scan's id, and whether it joined the same scan already queued or running."""
        scan_id, joined = self.records.create(
            [str(r) for r in requirements], runtimes, self.batch_size, self.workers
        )
        if not joined:
            for number in self.records.batches(scan_id):
                self.send(scan_id, number)
        return scan_id, joined

    def send(self, scan_id: str, number: int) -> None:
        self.actor.send(scan_id, number)

    def recover(self, *, stale_only: bool = False) -> int:
        """Re-send the batches a stopped process left queued (an in-process broker forgets its messages) and those
        whose worker went silent."""
        found = self.records.recoverable(stale_only=stale_only)
        for scan_id, number in found:
            self.send(scan_id, number)
        return len(found)

    # Working --------------------------------------------------------------------------------------------------

    def _run(self, scan_id: str, number: int) -> None:
        self.run_batch(scan_id, number)

    def run_batch(self, scan_id: str, number: int) -> None:
        worker = worker_name()
        batch = self.records.claim(scan_id, number, worker)
        if batch is None:
            log.info("scan %s batch %s: not mine to run (done, running elsewhere, or gone)", scan_id, number)
            return
        stop = self._heartbeat(scan_id, number, worker)
        error: str | None = None
        try:
            requirements = [Requirement(line) for line in batch.requirements]
            with self.sessions() as session:
                progress = _BatchProgress(self.records, scan_id, number, worker)
                scan(session.oracle, requirements, batch.runtimes, progress, batch_size=len(requirements))
        except FarmError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("scan %s batch %s failed", scan_id, number)
            error = f"internal error ({type(exc).__name__}); the server log has it"
        finally:
            stop()
        self.records.finish(scan_id, number, worker, error)

    def _heartbeat(self, scan_id: str, number: int, worker: str) -> Callable[[], None]:
        stop = threading.Event()
        interval = max(min(self.records.lease.total_seconds() / 4, 5.0), 0.2)

        def beat() -> None:
            while not stop.wait(interval):
                self.records.heartbeat(scan_id, number, worker)

        threading.Thread(target=beat, daemon=True, name=f"scan-heartbeat-{scan_id}-{number}").start()
        return stop.set

    # Running in this process ----------------------------------------------------------------------------------

    def worker(self, threads: int) -> dramatiq.Worker:
        """A worker of the checks queue only (builds have their own: a long build never holds a scan back)."""
        worker = dramatiq.Worker(self.broker, queues={QUEUE}, worker_threads=threads, worker_timeout=500)
        worker.queue_prefetch = threads  # a batch takes a while: idle workers elsewhere get the rest
        return worker

    def run_here(self, threads: int, sweep_every: float) -> Callable[[], None]:
        """Embedded mode (no ``broker_url``): a checks worker in this process that first takes up what the last run
        left, and a sweep for silent batches; returns what stops both (a batch still running after ``STOP_SECONDS``
        is run again at the next start)."""
        worker = self.worker(threads)
        worker.start()
        resumed = self.recover()
        if resumed:
            log.info("scans: %d unfinished batch(es) resumed", resumed)
        stop_sweep = self.sweep(sweep_every)

        def stop() -> None:
            stop_sweep()
            worker.stop(timeout=int(STOP_SECONDS * 1000))

        return stop

    def sweep(self, every: float) -> Callable[[], None]:
        """Re-send the batches of silent workers every ``every`` seconds, on a thread; returns its stop."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                try:
                    taken = self.recover(stale_only=True)
                except Exception:
                    log.exception("scan sweep failed")
                    continue
                if taken:
                    log.info("scans: %d batch(es) of silent workers taken over", taken)

        threading.Thread(target=loop, daemon=True, name="scan-sweep").start()
        return stop.set


__all__ = ["QUEUE", "STOP_SECONDS", "ScanJobs"]
