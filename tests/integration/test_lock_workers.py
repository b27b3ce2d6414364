"""The lock worker processes (``farm.runtime.lock_workers``): errors cross the process boundary as raised, a worker
that dies is replaced and its request answered 503, the queue is bounded, the workers stop with the server."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from farm.context import Farm
from farm.errors import NotFound, Overloaded, ResolutionImpossible
from farm.runtime.lock_workers import LockWorkers
from farm.runtime.locking import lock_requirements
from farm.settings import Settings
from index_server.errors import error_headers, status_for
from tests.conftest import PYODIDE_VERSION


def wait_for_file(path: str, timeout: float) -> bool:
    """Runs in a worker: holds it until ``path`` exists (the test's signal), or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") != -1


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path / "data")
    Farm.open(settings).close()  # the schema
    yield settings


def test_errors_cross_the_process_boundary_as_raised(plain: Settings) -> None:
    farm = Farm.open(plain)
    try:
        with pytest.raises(NotFound) as here:
            lock_requirements([Requirement("anything")], PYODIDE_VERSION, farm.locks)
    finally:
        farm.close()
    workers = LockWorkers(plain, workers=1, nice=0)
    try:
        with pytest.raises(NotFound) as there:
            asyncio.run(workers.lock([Requirement("anything")], PYODIDE_VERSION, "pyodide-lock"))
    finally:
        workers.close()
    assert str(there.value) == str(here.value)
    assert "is not installed" in str(there.value)
    # An error with fields of its own keeps them (the 422 lists what could not be met).
    exc = asyncio.run(_raised(plain, ResolutionImpossible("cannot", (("a>1", None), ("b", "a 2")))))
    assert isinstance(exc, ResolutionImpossible) and exc.unsatisfied == (("a>1", None), ("b", "a 2"))


def _raise(exc: BaseException) -> None:
    raise exc


async def _raised(settings: Settings, exc: BaseException) -> BaseException:
    workers = LockWorkers(settings, workers=1, nice=0)
    try:
        await workers.call(_raise, exc)
    except BaseException as caught:
        return caught
    finally:
        workers.close()
    raise AssertionError("nothing was raised")


def test_a_worker_that_dies_is_replaced_and_its_request_answered_503(plain: Settings) -> None:
    async def scenario() -> tuple[int, int]:
        workers = LockWorkers(plain, workers=1, nice=0)
        try:
            before = await workers.call(os.getpid)
            with pytest.raises(Overloaded) as lost:
                await workers.call(os._exit, 3)  # the worker dies in the middle of a request
            assert "lost" in str(lost.value) and status_for(lost.value) == 503
            after = await workers.call(os.getpid)
            return before, after
        finally:
            workers.close()

    before, after = asyncio.run(scenario())
    assert before != after and gone(before) and gone(after)


def test_the_queue_is_bounded_and_a_full_one_answers_503_with_retry_after(
    plain: Settings, tmp_path: Path
) -> None:
    signal = tmp_path / "go"

    async def scenario() -> list[bool]:
        workers = LockWorkers(plain, workers=1, queue=1, nice=0)
        try:
            held = [asyncio.ensure_future(workers.call(wait_for_file, str(signal), 60)) for _ in range(2)]
            await asyncio.sleep(0)  # both are in hand now: one running or starting, one waiting
            with pytest.raises(Overloaded) as full:
                await workers.call(os.getpid)
            assert "lock_workers = 1, lock_queue = 1" in str(full.value)
            assert status_for(full.value) == 503
            assert (b"retry-after", str(full.value.retry_after).encode()) in error_headers(full.value)
            signal.touch()
            done = await asyncio.gather(*held)
            assert await workers.call(os.getpid) > 0  # room again
            return done
        finally:
            workers.close()

    assert asyncio.run(scenario()) == [True, True]


def test_close_stops_the_workers_and_refuses_more(plain: Settings) -> None:
    workers = LockWorkers(plain, workers=1, nice=0)
    pid = asyncio.run(workers.call(os.getpid))
    workers.close()
    assert gone(pid)
    with pytest.raises(Overloaded):
        asyncio.run(workers.call(os.getpid))


def test_workers_run_at_a_lower_priority(plain: Settings) -> None:
    workers = LockWorkers(plain, workers=1)
    try:
        niceness = asyncio.run(workers.call(os.nice, 0))
    finally:
        workers.close()
    assert niceness == os.nice(0) + 10
