"""Batch scans as jobs (``farm.compat.scan_jobs``, ``farm.compat.scan_records``), on SQLite and PostgreSQL: how a list
is cut into batches, who may run a batch (one claimer; a silent one is taken over), progress and the end of a scan,
joining, failures kept in the scan, duplicate messages, and a worker of the stub broker running a whole scan."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from packaging.requirements import Requirement
from sqlalchemy import update
from sqlmodel import col

from farm.compat import scan_jobs
from farm.compat.scan_jobs import ScanJobs
from farm.compat.scan_records import ScanRecords, now, plan_batches
from farm.compat.tasks import CompatSession
from farm.compat.verdict import Code, Status, Verdict
from farm.context import Farm
from farm.errors import FarmError, Overloaded
from farm.store.models import CompatScan, CompatScanBatch

RUNTIME = "314.0.7"


@pytest.mark.parametrize(
    ("count", "batch_size", "workers", "sizes"),
    [
        (50, 20, 1, [17, 17, 16]),
        (50, 20, 2, [13, 13, 12, 12]),  # four batches: two workers end together
        (40, 20, 2, [20, 20]),
        (3, 20, 2, [2, 1]),
        (1, 20, 4, [1]),  # never more batches than requirements
        (7, 3, 1, [3, 2, 2]),
        (0, 20, 2, []),
    ],
)
def test_a_list_is_cut_into_even_batches_for_the_workers(
    count: int, batch_size: int, workers: int, sizes: list[int]
) -> None:
    names = [f"p{i}" for i in range(count)]
    batches = plan_batches(names, batch_size, workers)
    assert [len(b) for b in batches] == sizes
    assert [n for b in batches for n in b] == names  # every requirement once, in order


def test_a_batch_has_one_claimer_and_a_silent_one_is_taken_over(farm: Farm) -> None:
    records = ScanRecords(farm.engine, lease_seconds=60)
    scan_id, joined = records.create(["a", "b", "c"], [RUNTIME], batch_size=2, workers=1)
    again, joined_again = records.create(["c", "b", "a"], [RUNTIME], batch_size=2, workers=1)
    other, joined_other = records.create(["a", "b", "c"], ["0.29.3"], batch_size=2, workers=1)
    assert (
        (joined, joined_again, joined_other) == (False, True, False) and again == scan_id and other != scan_id
    )
    assert records.batches(scan_id) == [0, 1]
    assert sorted(records.recoverable()) == sorted([(scan_id, 0), (scan_id, 1), (other, 0), (other, 1)])
    assert records.recoverable(stale_only=True) == []

    first = records.claim(scan_id, 0, "worker-1")
    assert first is not None and first.requirements == ["a", "b"] and first.runtimes == [RUNTIME]
    assert records.claim(scan_id, 0, "worker-2") is None  # running, heartbeat fresh: not yours
    records.advance(scan_id, 0, "worker-1", "works")
    records.advance(scan_id, 0, "worker-2", "fails")  # not the claimer: ignored
    state = records.get(scan_id)
    assert state is not None and state["state"] == "running" and state["progress"] == {"done": 1, "total": 3}
    assert state["counts"] == {"works": 1} and "0 of 2 batches done, 1 running" in state["phase"]

    _silence(farm, scan_id, 0)  # worker-1 died: its heartbeat is older than the lease
    assert records.recoverable(stale_only=True) == [(scan_id, 0)]
    taken = records.claim(scan_id, 0, "worker-2")
    assert taken is not None
    assert records.get(scan_id)["progress"]["done"] == 0  # type: ignore[index]  # counted afresh
    assert not records.heartbeat(scan_id, 0, "worker-1")  # worker-1 woke up: the batch is not its any more
    records.finish(scan_id, 0, "worker-1")  # ignored
    assert records.get(scan_id)["state"] == "running"  # type: ignore[index]

    for status in ("works", "fails"):
        records.advance(scan_id, 0, "worker-2", status)
    records.finish(scan_id, 0, "worker-2")
    assert records.claim(scan_id, 0, "worker-3") is None  # done: a duplicate message runs nothing
    second = records.claim(scan_id, 1, "worker-3")
    assert second is not None and second.requirements == ["c"]
    records.advance(scan_id, 1, "worker-3", "works")
    records.finish(scan_id, 1, "worker-3")
    done = records.get(scan_id)
    assert done is not None and done["state"] == "done" and done["finished"] is not None, done
    assert done["progress"] == {"done": 3, "total": 3} and done["counts"] == {"works": 2, "fails": 1}
    assert records.create(["a", "b", "c"], [RUNTIME], 2, 1)[1] is False  # finished: a new request scans again
    assert records.get("no-such-scan") is None


def _silence(farm: Farm, scan_id: str, number: int) -> None:
    with farm.engine.begin() as connection:
        connection.execute(
            update(CompatScanBatch)
            .where(col(CompatScanBatch.scan_id) == scan_id, col(CompatScanBatch.number) == number)
            .values(heartbeat_at=now() - timedelta(minutes=5))
        )


class FakeOracle:
    """Verdicts without Pyodide: "explodes" raises what the farm's own fault would, "refused" a FarmError."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.lock = threading.Lock()

    def check(
        self, requirements: Sequence[Requirement], runtimes: Sequence[str], on_verdict: Any = None, **_: Any
    ) -> list[Verdict]:
        verdicts = []
        for requirement in requirements:
            name = requirement.name
            if name == "explodes":
                raise RuntimeError("boom")
            if name == "refused":
                raise FarmError("upstream refused the listing")
            with self.lock:
                self.checked.append(name)
            for runtime in runtimes:
                status = Status.FAILS if name.startswith("bad") else Status.WORKS
                verdict = Verdict(name, name, "1.0", runtime, status, Code.IMPORTED, "fine")
                if on_verdict is not None:
                    on_verdict(verdict)
                verdicts.append(verdict)
        return verdicts


def _jobs(farm: Farm, oracle: FakeOracle, workers: int = 2) -> ScanJobs:
    @contextlib.contextmanager
    def sessions() -> Iterator[CompatSession]:
        yield CompatSession(oracle, None, None)  # type: ignore[arg-type]

    return ScanJobs(
        ScanRecords(farm.engine, lease_seconds=60), sessions, StubBroker(), batch_size=2, workers=workers
    )


def _wait(jobs: ScanJobs, scan_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = jobs.records.get(scan_id)
        assert found is not None
        if found["state"] in ("done", "failed"):
            return found
        time.sleep(0.02)
    raise AssertionError(f"scan {scan_id} did not finish: {jobs.records.get(scan_id)}")


def _run_until_done(jobs: ScanJobs, scan_id: str) -> dict[str, Any]:
    """A process starting: a checks worker of one thread that takes up what is left, stopped once the scan ends."""
    stop = jobs.run_here(threads=1, sweep_every=60)
    try:
        return _wait(jobs, scan_id)
    finally:
        stop()


def test_a_worker_runs_every_batch_once_and_a_failed_batch_fails_the_scan_with_its_reason(farm: Farm) -> None:
    oracle = FakeOracle()
    jobs = _jobs(farm, oracle)
    stop = jobs.run_here(threads=2, sweep_every=60)
    try:
        names = ["good1", "bad1", "good2", "good3", "bad2"]
        scan_id, joined = jobs.submit([Requirement(n) for n in names], [RUNTIME, "0.29.3"])
        done = _wait(jobs, scan_id)
        failing, _ = jobs.submit(
            [Requirement(n) for n in ("good1", "explodes", "refused", "good4")], [RUNTIME]
        )
        failed = _wait(jobs, failing)
    finally:
        stop()
    assert not joined and done["state"] == "done", done
    assert done["progress"] == {"done": 10, "total": 10} and done["counts"] == {"works": 6, "fails": 4}
    assert sorted(oracle.checked[:5]) == sorted(names)  # each once: batches never overlap
    # batch 1 (good1, explodes) decided good1 and raised; batch 2 (refused, good4) was refused at once
    assert failed["state"] == "failed" and failed["progress"] == {"done": 1, "total": 4}, failed
    assert (
        "internal error (RuntimeError)" in failed["error"]
        and "upstream refused the listing" in failed["error"]
    )

    jobs.run_batch(scan_id, 0)  # a duplicate or redelivered message finds the batch done
    assert len(oracle.checked) == 5 + 1


def test_a_scan_left_unfinished_is_taken_up_by_the_next_worker(farm: Farm) -> None:
    """A server stopped mid-scan: one batch never started, one claimed by a worker that is gone."""
    oracle = FakeOracle()
    records = ScanRecords(farm.engine, lease_seconds=60)
    scan_id, _ = records.create(["good1", "good2", "bad1", "good3"], [RUNTIME], batch_size=2, workers=1)
    assert records.claim(scan_id, 0, "a-process-that-died") is not None
    records.advance(scan_id, 0, "a-process-that-died", "works")
    _silence(farm, scan_id, 0)
    jobs = _jobs(farm, oracle, workers=1)
    done = _run_until_done(jobs, scan_id)
    assert done["state"] == "done" and done["progress"] == {"done": 4, "total": 4}, done
    assert done["counts"] == {"works": 3, "fails": 1}
    assert sorted(oracle.checked) == ["bad1", "good1", "good2", "good3"]


def test_the_last_two_batches_ending_at_once_end_the_scan(farm: Farm) -> None:
    """In PostgreSQL each of two batches ending together saw the other still running, and the scan never ended."""
    records = ScanRecords(farm.engine, lease_seconds=60)
    for attempt in range(15):
        scan_id, _ = records.create([f"a{attempt}", f"b{attempt}"], [RUNTIME], batch_size=1, workers=2)
        assert records.claim(scan_id, 0, "w0") is not None and records.claim(scan_id, 1, "w1") is not None
        together = threading.Barrier(2)

        def end(number: int, scan_id: str = scan_id, together: threading.Barrier = together) -> None:
            together.wait()
            records.finish(scan_id, number, f"w{number}")

        threads = [threading.Thread(target=end, args=(n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        state = records.get(scan_id)
        assert state is not None and state["state"] == "done", (attempt, state)


class GatedOracle(FakeOracle):
    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def check(
        self, requirements: Sequence[Requirement], runtimes: Sequence[str], **kwargs: Any
    ) -> list[Verdict]:
        self.entered.set()
        assert self.gate.wait(30)
        return super().check(requirements, runtimes, **kwargs)


def test_a_stopping_process_hands_its_running_batch_back_and_the_next_start_runs_it(
    farm: Farm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_jobs, "STOP_SECONDS", 0.2)
    oracle = GatedOracle()
    jobs = _jobs(farm, oracle, workers=1)
    stop = jobs.run_here(threads=1, sweep_every=60)
    scan_id, _ = jobs.submit([Requirement("good1")], [RUNTIME])
    assert oracle.entered.wait(10)
    stop()  # the batch is still in its check
    handed_back = jobs.records.get(scan_id)
    oracle.gate.set()  # the old thread ends its check: what it says is not kept
    time.sleep(0.3)
    assert jobs.records.get(scan_id)["progress"]["done"] == 0  # type: ignore[index]
    again = _jobs(farm, oracle, workers=1)
    done = _run_until_done(again, scan_id)
    assert handed_back is not None and handed_back["state"] == "running", handed_back
    assert handed_back["phase"].startswith("queued: 0 of 1 batches done"), handed_back
    assert done["state"] == "done" and done["progress"] == {"done": 1, "total": 1}, done


def test_a_batch_of_a_process_of_this_host_that_is_gone_runs_at_once(farm: Farm) -> None:
    dead = subprocess.Popen(["true"])  # a process of this host that has ended
    dead.wait()
    records = ScanRecords(
        farm.engine, lease_seconds=3600
    )  # its heartbeat is fresh: only the pid says it is gone
    scan_id, _ = records.create(["good1", "good2"], [RUNTIME], batch_size=2, workers=1)
    assert records.claim(scan_id, 0, f"{socket.gethostname()}:{dead.pid}:1") is not None
    alive = records.create(["good3"], [RUNTIME], batch_size=2, workers=1)[0]
    assert (
        records.claim(alive, 0, f"{socket.gethostname()}:{os.getppid()}:1") is not None
    )  # alive: left alone
    oracle = FakeOracle()
    jobs = _jobs(farm, oracle, workers=1)
    jobs.records = records
    done = _run_until_done(jobs, scan_id)
    assert done["state"] == "done" and done["progress"] == {"done": 2, "total": 2}, done
    assert records.get(alive)["state"] == "running" and oracle.checked == ["good1", "good2"]  # type: ignore[index]


def test_asking_again_for_a_scan_whose_messages_were_lost_sends_them_again(farm: Farm) -> None:
    class Unreachable(StubBroker):
        def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
            raise ConnectionError("the broker is down")

    oracle = FakeOracle()
    down = ScanJobs(ScanRecords(farm.engine, 60), _jobs(farm, oracle).sessions, Unreachable(), batch_size=2,
                    workers=1)  # fmt: skip
    with pytest.raises(Overloaded, match="is kept, but the job broker could not be reached"):
        down.submit([Requirement("good1"), Requirement("good2")], [RUNTIME])
    jobs = _jobs(farm, oracle, workers=1)
    worker = jobs.worker(1)
    worker.start()  # a worker that does not recover at its start: only asking again helps
    try:
        scan_id, joined = jobs.submit([Requirement("good2"), Requirement("good1")], [RUNTIME])
        time.sleep(0.3)
        waiting = jobs.records.get(scan_id)  # the lease has not passed: maybe it is only waiting in a queue
        with farm.engine.begin() as connection:
            connection.execute(
                update(CompatScan)
                .where(col(CompatScan.id) == scan_id)
                .values(created_at=now() - timedelta(hours=1))
            )
        assert jobs.submit([Requirement("good1"), Requirement("good2")], [RUNTIME]) == (scan_id, True)
        done = _wait(jobs, scan_id)
    finally:
        worker.stop()
    assert joined and waiting is not None and waiting["state"] == "queued", waiting
    assert done["state"] == "done" and done["progress"] == {"done": 2, "total": 2}, done


def test_two_requests_for_the_same_list_at_once_make_one_scan(farm: Farm) -> None:
    records = ScanRecords(farm.engine, lease_seconds=60)
    for attempt in range(10):
        together = threading.Barrier(2)
        answers: list[tuple[str, bool]] = []

        def ask(
            attempt: int = attempt, together: threading.Barrier = together, answers: list[Any] = answers
        ) -> None:
            together.wait()
            answers.append(records.create([f"x{attempt}", "y"], [RUNTIME], batch_size=1, workers=1))

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({scan_id for scan_id, _ in answers}) == 1 and sorted(j for _, j in answers) == [
            False,
            True,
        ], (
            attempt,
            answers,
        )
