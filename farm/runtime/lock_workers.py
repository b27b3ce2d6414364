"""Server-side locks computed in worker processes, so that their pure-Python work (resolution, METADATA parsing, lock
assembly and validation, the JSON or TOML of the answer) never holds the serving process's interpreter lock: pages
keep being served while locks are made.

``LockWorkers`` is the serving process's side: a ``ProcessPoolExecutor`` of ``lock_workers`` processes (``spawn``:
nothing of the server's threads, connections or open files is inherited), started on the first lock, each opening its
own database engine, catalog, blob store and ``LockPublisher`` from the settings (``_start_worker``) and running at
nice ``NICE``, so that on a small machine page serving wins the CPU. Each lock reads the database as it is now: a
worker keeps no cache of the catalog. At most ``lock_workers + lock_queue`` locks are in hand; one more is refused
with ``Overloaded`` (503, Retry-After), never queued without bound. The domain's errors (``ResolutionImpossible``
with what could not be met, ``NotFound``, ``InvalidDistribution``) cross the process boundary as they were raised,
so the answers are those of a lock made in the server itself. A worker that dies (killed, out of memory) breaks the
pool: it is replaced at once and the lock it was computing is answered ``Overloaded``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from packaging.requirements import Requirement

from farm.errors import FarmError, InternalError, Overloaded
from farm.index.render_lock import RenderLock
from farm.runtime.distribution import RuntimeStore
from farm.runtime.lock_index import LockIndex, servable_index
from farm.runtime.locking import canonical, lock_requirements, pylock_toml
from farm.runtime.manifest import use_recorded_targets
from farm.runtime.publish import LockPublisher
from farm.runtime.target import TARGETS, RuntimeTarget, target_for
from farm.settings import Settings
from farm.store.blobs import BlobStore
from farm.store.catalog import Catalog
from farm.store.database import make_engine

log = logging.getLogger(__name__)
NICE = 10  # added to a worker's niceness: a page request's CPU comes first
Format = Literal["pyodide-lock", "pylock"]


@dataclass(frozen=True)
class LockAnswer:
    """A server-side lock as it is sent: the body, its media type and, for a pyodide-lock.json, the sha256 it is kept
    under (``GET /r/<runtime>/lock/<digest>``)."""

    body: bytes
    media_type: str
    digest: str | None = None


def answer_lock(
    requirements: Sequence[Requirement], version: str, fmt: Format, locks: LockPublisher, public_url: str
) -> LockAnswer:
    """The lock of ``requirements`` on runtime ``version`` in ``fmt``; a pyodide-lock.json is kept (by its
    sha256) so a shared app can load exactly it later."""
    lock, files = lock_requirements(requirements, version, locks)
    if fmt == "pylock":
        return LockAnswer(pylock_toml(files, target_for(version), public_url).encode(), "application/toml")
    body = canonical(lock)
    return LockAnswer(body, "application/json", locks.blobs.put_bytes(body))


class _Worker:
    """What one worker process reads locks from, opened once from the settings."""

    current: ClassVar[_Worker | None] = None  # in a worker process: its own

    def __init__(self, settings: Settings) -> None:
        use_recorded_targets(settings.runtime_dir)  # a settings object unpickled here ran no validator
        blobs = BlobStore(settings.blob_dir)
        catalog = Catalog(make_engine(settings.resolved_database_url))
        runtimes = RuntimeStore(settings.www_dir, settings.runtime_dir, blobs)
        render_lock = RenderLock(settings.www_dir / ".render.lock")  # never taken: a worker writes no page
        self.locks = LockPublisher(
            runtimes, catalog, blobs, render_lock, settings.lock_precedence, settings.runtime_lock
        )
        self.public_url = settings.resolved_public_url


def _start_worker(settings: Settings, nice: int) -> None:
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C reaches the whole process group: the server stops us
    if nice:
        os.nice(nice)
    _Worker.current = _Worker(settings)


def _lock_in_worker(requirements: tuple[str, ...], target: RuntimeTarget, fmt: Format) -> LockAnswer:
    worker = _Worker.current
    assert worker is not None, "a lock worker runs _start_worker first"
    TARGETS.record(
        target
    )  # the server's view of the runtime, even of one installed since this worker started
    try:
        return answer_lock(
            [Requirement(r) for r in requirements], target.version, fmt, worker.locks, worker.public_url
        )
    except FarmError:
        raise  # crosses the process boundary as it is: the HTTP layer answers it as ever
    except Exception as exc:  # a bug; its traceback stays in this process's log, its message crosses
        log.exception("server-side lock of %s failed", ", ".join(requirements))
        raise InternalError(f"server-side lock failed: {type(exc).__name__}: {exc}") from None


def _index_in_worker(target: RuntimeTarget, stdlib: str | None) -> LockIndex:
    """The completion and imports index of everything the mirror serves for a runtime (``/r/<runtime>/-/projects``,
    ``/-/imports``): a lock of the whole catalog is made for it, work that grows with the catalog and is kept out
    of the serving process."""
    worker = _Worker.current
    assert worker is not None, "a lock worker runs _start_worker first"
    TARGETS.record(target)
    try:
        lock = worker.locks.build(target.version, scope="all").lock
        return servable_index(lock, Path(stdlib) if stdlib else None)
    except FarmError:
        raise
    except Exception as exc:
        log.exception("the package index of Pyodide %s failed", target.version)
        raise InternalError(f"package index failed: {type(exc).__name__}: {exc}") from None


class LockWorkers:
    """The serving process's handle on its lock workers (see the module's description). Used from one event loop."""

    def __init__(
        self, settings: Settings, workers: int | None = None, queue: int | None = None, nice: int = NICE
    ) -> None:
        self.settings = settings
        self.workers = workers or settings.resolved_lock_workers
        self.capacity = self.workers + (settings.lock_queue if queue is None else queue)
        self.nice = nice
        self._executor: ProcessPoolExecutor | None = None
        self._in_hand = 0
        self._seconds = 1.0  # a running estimate of one lock's time, for Retry-After
        self._closed = False

    async def lock(self, requirements: Sequence[Requirement], version: str, fmt: Format) -> LockAnswer:
        target = target_for(version)  # UnknownRuntime here, before any work is queued
        return await self.call(_lock_in_worker, tuple(str(r) for r in requirements), target, fmt)

    async def index(self, version: str, stdlib: Path | None) -> LockIndex:
        """The ``LockIndex`` of what the mirror serves for runtime ``version``, made in a worker."""
        target = target_for(version)
        return await self.call(_index_in_worker, target, str(stdlib) if stdlib else None)

    async def call[T](self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker (a module-level function, picklable arguments), within the bound."""
        if self._closed:
            raise Overloaded("the server is stopping and computes no more locks; retry in a moment")
        if self._in_hand >= self.capacity:
            waiting = self._in_hand - self.workers
            retry = max(1, math.ceil(self._seconds * (waiting + 1) / self.workers))
            raise Overloaded(
                f"{self._in_hand} server-side locks are being computed or waiting, as many as this server takes "
                f"(settings lock_workers = {self.workers}, lock_queue = {self.capacity - self.workers}); "
                f"retry in {retry} s",
                retry_after=retry,
            )
        self._in_hand += 1
        start = time.monotonic()
        try:
            result = await self._run(fn, args)
        finally:
            self._in_hand -= 1
        self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - start)
        return result

    async def _run[T](self, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        executor = self._pool()
        try:
            future = executor.submit(fn, *args)
        except (
            BrokenProcessPool
        ):  # a worker died while idle: nothing of this request ran, a fresh pool takes it
            executor = self._replace(executor)
            future = executor.submit(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise Overloaded(
                "the worker process computing this lock was lost (killed or crashed) and has been replaced; "
                "nothing was changed, retry"
            ) from exc

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.settings, self.nice),
            )
        return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        if self._executor is broken:  # not replaced already by another request that saw the same break
            log.error("a lock worker process died; starting a new pool of %d", self.workers)
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        return self._pool()

    def close(self) -> None:
        """Stop taking locks, let a running one finish, stop the workers (the server's shutdown)."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
