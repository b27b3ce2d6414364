"""The oracle and build requests wired from a ``Farm``: for the edges (the CLI, the app factory, jobs) only."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import dramatiq

from farm.compat.oracle import Oracle
from farm.compat.requests import BuildRequests, RecipeBuilds
from farm.compat.scan_jobs import ScanJobs
from farm.compat.scan_records import ScanRecords
from farm.compat.store import CheckStore
from farm.compat.tasks import CompatSession, Sessions
from farm.compat.trial import PyodideTrials
from farm.context import Farm
from farm.mirror.mirror import Mirror
from farm.mirror.trusted_lock import trusted_lock_source
from farm.mirror.upstream import UpstreamIndex
from farm.runtime.target import RuntimeTarget


def recipe_builds(farm: Farm) -> RecipeBuilds:
    return RecipeBuilds(farm.settings.recipe_dirs, farm.builds, farm.settings.data_dir / "builds")


def open_oracle(farm: Farm, upstream: UpstreamIndex | None) -> tuple[Oracle, PyodideTrials]:
    """The oracle over the farm's catalog, store and runtimes, and its trials (whose ``boots`` count runs)."""
    settings = farm.settings
    trials = PyodideTrials(
        settings.www_dir, farm.blobs, settings.runner_assets_dir, settings.check_seconds, farm.snapshots
    )
    oracle = Oracle(
        catalog=farm.catalog,
        blobs=farm.blobs,
        limits=farm.ingestor.limits,
        upstream=upstream,
        store=CheckStore(farm.engine),
        trials=trials,
        builds=recipe_builds(farm),
    )
    return oracle, trials


def build_requests(farm: Farm, upstream: UpstreamIndex, send: Callable[[int, str], None]) -> BuildRequests:
    settings = farm.settings
    return BuildRequests(
        upstream=upstream,
        blobs=farm.blobs,
        recipes_dir=settings.recipes_dir,
        generated_dir=settings.resolved_generated_recipes_dir,
        builders=farm.builders,
        states=farm.builds,
        send=send,
    )


def compat_sessions(farm: Farm, send: Callable[[int, str], None]) -> Sessions:
    """Sessions for the server's background tasks (``farm.compat.tasks``): each with an upstream index client of
    its own, so no task answers from a project page an earlier one read."""
    settings = farm.settings

    @contextlib.contextmanager
    def session() -> Iterator[CompatSession]:
        index = UpstreamIndex(settings.upstream_index, timeout=settings.http_timeout)
        try:
            trusted = trusted_lock_source(settings.upstream_pyodide_lock, index, settings.targets)

            def mirror_for(targets: Sequence[RuntimeTarget]) -> Mirror:
                return Mirror(farm, index, targets, trusted_lock=trusted())

            oracle, _trials = open_oracle(farm, index)
            yield CompatSession(oracle, build_requests(farm, index, send), mirror_for)
        finally:
            index.close()

    return session


def scan_jobs(
    farm: Farm, broker: dramatiq.Broker, send: Callable[[int, str], None], workers: int | None = None
) -> ScanJobs:
    """Batch scans as jobs on ``broker`` (the build farm's), each batch with a session of its own; batches are
    planned for ``workers`` workers (default ``compat_workers``)."""
    settings = farm.settings
    return ScanJobs(
        ScanRecords(farm.engine, settings.build_lease_seconds),
        compat_sessions(farm, send),
        broker,
        batch_size=settings.check_batch_size,
        workers=workers or settings.compat_workers,
    )
