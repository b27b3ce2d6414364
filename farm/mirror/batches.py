"""Downloads side by side, catalog rows in batches: how a mirror run ingests thousands of files.

Each worker downloads a file into the blob store's temporary area (its sha256 computed as the bytes arrive), checks
it against upstream's hash and the archive limits, reads its METADATA and publishes its blob (``Ingestor.stage``).
This thread gathers the staged files and records their catalog rows in one transaction per batch: up to
``BatchLimits.files`` files, or what was staged within ``BatchLimits.seconds`` of the batch's first file, whichever
comes first, and whatever is left when the downloads are done. Workers never wait for the database.

A crash (even kill -9) between a blob and its row leaves an unreferenced blob, which the next run publishes without a
download; a file that fails is reported and the rest of its batch lands (``farm.store.ingest_batch``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from farm.errors import FarmError
from farm.store.catalog import Catalog, NewFile
from farm.store.ingest_batch import record


@dataclass(frozen=True)
class BatchLimits:
    """When a batch of catalog rows is written: at ``files`` staged files, or ``seconds`` after its first one."""

    files: int = 250
    seconds: float = 0.1


DEFAULT_LIMITS = BatchLimits()


@dataclass(frozen=True)
class Staged:
    """A file validated and in the blob store: its row to record, how it got there (downloaded or reused), its
    size in bytes downloaded."""

    new: NewFile
    outcome: str
    size: int


@dataclass(frozen=True)
class Done[Item]:
    """What became of one item: ``outcome`` (downloaded, reused or failed), bytes downloaded, the error if any."""

    item: Item
    outcome: str
    size: int = 0
    error: FarmError | None = None


def ingest_in_batches[Item](
    items: Sequence[Item],
    stage: Callable[[Item], Staged],
    catalog: Catalog,
    done: Callable[[Done[Item]], None],
    *,
    concurrency: int = 4,
    limits: BatchLimits = DEFAULT_LIMITS,
) -> int:
    """Stage ``items`` on ``concurrency`` threads and record them in batches; ``done`` hears of each item once it
    is recorded or has failed. Returns the number of batches (transactions) written."""
    batches = 0
    pending: list[tuple[Item, Staged]] = []
    deadline = 0.0

    def flush(count: int) -> None:
        nonlocal batches, deadline
        batch, pending[:] = pending[:count], pending[count:]
        outcomes = record(catalog, [staged.new for _item, staged in batch])
        batches += 1
        for (item, staged), recorded in zip(batch, outcomes, strict=True):
            if recorded.error is not None:
                done(Done(item, "failed", error=recorded.error))
            else:
                done(Done(item, staged.outcome, staged.size))
        deadline = time.monotonic() + limits.seconds  # for what is left, if anything

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        futures: dict[Future[Staged], Item] = {pool.submit(stage, item): item for item in items}
        waiting = set(futures)
        while waiting or pending:
            timeout = max(0.0, deadline - time.monotonic()) if pending else None
            finished, waiting = wait(waiting, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in finished:
                item = futures.pop(future)
                try:
                    staged = future.result()
                except FarmError as exc:
                    done(Done(item, "failed", error=exc))
                    continue
                if not pending:
                    deadline = time.monotonic() + limits.seconds
                pending.append((item, staged))
            while len(pending) >= limits.files:
                flush(limits.files)
            if pending and (not waiting or time.monotonic() >= deadline):
                flush(len(pending))
    finally:
        # On an unexpected error, files not yet downloaded are not started; staged ones not yet recorded are
        # unreferenced blobs, published by the next run without a download.
        pool.shutdown(wait=True, cancel_futures=True)
    return batches
