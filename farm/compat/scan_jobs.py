"""Batch scans as dramatiq jobs: one message per batch ("run batch N of scan S") on the checks queue.

``broker_url`` unset: the stub broker of ``farm.build.jobs`` and a checks worker of ``compat_workers`` threads in
``wasmfarm serve``. ``redis://`` or ``amqp://``: every ``wasmfarm worker`` takes batches too, so a long scan spreads
over machines. The rows (``farm.compat.scan_records``) say what still needs doing: a duplicate or redelivered message
finds its batch claimed or done and does nothing; a batch whose worker died is taken over (at once when that was a
process of this host, else once its heartbeat has been silent for the lease); a stopping process hands back what it
still runs; a server started again re-sends what its last run left, and the scan goes on where it stopped.

A batch needs no time limit of its own: its trials have their deadline (``check_seconds`` per wheel, then the
sandbox is killed) and every upstream request its timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence

import dramatiq
from packaging.requirements import Requirement

from farm.build.jobs import worker_name
from farm.compat.scan import ScanProgress, scan
from farm.compat.scan_records import ScanRecords
from farm.compat.tasks import Sessions
from farm.compat.verdict import Verdict
from farm.errors import FarmError, Overloaded

log = logging.getLogger(__name__)
QUEUE = "wasmfarm-checks"
STOP_SECONDS = (
    10.0  # a stopping worker waits this long for running batches, then hands them back to the queue
)
RETRY_SECONDS = 5  # a batch whose claim failed (the database did not answer) is sent again after this long


class _TakenOver(Exception):
    """The batch was taken over by another worker (this one's heartbeat went silent): stop, keep nothing more."""


class _BatchProgress(ScanProgress):
    def __init__(
        self, records: ScanRecords, scan_id: str, number: int, worker: str, taken_over: threading.Event
    ) -> None:
        self.records, self.scan_id, self.number, self.worker = records, scan_id, number, worker
        self.taken_over = taken_over

    def advance(self, verdict: Verdict) -> None:
        if self.taken_over.is_set():
            raise _TakenOver
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
            max_retries=0,  # the rows decide what runs again; a batch that fails ends failed, with its reason
        )  # no time_limit: dramatiq enforces one only under its own command line (see the module's note)

    # Asking ---------------------------------------------------------------------------------------------------

    def submit(self, requirements: Sequence[Requirement], runtimes: Sequence[str]) -> tuple[str, bool]:
        """The scan's id, and whether it joined the same scan already queued or running."""
        scan_id, joined = self.records.create(
            [str(r) for r in requirements], runtimes, self.batch_size, self.workers
        )
        # A joined scan that shows no life lost its messages (a broker that restarted empty): asking again resends.
        numbers = self.records.stalled(scan_id) if joined else self.records.batches(scan_id)
        try:
            for number in numbers:
                self.send(scan_id, number)
        except Exception as exc:  # each broker's client raises errors of its own
            log.exception("scan %s: sending its batches failed", scan_id)
            raise Overloaded(
                f"scan {scan_id} is kept, but the job broker could not be reached ({type(exc).__name__}); its "
                "batches are sent when a worker starts, or when the same list is asked for again once it has "
                "waited build_lease_seconds",
                retry_after=30.0,
            ) from exc
        return scan_id, joined

    def send(self, scan_id: str, number: int, delay_ms: int | None = None) -> None:
        self.actor.send_with_options(args=(scan_id, number), delay=delay_ms)

    def recover(self, *, stale_only: bool = False) -> int:
        """Re-send the batches a stopped process left (an in-process broker forgets its messages): those queued, and
        those a process of this host that is gone was running; and, always, those whose worker went silent."""
        found = [] if stale_only else self.records.release(_gone_here(self.records.running_workers()))
        found += [b for b in self.records.recoverable(stale_only=stale_only) if b not in found]
        for scan_id, number in found:
            self.send(scan_id, number)
        return len(found)

    # Working --------------------------------------------------------------------------------------------------

    def _run(self, scan_id: str, number: int) -> None:
        self.run_batch(scan_id, number)

    def run_batch(self, scan_id: str, number: int) -> None:
        worker = worker_name()
        try:
            batch = self.records.claim(scan_id, number, worker)
        except Exception:  # the database did not answer: this message is used up, so send another
            log.exception(
                "scan %s batch %s: the claim failed; sent again in %d s", scan_id, number, RETRY_SECONDS
            )
            self.send(scan_id, number, delay_ms=RETRY_SECONDS * 1000)
            return
        if batch is None:
            log.info("scan %s batch %s: not mine to run (done, running elsewhere, or gone)", scan_id, number)
            return
        taken_over = threading.Event()
        stop = self._heartbeat(scan_id, number, worker, taken_over)
        error: str | None = None
        try:
            requirements = [Requirement(line) for line in batch.requirements]
            with self.sessions() as session:
                progress = _BatchProgress(self.records, scan_id, number, worker, taken_over)
                scan(session.oracle, requirements, batch.runtimes, progress, batch_size=len(requirements))
        except _TakenOver:
            log.warning("scan %s batch %s was taken over by another worker; this one stops", scan_id, number)
            return
        except FarmError as exc:
            error = str(exc)
        except Exception as exc:  # the farm's fault: the batch ends failed and says where to look
            log.exception("scan %s batch %s failed", scan_id, number)
            error = f"internal error ({type(exc).__name__}); the server log has it"
        finally:
            stop()
        self.records.finish(scan_id, number, worker, error)

    def _heartbeat(
        self, scan_id: str, number: int, worker: str, taken_over: threading.Event
    ) -> Callable[[], None]:
        """Beats every few seconds while the batch runs; sets ``taken_over`` once the batch is not ours any more."""
        stop = threading.Event()
        interval = max(min(self.records.lease.total_seconds() / 4, 5.0), 0.2)

        def beat() -> None:
            while not stop.wait(interval):
                try:
                    if not self.records.heartbeat(scan_id, number, worker):
                        taken_over.set()
                        return
                except Exception:  # a database hiccup: the next beat tries again
                    log.exception("scan %s batch %s: the heartbeat failed", scan_id, number)

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
        left, and a sweep for silent batches; returns what stops both."""
        worker = self.worker(threads)
        worker.start()
        resumed = self.recover()
        if resumed:
            log.info("scans: %d unfinished batch(es) resumed", resumed)
        stop_sweep = self.sweep(sweep_every)

        def stop() -> None:
            stop_sweep()
            self.stop_worker(worker)

        return stop

    def stop_worker(self, worker: dramatiq.Worker) -> None:
        """Stop a checks worker of this process. A batch still running ``STOP_SECONDS`` later is handed back to the
        queue, its counts reset: the next start (or another worker, with a broker) runs it again."""
        worker.stop(timeout=int(STOP_SECONDS * 1000))
        mine = f"{socket.gethostname()}:{os.getpid()}:"
        released = self.records.release([w for w in self.records.running_workers() if w.startswith(mine)])
        if released:
            log.info("scans: %d batch(es) still running handed back to the queue", len(released))

    def sweep(self, every: float) -> Callable[[], None]:
        """Re-send the batches of silent workers every ``every`` seconds, on a thread; returns its stop."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                try:
                    taken = self.recover(stale_only=True)
                except Exception:  # a database hiccup: the next sweep tries again
                    log.exception("scan sweep failed")
                    continue
                if taken:
                    log.info("scans: %d batch(es) of silent workers taken over", taken)

        threading.Thread(target=loop, daemon=True, name="scan-sweep").start()
        return stop.set


def _gone_here(workers: list[str]) -> list[str]:
    """The workers (``host:pid:thread``, ``farm.build.jobs.worker_name``) of processes of this host that are gone:
    their batches need not wait for the lease."""
    host = socket.gethostname()
    gone = []
    for worker in workers:
        name, _, rest = worker.partition(":")
        pid = rest.partition(":")[0]
        if name != host or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            gone.append(worker)
        except PermissionError:  # alive: another user's process
            continue
    return gone


__all__ = ["QUEUE", "STOP_SECONDS", "ScanJobs"]
